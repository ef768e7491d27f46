"""The one error type the three front doors translate (API 400/409, form error, CLI exit 2)."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A rule of the domain refused the request; ``field`` names the input at fault."""

    status_code = 400

    def __init__(
        self, message: str, *, field: str | None = None, extra: dict[Any, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}

    def as_dict(self) -> dict[Any, Any]:
        data: dict[Any, Any] = {"detail": self.message, "field": self.field}
        data.update(self.extra)
        return data


class ConflictError(ApplicationError):
    """The record changed since the caller read it (stale version)."""

    status_code = 409


class PermissionDeniedError(ApplicationError):
    """The user may see the record but not do this to it."""

    status_code = 403
