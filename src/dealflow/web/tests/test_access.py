"""Every route rejects anonymous users (redirect to sign-in, 401 or 403) unless it is on the public list.

The test walks the URL resolver, so a route added tomorrow is checked without editing this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

# Routes anyone may open. Each entry is a URL name (namespace:name) and a reason.
PUBLIC = {
    "web:login": "the sign-in form",
    "web:logout": "signing out an anonymous visitor is harmless",
    "healthz": "load balancer health check, reveals nothing",
    "admin:login": "the admin sign-in form",
    "admin:logout": "signing out is harmless",
    "api:openapi-json": "the API description is public documentation",
    "api:openapi-view": "the API docs page",
    "api:api-root": "django-ninja's empty index, answers 404 to everyone",
}
PUBLIC["web:calendar_feed"] = "a calendar feed: the secret in its URL is the key, any other is a 404"
ACCEPTED_REDIRECTS = ("/login/", "/admin/login/")
SAMPLE_VALUES = {
    "int": "1",
    "str": "x",
    "slug": "x",
    "uuid": "00000000-0000-0000-0000-000000000001",
    "path": "x",
}


def _route_to_url(route: str) -> str:
    def replace(match: re.Match) -> str:
        converter = match.group(1) or "str"
        return SAMPLE_VALUES.get(converter, "1")

    return re.sub(r"<(?:(\w+):)?\w+>", replace, route)


def _regex_to_url(regex: str) -> str:
    def group(match: re.Match) -> str:
        body = match.group(1)
        if re.fullmatch(r"[\w|]+", body):
            return body.split("|")[0]  # an alternation of literals, e.g. the admin's app labels
        return "1"

    text = re.sub(r"\(\?P<\w+>((?:[^()]|\([^()]*\))*)\)", group, regex)
    return text.replace("^", "").replace("$", "").replace("\\", "")


def _piece(pattern) -> str:
    raw = str(pattern.pattern)
    if raw.startswith("^") or "(?P<" in raw or raw.endswith("$"):
        return _regex_to_url(raw)
    return _route_to_url(raw)


def walk(patterns=None, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    """Yield (url name, sample URL) for every route in the project."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace
            yield from walk(entry.url_patterns, prefix + _piece(entry), inner or namespace)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace else (entry.name or "")
            yield name or repr(entry.callback), "/" + prefix + _piece(entry)


ROUTES = sorted(set(walk()))


def test_the_walk_finds_the_routes_of_every_front_door():
    names = {name for name, _url in ROUTES}
    assert {"web:home", "web:login", "admin:index"} <= names
    assert any(url.startswith("/api/v1/") for _name, url in ROUTES)


@pytest.mark.parametrize(("name", "url"), ROUTES, ids=[f"{name} {url}" for name, url in ROUTES])
def test_route_rejects_anonymous_users(client, db, name, url):
    if name in PUBLIC:
        pytest.skip(f"public: {PUBLIC[name]}")
    try:
        resolve(url)
    except Resolver404:
        pytest.fail(f"the resolver walk built {url} for {name}, which does not resolve; extend SAMPLE_VALUES")
    for method in ("get", "post", "put", "patch", "delete"):
        response = getattr(client, method)(url)
        if response.status_code != 405:
            break
    if response.status_code in (301, 302, 303, 307, 308):
        assert response["Location"].startswith(ACCEPTED_REDIRECTS), (name, response["Location"])
    else:
        assert response.status_code in (401, 403), (name, url, method, response.status_code)
