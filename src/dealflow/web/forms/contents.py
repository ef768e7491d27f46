"""Forms of what a deal holds (lines, custom values, tags, quotes) and of the catalogue and field settings.

They only collect what the user typed; the services validate it and name the field at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from dealflow.customfields.models import CustomField, Entity, FieldKind
from dealflow.customfields.validation import value_text
from dealflow.products.models import Billing
from dealflow.quotes.models import AcceptAction, DeclineAction
from dealflow.web.forms import DateInput

LANGUAGES = [("", _("The customer's")), ("en", "English"), ("nl", "Nederlands")]


def prices_parse(text: str) -> dict[str, str]:
    """ "EUR 49.00" per line (or separated by ";") -> {"EUR": "49.00"}; the service checks each."""
    prices: dict[str, str] = {}
    for part in text.replace(";", "\n").splitlines():
        words = part.split()
        if not words:
            continue
        if len(words) != 2:
            raise forms.ValidationError(_("Write each price as a currency and an amount, e.g. EUR 49.00."))
        currency, amount = words
        if currency[:1].isdigit():
            currency, amount = amount, currency
        prices[currency.upper()] = amount
    return prices


def prices_text(product: Any) -> str:
    from dealflow.core.money import from_minor

    return "\n".join(
        f"{price.currency} {from_minor(price.unit_price_minor, price.currency)}"
        for price in product.prices.all()
    )


class ProductForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    code = forms.CharField(label=_("Code"), max_length=40)
    prices = forms.CharField(
        label=_("Unit prices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line: currency and amount, e.g. EUR 49.00"),
    )
    unit = forms.CharField(label=_("Unit"), max_length=40, required=False)
    tax_rate = forms.CharField(label=_("Tax rate (%)"), required=False, initial="21")
    billing = forms.ChoiceField(label=_("Billing"), choices=Billing.choices)
    term_months = forms.CharField(label=_("Term (months)"), required=False)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def clean_prices(self) -> dict[str, str]:
        return prices_parse(self.cleaned_data.get("prices") or "")


class CustomFieldForm(forms.Form):
    entity = forms.ChoiceField(label=_("For"), choices=Entity.choices)
    key = forms.CharField(
        label=_("Key"), max_length=40, help_text=_("Its name in the API, exports and imports")
    )
    label = forms.CharField(label=_("Label"), max_length=80)
    kind = forms.ChoiceField(label=_("Kind"), choices=FieldKind.choices)
    choices = forms.CharField(
        label=_("Options"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line"),
    )
    currency = forms.CharField(
        label=_("Currency"), max_length=3, required=False, help_text=_("For money fields")
    )
    pipeline = forms.TypedChoiceField(label=_("Pipeline"), required=False, coerce=int, empty_value=None)
    is_required = forms.BooleanField(label=_("Required"), required=False)
    help_text = forms.CharField(label=_("Help text"), max_length=200, required=False)

    def __init__(self, *args: Any, pipelines: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["pipeline"]).choices = [
            ("", _("Every pipeline")),
            *[(p.pk, p.name) for p in pipelines],
        ]


class CustomFieldUpdateForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=80)
    choices = forms.CharField(label=_("Options"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    is_required = forms.BooleanField(label=_("Required"), required=False)
    is_active = forms.BooleanField(label=_("Active"), required=False)


class QuoteForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGES, required=False)
    valid_until = forms.DateField(label=_("Valid until"), required=False, widget=DateInput())
    recipient_email = forms.CharField(label=_("Send to (e-mail)"), required=False, max_length=254)
    terms = forms.CharField(label=_("Terms"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class QuoteRuleForm(forms.Form):
    on_accept = forms.ChoiceField(label=_("When a quote is accepted"), choices=AcceptAction.choices)
    accept_stage = forms.TypedChoiceField(label=_("Stage"), required=False, coerce=int, empty_value=None)
    on_decline = forms.ChoiceField(label=_("When a quote is declined"), choices=DeclineAction.choices)
    decline_reason = forms.TypedChoiceField(
        label=_("Lost reason"), required=False, coerce=int, empty_value=None
    )

    def __init__(
        self, *args: Any, stages: Sequence[Any] = (), reasons: Sequence[Any] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["accept_stage"]).choices = [
            ("", "—"),
            *[(stage.pk, stage.name) for stage in stages],
        ]
        cast(forms.ChoiceField, self.fields["decline_reason"]).choices = [
            ("", "—"),
            *[(reason.pk, reason.name) for reason in reasons],
        ]


class TagsForm(forms.Form):
    tags = forms.CharField(
        label=_("Tags"), required=False, help_text=_("Separated by commas"), max_length=2000
    )


def custom_values_form(fields: list[CustomField], values: dict[str, Any], data: Any = None) -> forms.Form:
    """A form with one input per custom field, filled with the stored values (as text the user can edit)."""
    form = forms.Form(data=data)
    for field in fields:
        name = f"custom.{field.key}"
        value = values.get(field.key)
        label = f"{field.label} *" if field.is_required else field.label
        help_text = field.help_text or (f"{field.currency}" if field.kind == FieldKind.MONEY else "")
        if field.kind == FieldKind.LONG_TEXT:
            form_field: forms.Field = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
        elif field.kind == FieldKind.DATE:
            form_field = forms.CharField(widget=forms.DateInput(attrs={"type": "date"}))
        elif field.kind == FieldKind.CHOICE:
            form_field = forms.ChoiceField(
                choices=[("", "—"), *[(option, option) for option in field.choices]]
            )
        elif field.kind == FieldKind.MULTI_CHOICE:
            form_field = forms.MultipleChoiceField(
                choices=[(option, option) for option in field.choices], widget=forms.CheckboxSelectMultiple
            )
            value = value or []
        elif field.kind == FieldKind.CHECKBOX:
            form_field = forms.BooleanField()
        elif field.kind == FieldKind.NUMBER:
            form_field = forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal"}))
        elif field.kind == FieldKind.MONEY:
            form_field = forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal"}))
            value = value_text(field, value) if value is not None else ""
        elif field.kind == FieldKind.URL:
            form_field = forms.CharField(widget=forms.URLInput())
        elif field.kind == FieldKind.EMAIL:
            form_field = forms.CharField(widget=forms.EmailInput())
        else:
            form_field = forms.CharField()
        form_field.required = False
        form_field.label = label
        form_field.help_text = help_text
        form_field.initial = value
        form.fields[name] = form_field
    return form


def custom_values_submitted(fields: list[CustomField], data: Any) -> dict[str, Any]:
    """What the user sent for each field, raw, for the service to check."""
    values: dict[str, Any] = {}
    for field in fields:
        name = f"custom.{field.key}"
        if field.kind == FieldKind.MULTI_CHOICE:
            values[field.key] = data.getlist(name)
        elif field.kind == FieldKind.CHECKBOX:
            values[field.key] = name in data
        else:
            values[field.key] = data.get(name, "")
    return values


LINE_COLUMNS = (
    "product",
    "description",
    "quantity",
    "unit_price",
    "currency",
    "discount_percent",
    "tax_rate",
)


def lines_submitted(data: Any) -> list[dict[str, str]]:
    """Rows ``line-<n>-<column>`` of the lines editor, in order; rows left empty are dropped."""
    count = 0
    try:
        count = min(int(data.get("line-count", 0)), 200)
    except (TypeError, ValueError):
        count = 0
    rows = []
    for index in range(count):
        row = {column: str(data.get(f"line-{index}-{column}", "")).strip() for column in LINE_COLUMNS}
        if any(row.values()):
            rows.append(row)
    return rows


def add_custom_filters(form: forms.Form) -> list[CustomField]:
    """The deals list's filters on custom fields: equals for choices and checkboxes, a range for numbers,
    amounts and dates, contains-this-text for the rest. Names are DealFilters' ``cf_<key>[_from|_to]``."""
    from dealflow.customfields.selectors import custom_field_list

    custom_fields = custom_field_list(entity=Entity.DEAL, all_pipelines=True)
    for field in custom_fields:
        name = f"cf_{field.key}"
        if field.kind in (FieldKind.CHOICE, FieldKind.MULTI_CHOICE):
            form.fields[name] = forms.ChoiceField(
                label=field.label,
                required=False,
                choices=[("", _("Any")), *[(option, option) for option in field.choices]],
            )
        elif field.kind == FieldKind.CHECKBOX:
            form.fields[name] = forms.ChoiceField(
                label=field.label,
                required=False,
                choices=[("", _("Any")), ("yes", _("Yes")), ("no", _("No"))],
            )
        elif field.kind in (FieldKind.NUMBER, FieldKind.MONEY, FieldKind.DATE):
            widget = DateInput if field.kind == FieldKind.DATE else forms.TextInput
            form.fields[f"{name}_from"] = forms.CharField(
                label=_("%(label)s from") % {"label": field.label}, required=False, widget=widget()
            )
            form.fields[f"{name}_to"] = forms.CharField(
                label=_("%(label)s to") % {"label": field.label}, required=False, widget=widget()
            )
        elif field.kind != FieldKind.LONG_TEXT:
            form.fields[name] = forms.CharField(label=field.label, required=False)
    return custom_fields
