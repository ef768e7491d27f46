"""Forms of the organization and person pages, and the autocomplete picker other forms use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from dealflow.accounts.models import User
from dealflow.accounts.selectors import team_list_visible, user_list_visible
from dealflow.web.forms import EMPTY, DateTimeInput, set_queryset


class ContactPicker(forms.TextInput):
    """A text box that suggests organizations (or people) as one types (HTMX); a new name creates one."""

    template_name = "web/contacts/_picker.html"

    def __init__(self, attrs: dict[str, Any] | None = None, *, source: str = "web:organization_autocomplete"):
        super().__init__(attrs)
        self.source = source

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["source_url"] = reverse(self.source)
        return context


class UserChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.display_name


ORGANIZATION_ORDER_CHOICES = [
    ("", _("Name")),
    ("-name", _("Name, Z to A")),
    ("country", _("Country")),
    ("-created_at", _("Newest first")),
    ("created_at", _("Oldest first")),
]
PERSON_ORDER_CHOICES = [
    ("", _("Name")),
    ("-name", _("Name, Z to A")),
    ("organization", _("Organization")),
    ("-created_at", _("Newest first")),
    ("created_at", _("Oldest first")),
]


class ContactFilterForm(forms.Form):
    """Filters of the organization and person lists; the selectors check them again."""

    q = forms.CharField(label=_("Search"), required=False)
    owner = UserChoice(queryset=EMPTY, label=_("Owner"), required=False, empty_label=_("Anyone"))
    team = forms.ModelChoiceField(queryset=EMPTY, label=_("Team"), required=False, empty_label=_("Any"))
    country = forms.CharField(
        label=_("Country"), required=False, max_length=60, widget=forms.TextInput(attrs={"placeholder": "NL"})
    )
    tag = forms.CharField(label=_("Tag"), required=False)
    order = forms.ChoiceField(label=_("Sort by"), required=False, choices=ORGANIZATION_ORDER_CHOICES)

    def __init__(self, *args: Any, user: User, people: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "owner", user_list_visible(user=user).order_by("first_name", "last_name", "id"))
        set_queryset(self, "team", team_list_visible(user=user).order_by("name"))
        if people:
            order_field = self.fields["order"]
            assert isinstance(order_field, forms.ChoiceField)
            order_field.choices = PERSON_ORDER_CHOICES

    def filters(self) -> dict[str, Any]:
        """Keyword arguments of organization_list_for_user / person_list_for_user (valid form only)."""
        data = self.cleaned_data
        return {
            "search": data["q"].strip() or None,
            "owner_id": data["owner"].pk if data["owner"] else None,
            "team_id": data["team"].pk if data["team"] else None,
            "country": data["country"].strip() or None,
            "tag": data["tag"].strip() or None,
            "order": data["order"] or None,
        }


class OrganizationForm(forms.Form):
    """A new organization, or the edited one; the service checks every value and names the field."""

    name = forms.CharField(label=_("Name"), max_length=200)
    website = forms.CharField(label=_("Website"), max_length=200, required=False)
    industry = forms.CharField(label=_("Industry"), max_length=80, required=False)
    country = forms.CharField(
        label=_("Country"), max_length=60, required=False, help_text=_("ISO code, e.g. NL")
    )
    owner = UserChoice(
        queryset=EMPTY, label=_("Owner"), required=False, empty_label=_("The company (everybody)")
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "owner", user_list_visible(user=user).order_by("first_name", "last_name", "id"))


class PersonForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    job_title = forms.CharField(label=_("Job title"), max_length=120, required=False)
    organization = forms.CharField(
        label=_("Organization"), max_length=200, required=False, widget=ContactPicker()
    )
    owner = UserChoice(
        queryset=EMPTY, label=_("Owner"), required=False, empty_label=_("The company (everybody)")
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "owner", user_list_visible(user=user).order_by("first_name", "last_name", "id"))


class ActivityQuickForm(forms.Form):
    """A call, meeting, e-mail, task or note from My activities: about one of the user's open deals, or none."""

    kind = forms.ChoiceField(label=_("Kind"), choices=[])
    subject = forms.CharField(label=_("Subject"), max_length=200)
    due_at = forms.DateTimeField(label=_("Due"), required=False, widget=DateTimeInput)
    deal = forms.ModelChoiceField(queryset=EMPTY, label=_("Deal"), required=False, empty_label=_("No deal"))
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, deals: Any, kinds: Sequence[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind_field = self.fields["kind"]
        assert isinstance(kind_field, forms.ChoiceField)
        kind_field.choices = kinds
        set_queryset(self, "deal", deals)
