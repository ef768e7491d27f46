"""Deal forms: the list's filters and bulk actions, the deal page's in-place fields and actions, new deal."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _

from dealflow.accounts.models import User
from dealflow.accounts.selectors import team_list_visible, user_list_visible
from dealflow.contacts.selectors import person_list_for_user
from dealflow.customfields.models import CustomField
from dealflow.deals.models import ActivityKind, Deal, DealStatus, ForecastCategory, LeadSource, Stage
from dealflow.deals.selectors import lead_source_list, lost_reason_list, pipeline_list, stage_list
from dealflow.products.selectors import product_list
from dealflow.web.forms import EMPTY, DateInput, DateTimeInput, LocalizedDecimalField, set_queryset
from dealflow.web.forms.contacts import ContactPicker
from dealflow.web.forms.contents import add_custom_filters


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.display_name


class StageChoiceField(forms.ModelChoiceField):
    """Stages labelled with their pipeline when there is more than one pipeline."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.pipeline.name} › {obj.name}"


# ---- Deals list ----------------------------------------------------------------------------------

STATUS_CHOICES = [("", _("Any status")), *DealStatus.choices]


class DealFilterForm(forms.Form):
    """The board's filters (deals.selectors.DealFilters) as controls; DealFilters does the parsing."""

    q = forms.CharField(label=_("Search"), required=False)
    pipeline = forms.ModelChoiceField(
        queryset=EMPTY, label=_("Pipeline"), required=False, empty_label=_("All")
    )
    stage = StageChoiceField(queryset=EMPTY, label=_("Stage"), required=False, empty_label=_("Any"))
    owner = UserChoiceField(queryset=EMPTY, label=_("Owner"), required=False, empty_label=_("Anyone"))
    team = forms.ModelChoiceField(queryset=EMPTY, label=_("Team"), required=False, empty_label=_("Any"))
    status = forms.ChoiceField(choices=STATUS_CHOICES, label=_("Status"), required=False)
    source = forms.ModelChoiceField(
        queryset=EMPTY, label=_("Source"), required=False, empty_label=_("Any"), to_field_name="key"
    )
    period = forms.CharField(
        label=_("Expected close"),
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("2026-11, 2026-Q3, 2026")}),
    )
    mine = forms.BooleanField(label=_("My deals"), required=False)
    tag = forms.CharField(label=_("Tag"), required=False)
    product = forms.ModelChoiceField(queryset=EMPTY, label=_("Product"), required=False, empty_label=_("Any"))

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "product", product_list(include_inactive=True))
        # cf_<key> (and _from/_to) for the deal custom fields (forms/contents.py)
        self.custom_fields: list[CustomField] = add_custom_filters(self)
        set_queryset(self, "pipeline", pipeline_list())
        set_queryset(self, "stage", stage_list())
        set_queryset(self, "owner", user_list_visible(user=user))
        set_queryset(self, "team", team_list_visible(user=user))
        set_queryset(self, "source", lead_source_list())


class IdListField(forms.Field):
    """Ticked row ids (``name="deal"`` on each checkbox) as a list of integers."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        try:
            return [int(item) for item in value or []]
        except (TypeError, ValueError) as error:
            raise forms.ValidationError(_("Pick deals from the list.")) from error

    def validate(self, value: list[int]) -> None:
        if not value:
            raise forms.ValidationError(_("Tick at least one deal."))


class DealBulkForm(forms.Form):
    """One bulk action applied to the ticked deals, deal by deal, through the services."""

    ACTIONS: ClassVar = [
        ("owner", _("Reassign owner")),
        ("stage", _("Move to stage")),
        ("close_date", _("Change expected close date")),
        ("tag", _("Add tags")),
    ]

    deal = IdListField(label=_("Deals"))
    action = forms.ChoiceField(choices=ACTIONS, label=_("Action"))
    owner = UserChoiceField(queryset=EMPTY, label=_("New owner"), required=False, empty_label=_("Pick…"))
    stage = StageChoiceField(queryset=EMPTY, label=_("New stage"), required=False, empty_label=_("Pick…"))
    expected_close_on = forms.DateField(label=_("New close date"), required=False, widget=DateInput)
    tags = forms.CharField(
        label=_("Tags"), required=False, max_length=2000, help_text=_("Separated by commas")
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "owner", user_list_visible(user=user))
        set_queryset(self, "stage", stage_list().filter(kind="open"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        needed = {"owner": "owner", "stage": "stage", "tag": "tags"}.get(data.get("action") or "")
        if needed and not data.get(needed):
            self.add_error(needed, _("Pick a value for this action."))
        return data


# ---- Deal page: one small form per in-place field --------------------------------------------------


class DealFieldForm(forms.Form):
    """Base of the in-place forms: ``update_data`` is what ``deal_update`` receives."""

    field_key: ClassVar[str] = ""
    label: ClassVar[Any] = ""

    def __init__(self, *args: Any, user: User, deal: Deal, **kwargs: Any) -> None:
        kwargs.setdefault("initial", self.initial_for(deal))
        kwargs.setdefault("prefix", f"f-{self.field_key}")
        super().__init__(*args, **kwargs)
        self.user = user
        self.deal = deal

    @classmethod
    def initial_for(cls, deal: Deal) -> dict[str, Any]:
        return {name: getattr(deal, name) for name in cls.base_fields}

    def update_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)

    def submitted_values(self) -> dict[str, str]:
        """The user's values, shown as "yours" when the deal changed meanwhile (keys of deal_values)."""
        return {self.field_key: " ".join(str(value) for value in self.cleaned_data.values() if value)}


