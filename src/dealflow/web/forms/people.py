"""Team pulse forms: the survey builder and the one-on-one set-up (services check the rules)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from dealflow.accounts.models import Team, User
from dealflow.people.library import LIBRARY, library_text
from dealflow.people.models import Cadence, MeetingCadence, QuestionKind
from dealflow.people.selectors import one_on_one_partner_list, survey_team_list_manageable
from dealflow.people.services import QuestionSpec
from dealflow.web.forms import DateInput, DateTimeInput, choice_field, model_choice_field

CUSTOM_ROWS = 3


class SurveyForm(forms.Form):
    """Title, teams, cadence; ready questions from the library plus up to three of one's own."""

    title = forms.CharField(label=_("Title"), max_length=200)
    teams: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(
        queryset=Team.objects.none(), label=_("Teams"), widget=forms.CheckboxSelectMultiple
    )
    cadence = forms.ChoiceField(label=_("Cadence"), choices=Cadence.choices, initial=Cadence.MONTHLY)
    starts_on = forms.DateField(label=_("First run on"), widget=DateInput())
    open_days = forms.IntegerField(label=_("Open for (days)"), min_value=1, max_value=90, initial=7)
    library = forms.MultipleChoiceField(
        label=_("Ready questions"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_choice_field(self, "teams").queryset = survey_team_list_manageable(user=user).order_by("name")
        language = translation.get_language()
        choice_field(self, "library").choices = [
            (question.key, f"{library_text(question.key, language)} ({QuestionKind(question.kind).label})")
            for question in LIBRARY
        ]
        kinds = [("", _("No question")), *QuestionKind.choices]
        for row in range(1, CUSTOM_ROWS + 1):
            self.fields[f"custom_kind_{row}"] = forms.ChoiceField(
                label=_("Kind"), choices=kinds, required=False
            )
            self.fields[f"custom_text_{row}"] = forms.CharField(
                label=_("Question"), max_length=300, required=False
            )
            self.fields[f"custom_choices_{row}"] = forms.CharField(
                label=_("Options (one per line, for single choice)"),
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    def custom_rows(self) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [
            (self[f"custom_kind_{row}"], self[f"custom_text_{row}"], self[f"custom_choices_{row}"])
            for row in range(1, CUSTOM_ROWS + 1)
        ]

    def question_specs(self) -> list[QuestionSpec]:
        data = self.cleaned_data
        specs = [QuestionSpec(library_key=key) for key in data.get("library", [])]
        for row in range(1, CUSTOM_ROWS + 1):
            kind = data.get(f"custom_kind_{row}") or ""
            text = data.get(f"custom_text_{row}") or ""
            if not kind and not text.strip():
                continue
            choices = [
                line for line in (data.get(f"custom_choices_{row}") or "").splitlines() if line.strip()
            ]
            specs.append(QuestionSpec(kind=kind, text=text, choices=choices))
        return specs


class SeriesForm(forms.Form):
    rep: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=User.objects.none(), label=_("With"), empty_label=_("Pick a person")
    )
    first_meeting_at = forms.DateTimeField(label=_("First meeting"), widget=DateTimeInput())
    cadence = forms.ChoiceField(
        label=_("Repeats"), choices=MeetingCadence.choices, initial=MeetingCadence.WEEKLY
    )
    duration_minutes = forms.IntegerField(label=_("Minutes"), min_value=5, max_value=480, initial=60)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["rep"]
        field.queryset = one_on_one_partner_list(manager=user).order_by("first_name", "last_name", "username")
        field.label_from_instance = lambda person: person.display_name

    def has_partners(self) -> bool:
        field: Any = self.fields["rep"]
        return field.queryset.exists()


class ActionItemForm(forms.Form):
    text = forms.CharField(label=_("Action"), max_length=300)
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int)
    due_on = forms.DateField(label=_("Due"), required=False, widget=DateInput())

    def __init__(self, *args: Any, participants: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner: Any = self.fields["owner"]
        owner.choices = [(person.pk, person.display_name) for person in participants]
