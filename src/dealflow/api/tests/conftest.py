"""An API client that speaks JSON, signed in by session or by bearer token."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dealflow.accounts.services import token_create


class ApiClient:
    def __init__(self, client: Client, *, token: str | None = None) -> None:
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def _send(self, method: str, path: str, payload=None, **query):
        url = f"/api/v1{path}"
        call = getattr(self.client, method)
        if method in ("get", "delete"):
            response = call(url, query or None, **self.headers)
        else:
            response = call(url, json.dumps(payload or {}), content_type="application/json", **self.headers)
        response.data = json.loads(response.content) if response.content else None
        return response

    def get(self, path: str, **query):
        return self._send("get", path, **query)

    def post(self, path: str, payload=None):
        return self._send("post", path, payload)

    def patch(self, path: str, payload=None):
        return self._send("patch", path, payload)

    def put(self, path: str, payload=None):
        return self._send("put", path, payload)

    def delete(self, path: str):
        return self._send("delete", path)


@pytest.fixture
def api_as():
    """``api_as(user)`` signs in with a session; ``api_as(user, scope="read")`` uses a bearer token."""

    def make(user=None, *, scope: str | None = None) -> ApiClient:
        client = Client()
        if user is None:
            return ApiClient(client)
        if scope:
            _, secret = token_create(user=user, name=f"{scope} script", scope=scope)
            return ApiClient(client, token=secret)
        client.force_login(user)
        return ApiClient(client)

    return make
