"""Lead forms: new lead, qualification checklist, convert to deal, disqualify."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dealflow.accounts.models import User
from dealflow.accounts.selectors import user_list_visible
from dealflow.deals.selectors import lead_source_list, pipeline_list
from dealflow.web.forms import EMPTY, DateInput, LocalizedDecimalField, set_queryset
from dealflow.web.forms.contacts import ContactPicker
from dealflow.web.forms.deals import UserChoiceField

CHECKLIST = [
    ("has_budget", _("Budget"), _("There is money for this, or a way to get it.")),
    ("has_authority", _("Authority"), _("We talk to the person who decides, or know the decision process.")),
    ("has_need", _("Need"), _("The buyer has a problem we solve and wants it solved.")),
    ("has_timeline", _("Timeline"), _("There is a date by which the buyer wants to decide.")),
]


class LeadChecklistForm(forms.Form):
    """Budget, authority, need, timeline (BANT) and notes."""

    has_budget = forms.BooleanField(label=_("Budget"), required=False)
    has_authority = forms.BooleanField(label=_("Authority"), required=False)
    has_need = forms.BooleanField(label=_("Need"), required=False)
    has_timeline = forms.BooleanField(label=_("Timeline"), required=False)
    qualification_notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, _label, help_text in CHECKLIST:
            self.fields[name].help_text = help_text


class LeadCreateForm(LeadChecklistForm):
    title = forms.CharField(label=_("Title"), max_length=200)
    source = forms.ModelChoiceField(queryset=EMPTY, label=_("Source"), empty_label=_("Pick a source"))
    organization = forms.CharField(
        label=_("Organization"), max_length=200, required=False, widget=ContactPicker()
    )
    owner = UserChoiceField(queryset=EMPTY, label=_("Owner"))

    field_order = ["title", "source", "organization", "owner"]

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "source", lead_source_list())
        set_queryset(self, "owner", user_list_visible(user=user))


class LeadConvertForm(LeadChecklistForm):
    """Qualify (if not yet) and convert: the deal's title, pipeline, amount and expected close date."""

    title = forms.CharField(label=_("Deal title"), max_length=200)
    pipeline = forms.ModelChoiceField(queryset=EMPTY, label=_("Pipeline"), empty_label=None)
    amount = LocalizedDecimalField(label=_("Amount"), min_value=0, decimal_places=3, required=False)
    currency = forms.CharField(label=_("Currency"), max_length=3, min_length=3, initial="EUR")
    expected_close_on = forms.DateField(label=_("Expected close date"), required=False, widget=DateInput)

    field_order = ["title", "pipeline", "amount", "currency", "expected_close_on"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "pipeline", pipeline_list())


class LeadDisqualifyForm(forms.Form):
    reason = forms.CharField(label=_("Why is this lead not a fit?"), max_length=300)
