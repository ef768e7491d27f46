"""The OpenAPI document lists the error answers (400/401/403/404/409/429) with their JSON shape."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from dealflow.api.urls import api

WRITES = {"post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema():
    return api.get_openapi_schema()


def test_the_document_stays_valid_openapi(schema):
    validate(json.loads(json.dumps(schema)))  # as /api/openapi.json serves it (status codes as strings)


def test_every_operation_documents_its_error_answers(schema):
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            wanted = {400, 403, 404, 429} | ({409} if method in WRITES else set())
            if operation.get("security"):
                wanted.add(401)
            documented = {int(code) for code in operation["responses"]}
            if not wanted <= documented:
                missing.append(f"{method.upper()} {path}: {sorted(wanted - documented)}")
    assert not missing, "\n".join(missing)


def test_authenticated_operations_document_401(schema):
    operation = schema["paths"]["/api/v1/deals/{deal_id}"]["get"]
    assert operation["security"]
    assert operation["responses"][401]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }
    assert 409 in schema["paths"]["/api/v1/deals/{deal_id}"]["patch"]["responses"]


def test_an_error_answer_matches_the_documented_shape(client, rep):
    client.force_login(rep)
    response = client.get("/api/v1/metrics/summary", {"period": "9999"})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "period"
    assert "period must lie between the years 1900 and 2999" in body["detail"]
    assert set(api.get_openapi_schema()["components"]["schemas"]["ErrorOut"]["required"]) <= set(body)
