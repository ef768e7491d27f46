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


class ListedChoiceIterator(forms.models.ModelChoiceIterator):
    """A select's choices read with one plain query. Django's iterator() opens a server-side cursor on
    PostgreSQL (DECLARE, FETCH, CLOSE: three round trips) to stream what is a list of a few dozen rows; a
    deal page renders ten such selects."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for choice in self.queryset.all():
            yield self.choice(choice)


def choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """The form's choice field ``name``, typed as one (``form.fields`` holds plain Fields)."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


def model_choice_field(form: forms.BaseForm, name: str) -> forms.ModelChoiceField[Any]:
    """The form's model choice field ``name``, typed as one, to point it at the rows this user may pick."""
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    return field


def set_queryset(form: forms.Form, name: str, queryset: QuerySet[Any]) -> None:
    """Point a model choice field at the rows this user may pick (querysets depend on the user)."""
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    field.iterator = ListedChoiceIterator
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


class LocalizedDecimalField(forms.DecimalField):
    """A number typed the reader's way, grouping included: '15.000,50' in Dutch, '15,000.50' in English.

    Django strips the thousands separator only when USE_THOUSAND_SEPARATOR is on, which would also print
    ids as '1,276'; so the field strips it (and spaces) itself before Django reads the decimal separator.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs["localize"] = True
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            from django.utils import formats

            thousands = str(formats.get_format("THOUSAND_SEPARATOR"))
            decimal = str(formats.get_format("DECIMAL_SEPARATOR"))
            value = "".join(value.split())
            if thousands and thousands != decimal:
                value = value.replace(thousands, "")
        return super().to_python(value)
