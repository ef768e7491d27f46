"""Reading filter parameters from a QueryDict or dict, with the parameter named in the error.

Kept for the selectors that import it; the readers live in ``dealflow.core.parameters``.
"""

from __future__ import annotations

from dealflow.core.parameters import (
    boolean_parameter,
    choice_parameter,
    date_parameter,
    id_parameter,
    integer_parameter,
    period_parameter,
    text_parameter,
)

__all__ = [
    "boolean_parameter",
    "choice_parameter",
    "date_parameter",
    "id_parameter",
    "integer_parameter",
    "period_parameter",
    "text_parameter",
]
