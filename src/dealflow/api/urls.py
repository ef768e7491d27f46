"""The REST API: /api/v1/..., OpenAPI at /api/openapi.json, docs at /api/docs."""

from __future__ import annotations

from django.db import DataError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, Throttled, ValidationError

from dealflow.api import routers
from dealflow.api.base import AUTH, THROTTLES, ApiRequest
from dealflow.core.errors import ApplicationError

ERROR_RESPONSES = {
    400: "The input was refused: `detail` says why, `field` names the parameter or field at fault.",
    401: "Sign in or send a valid bearer token.",
    403: "Your role or token may not do this (a read token may only read).",
    404: "No such record, or one you may not see.",
    409: "The record changed since you read it (send the version you read), or the action conflicts.",
    429: "Too many requests; slow down (see Retry-After).",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}
ERROR_SCHEMA = {
    "title": "ErrorOut",
    "type": "object",
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "field": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Field"},
    },
    "required": ["detail"],
}


class DealflowAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document lists the error answers each operation can give."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["ErrorOut"] = ERROR_SCHEMA
        for operations in schema["paths"].values():
            for method, operation in operations.items():
                codes = [400, 403, 404, 429]  # 404: a record in the path or a filter that names none
                if operation.get("security"):
                    codes.append(401)
                if method in WRITE_METHODS:
                    codes.append(409)
                responses = operation.setdefault("responses", {})
                for code in sorted(codes):
                    responses.setdefault(
                        code,
                        {
                            "description": ERROR_RESPONSES[code],
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
                            },
                        },
                    )
        return schema


api = DealflowAPI(
    title="Dealflow API",
    version="1",
    description="Pipelines, deals, leads, metrics, forecasts, reviews and team pulse. "
    "Authenticate with the browser session or `Authorization: Bearer <token>` (see `dealflow token create`).",
    auth=AUTH,
    throttle=THROTTLES,
    urls_namespace="api",
)


@api.exception_handler(ApplicationError)
def application_error(request: ApiRequest, error: ApplicationError):
    return api.create_response(request, error.as_dict(), status=error.status_code)


@api.exception_handler(Http404)
def not_found(request: ApiRequest, error):
    return api.create_response(request, {"detail": "Not found.", "field": None}, status=404)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: ApiRequest, error):
    return api.create_response(
        request, {"detail": "Sign in or send a valid bearer token.", "field": None}, status=401
    )


@api.exception_handler(ValidationError)
def invalid_input(request: ApiRequest, error: ValidationError):
    first = error.errors[0] if error.errors else {}
    location = [
        str(part) for part in first.get("loc", []) if part not in ("body", "query", "path", "payload")
    ]
    field = ".".join(location) or None
    message = first.get("msg", "Invalid input.")
    return api.create_response(
        request,
        {"detail": f"{field}: {message}" if field else message, "field": field, "errors": error.errors},
        status=400,
    )


@api.exception_handler(OverflowError)
def number_out_of_range(request: ApiRequest, error):
    # A number past 64 bits reaches the database driver only as an id or filter; it matches nothing.
    return api.create_response(request, {"detail": "A number is out of range.", "field": None}, status=400)


@api.exception_handler(DataError)
def database_refused_value(request: ApiRequest, error):
    return api.create_response(
        request, {"detail": "A value is out of range or malformed.", "field": None}, status=400
    )


@api.exception_handler(Throttled)
def throttled(request: ApiRequest, error: Throttled):
    return api.create_response(
        request, {"detail": "Too many requests; slow down.", "field": None}, status=429
    )


for prefix, router in routers.ROUTERS:
    api.add_router(prefix, router)