class DealTitleForm(DealFieldForm):
    field_key = "title"
    label = _("Title")
    title = forms.CharField(label=_("Title"), max_length=200)


class DealAmountForm(DealFieldForm):
    field_key = "amount"
    label = _("Amount")
    amount = LocalizedDecimalField(label=_("Amount"), min_value=0, decimal_places=3)
    currency = forms.CharField(label=_("Currency"), max_length=3, min_length=3)

    @classmethod
    def initial_for(cls, deal: Deal) -> dict[str, Any]:
        from dealflow.core.money import from_minor

        return {"amount": from_minor(deal.amount_minor, deal.currency), "currency": deal.currency}

    def submitted_values(self) -> dict[str, str]:
        return {"amount": f"{self.cleaned_data['amount']} {self.cleaned_data['currency'].upper()}"}


class DealCloseDateForm(DealFieldForm):
    field_key = "expected_close_on"
    label = _("Expected close")
    expected_close_on = forms.DateField(label=_("Expected close date"), required=False, widget=DateInput)

    def submitted_values(self) -> dict[str, str]:
        value = self.cleaned_data["expected_close_on"]
        return {"expected_close_on": value.isoformat() if value else ""}


class DealOwnerForm(DealFieldForm):
    field_key = "owner"
    label = _("Owner")
    owner = UserChoiceField(queryset=EMPTY, label=_("Owner"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(
            self, "owner", user_list_visible(user=self.user) | User.objects.filter(pk=self.deal.owner_id)
        )

    def submitted_values(self) -> dict[str, str]:
        return {"owner": self.cleaned_data["owner"].display_name}


class DealOrganizationForm(DealFieldForm):
    """The organization by name: an existing one the user can see, or a new one (the view resolves it)."""

    field_key = "organization"
    label = _("Organization")
    organization = forms.CharField(
        label=_("Organization"), max_length=200, required=False, widget=ContactPicker()
    )

    @classmethod
    def initial_for(cls, deal: Deal) -> dict[str, Any]:
        return {"organization": deal.organization.name if deal.organization else ""}


class DealPersonForm(DealFieldForm):
    field_key = "person"
    label = _("Contact person")
    person = forms.ModelChoiceField(
        queryset=EMPTY, label=_("Contact person"), required=False, empty_label=_("Nobody")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = person_list_for_user(user=self.user, organization_id=self.deal.organization_id or 0)
        if self.deal.person_id:
            people = people | person_list_for_user(user=self.user).filter(pk=self.deal.person_id)
        set_queryset(self, "person", people)

    def submitted_values(self) -> dict[str, str]:
        person = self.cleaned_data["person"]
        return {"person": str(person) if person else ""}


class DealSourceForm(DealFieldForm):
    field_key = "source"
    label = _("Source")
    source = forms.ModelChoiceField(
        queryset=LeadSource.objects.none(), label=_("Source"), required=False, empty_label=_("Unknown")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "source", lead_source_list())

    def submitted_values(self) -> dict[str, str]:
        source = self.cleaned_data["source"]
        return {"source": source.name if source else ""}


class DealProbabilityForm(DealFieldForm):
    field_key = "probability"
    label = _("Probability")
    probability_override = forms.IntegerField(
        label=_("Probability (%)"),
        min_value=0,
        max_value=100,
        required=False,
        help_text=_("Leave empty to use the stage's probability."),
    )

    def submitted_values(self) -> dict[str, str]:
        value = self.cleaned_data["probability_override"]
        return {"probability": "" if value is None else str(value)}


CATEGORY_CHOICES = [
    ("", _("Stage default")),
    *[(value, label) for value, label in ForecastCategory.choices if value != ForecastCategory.CLOSED],
]


class DealCategoryForm(DealFieldForm):
    field_key = "forecast_category"
    label = _("Forecast category")
    forecast_category_override = forms.ChoiceField(
        choices=CATEGORY_CHOICES, label=_("Forecast category"), required=False
    )

    def submitted_values(self) -> dict[str, str]:
        return {"forecast_category": self.cleaned_data["forecast_category_override"]}


class DealNextStepForm(DealFieldForm):
    field_key = "next_step"
    label = _("Next step")
    next_step = forms.CharField(label=_("Next step"), max_length=200, required=False)
    next_step_on = forms.DateField(label=_("By"), required=False, widget=DateInput)

    def submitted_values(self) -> dict[str, str]:
        day = self.cleaned_data["next_step_on"]
        return {
            "next_step": self.cleaned_data["next_step"],
            "next_step_on": day.isoformat() if day else "",
        }


class DealLostNoteForm(DealFieldForm):
    field_key = "lost_note"
    label = _("Lost note")
    lost_note = forms.CharField(
        label=_("Lost note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


DEAL_FIELD_FORMS: dict[str, type[DealFieldForm]] = {
    form.field_key: form
    for form in [
        DealTitleForm,
        DealAmountForm,
        DealCloseDateForm,
        DealOwnerForm,
        DealOrganizationForm,
        DealPersonForm,
        DealSourceForm,
        DealProbabilityForm,
        DealCategoryForm,
        DealNextStepForm,
        DealLostNoteForm,
    ]
}


# ---- Deal page: actions --------------------------------------------------------------------------


class DealActionForm(forms.Form):
    """Base of the stage/win/lose/reopen forms; ``submitted_values`` feeds the conflict view."""

    def __init__(self, *args: Any, deal: Deal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deal = deal

    def submitted_values(self) -> dict[str, str]:
        return {}


class DealStageForm(DealActionForm):
    stage = forms.ModelChoiceField(queryset=Stage.objects.none(), label=_("Stage"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "stage", stage_list(pipeline_id=self.deal.pipeline_id).filter(kind="open"))

    def submitted_values(self) -> dict[str, str]:
        return {"stage": self.cleaned_data["stage"].name}


class DealWonForm(DealActionForm):
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def submitted_values(self) -> dict[str, str]:
        return {"status": DealStatus.WON.value}


class DealLostForm(DealActionForm):
    reason = forms.ModelChoiceField(queryset=EMPTY, label=_("Lost reason"), empty_label=_("Pick a reason"))
    note = forms.CharField(
        label=_("What happened?"), max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "reason", lost_reason_list())

    def submitted_values(self) -> dict[str, str]:
        return {"status": DealStatus.LOST.value, "lost_reason": self.cleaned_data["reason"].name}


class DealReopenForm(DealActionForm):
    stage = forms.ModelChoiceField(
        queryset=Stage.objects.none(),
        label=_("Reopen into"),
        required=False,
        empty_label=_("Last open stage"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "stage", stage_list(pipeline_id=self.deal.pipeline_id).filter(kind="open"))

    def submitted_values(self) -> dict[str, str]:
        return {"status": DealStatus.OPEN.value}


ACTIVITY_KIND_CHOICES = [
    (ActivityKind.NOTE, _("Note")),
    (ActivityKind.CALL, _("Call")),
    (ActivityKind.MEETING, _("Meeting")),
    (ActivityKind.TASK, _("Task")),
    (ActivityKind.EMAIL, _("E-mail")),
]


class DealActivityForm(forms.Form):
    """A note, call, meeting, task or e-mail on a deal: logged as done, or planned with a due time."""

    kind = forms.ChoiceField(choices=ACTIVITY_KIND_CHOICES, label=_("Kind"))
    subject = forms.CharField(label=_("Subject"), max_length=200)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    due_at = forms.DateTimeField(label=_("Due"), required=False, widget=DateTimeInput)
    is_done = forms.BooleanField(label=_("Already done"), required=False)


# ---- New deal ------------------------------------------------------------------------------------


class DealCreateForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    pipeline = forms.ModelChoiceField(queryset=EMPTY, label=_("Pipeline"), empty_label=None)
    stage = StageChoiceField(
        queryset=EMPTY, label=_("Stage"), required=False, empty_label=_("First stage of the pipeline")
    )
    amount = LocalizedDecimalField(label=_("Amount"), min_value=0, decimal_places=3, required=False)
    currency = forms.CharField(label=_("Currency"), max_length=3, min_length=3, initial="EUR")
    expected_close_on = forms.DateField(label=_("Expected close date"), required=False, widget=DateInput)
    organization = forms.CharField(
        label=_("Organization"), max_length=200, required=False, widget=ContactPicker()
    )
    owner = UserChoiceField(queryset=EMPTY, label=_("Owner"))
    source = forms.ModelChoiceField(
        queryset=EMPTY, label=_("Source"), required=False, empty_label=_("Unknown")
    )
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "pipeline", pipeline_list())
        set_queryset(self, "stage", stage_list().filter(kind="open"))
        set_queryset(self, "owner", user_list_visible(user=user))
        set_queryset(self, "source", lead_source_list())
