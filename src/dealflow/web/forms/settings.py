"""Admin settings forms: pipelines, stages, lost reasons, exchange rates, users and teams."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from dealflow.accounts.models import Role, Team
from dealflow.deals.models import ForecastCategory
from dealflow.web.forms import DateInput, LocalizedDecimalField


class PipelineCreateForm(forms.Form):
    name = forms.CharField(label=_("New pipeline"), max_length=120)
    with_default_stages = forms.BooleanField(
        label=_("Start with the usual stages"), required=False, initial=True
    )


class PipelineForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    is_default = forms.BooleanField(label=_("Default pipeline"), required=False)
    is_active = forms.BooleanField(
        label=_("Active"), required=False, help_text=_("A retired pipeline keeps its deals and history.")
    )


OPEN_CATEGORIES = [
    (value, label) for value, label in ForecastCategory.choices if value != ForecastCategory.CLOSED
]


class StageForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    probability = forms.IntegerField(label=_("Probability (%)"), min_value=0, max_value=100)
    rotting_days = forms.IntegerField(label=_("Rotting after (days)"), min_value=0)
    forecast_category = forms.ChoiceField(choices=OPEN_CATEGORIES, label=_("Forecast category"))
    definition_of_done = forms.CharField(
        label=_("Definition of done"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, closed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if closed:  # Won and Lost keep probability 100/0 and the closed category; name and definition change.
            for name in ("probability", "rotting_days", "forecast_category"):
                del self.fields[name]


class LostReasonCreateForm(forms.Form):
    name = forms.CharField(label=_("New lost reason"), max_length=120)


class LostReasonForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    is_active = forms.BooleanField(label=_("Active"), required=False)


class ExchangeRateForm(forms.Form):
    currency = forms.CharField(label=_("Currency"), max_length=3, min_length=3)
    rate = LocalizedDecimalField(label=_("Rate"), max_digits=18, decimal_places=8, min_value=0)
    valid_from = forms.DateField(label=_("Valid from"), widget=DateInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rate"].help_text = _("Value of one unit in %(base)s.") % {
            "base": settings.DEALFLOW["BASE_CURRENCY"]
        }


class TeamCreateForm(forms.Form):
    name = forms.CharField(label=_("New team"), max_length=120)
    reps_see_team_deals = forms.BooleanField(label=_("Reps see each other's deals"), required=False)


class TeamChoiceForm(forms.Form):
    """A team picked from a list read once per page (so a row per user costs no query per row)."""

    team: forms.ChoiceField
    team_empty_label: Any = _("Pick a team")

    def __init__(self, *args: Any, teams: list[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.teams = {str(team.pk): team for team in teams}
        field = self.fields["team"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", self.team_empty_label), *[(key, team.name) for key, team in self.teams.items()]]

    def clean_team(self) -> Team | None:
        key = self.cleaned_data["team"]
        return self.teams.get(key) if key else None


class MembershipForm(TeamChoiceForm):
    team = forms.ChoiceField(label=_("Team"))
    role = forms.ChoiceField(choices=Role.choices, label=_("Role"), initial=Role.REP)


class UserCreateForm(TeamChoiceForm):
    username = forms.CharField(label=_("Username"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput(render_value=False))
    language = forms.ChoiceField(choices=settings.LANGUAGES, label=_("Language"), initial="en")
    team = forms.ChoiceField(label=_("Team"), required=False)
    team_empty_label = _("No team yet")
    role = forms.ChoiceField(choices=Role.choices, label=_("Role"), initial=Role.REP)
