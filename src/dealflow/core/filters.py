"""Reading filter parameters from a QueryDict or dict, with the parameter named in the error."""

from __future__ import annotations

from typing import Any

from dealflow.core.errors import ApplicationError


def integer_parameter(data: Any, name: str) -> int | None:
    """``data[name]`` as an integer; None when missing or empty; an ApplicationError naming it otherwise."""
    value = data.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise ApplicationError(f"{name} must be a number.", field=name) from error
