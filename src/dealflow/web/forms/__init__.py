"""Forms of the web UI: the shape of HTML input (GUIDE.md); services do the validating that matters.

An ``ApplicationError`` from a service becomes an error next to the field it names
(``form_add_application_error``), or a form-wide error when no field of the form carries that name.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from dealflow.core.errors import ApplicationError


def form_add_application_error(
    form: forms.Form, error: ApplicationError, *, field_map: dict[str, str] | None = None
) -> None:
    """Show a service's error next to the field it names (``field_map`` renames service fields)."""
    name = (field_map or {}).get(error.field or "", error.field)
    form.add_error(name if name in form.fields else None, error.message)


# The queryset of a model choice field that depends on the user is set in __init__ (set_queryset).
EMPTY: Any = None


def set_queryset(form: forms.Form, name: str, queryset: QuerySet[Any]) -> None:
    """Point a model choice field at the rows this user may pick (querysets depend on the user)."""
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    field.queryset = queryset


class DateInput(forms.DateInput):
    """A browser date picker; the value travels as ISO 8601 whatever the language."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")
