"""Pulse surveys, their runs and anonymous responses; one-on-one series, meetings and their notes.

Anonymity is a property of the tables, not of the views: ``SurveyResponse`` and ``SurveyAnswer`` hold no
user, no time finer than the day, no IP and a random (UUID) key, and ``SurveyInvitation`` holds only
``is_answered`` with no time of answering, so nothing stored links a person to what they answered.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from dealflow.core.models import BaseModel

MAX_QUESTIONS = 10


class Cadence(models.TextChoices):
    ONCE = "once", _("Once")
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")


class QuestionKind(models.TextChoices):
    RATING = "rating", _("Rating 0-10")
    AGREEMENT = "agreement", _("Agreement 1-5")
    CHOICE = "choice", _("Single choice")
    TEXT = "text", _("Free text")
    ENPS = "enps", _("eNPS (0-10)")


SCALE_BOUNDS: dict[str, tuple[int, int]] = {
    QuestionKind.RATING: (0, 10),
    QuestionKind.ENPS: (0, 10),
    QuestionKind.AGREEMENT: (1, 5),
}


class Survey(BaseModel):
    """A pulse survey for one or more teams, run once or on a cadence from ``starts_on``."""

    title = models.CharField(max_length=200)
    teams = models.ManyToManyField("accounts.Team", related_name="surveys")
    cadence = models.CharField(max_length=10, choices=Cadence.choices, default=Cadence.MONTHLY)
    starts_on = models.DateField()
    open_days = models.PositiveSmallIntegerField(default=7)
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="surveys_created"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(open_days__gte=1) & Q(open_days__lte=90), name="survey_open_days_1_90"
            )
        ]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    """One question of a survey; ``library_key`` questions show their text in the reader's language."""

    survey = models.ForeignKey("people.Survey", on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=QuestionKind.choices)
    text = models.CharField(max_length=300)
    choices = models.JSONField(default=list, blank=True)  # single choice: the options, in order
    library_key = models.CharField(max_length=40, blank=True, default="")
    is_required = models.BooleanField(default=True)

    class Meta:
        ordering = ["survey_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "position"], name="question_unique_position")
        ]

    def __str__(self) -> str:
        return self.display_text

    @property
    def display_text(self) -> str:
        from dealflow.people.library import library_text

        return library_text(self.library_key, translation.get_language()) or self.text

    @property
    def display_choices(self) -> list[str]:
        from dealflow.people.library import library_choices

        return library_choices(self.library_key, translation.get_language()) or list(self.choices)

    @property
    def is_scale(self) -> bool:
        return self.kind in SCALE_BOUNDS


class SurveyRun(BaseModel):
    """One round of a survey: members are invited, answers are accepted from opens_on to closes_on."""

    survey = models.ForeignKey("people.Survey", on_delete=models.CASCADE, related_name="runs")
    opens_on = models.DateField()
    closes_on = models.DateField()  # last day answers are accepted
    reminded_on = models.DateField(null=True, blank=True)
    closed_early_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["survey_id", "opens_on"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "opens_on"], name="survey_run_unique_day"),
            models.CheckConstraint(condition=Q(closes_on__gte=models.F("opens_on")), name="run_closes_after"),
        ]

    def __str__(self) -> str:
        return f"{self.survey} {self.opens_on:%Y-%m-%d}"

    @property
    def last_day(self):
        return self.closed_early_on or self.closes_on

    def is_open_on(self, day) -> bool:
        return self.opens_on <= day <= self.last_day


class SurveyInvitation(models.Model):
    """A member's invitation to a run. ``is_answered`` is all it records: no time, no response link.

    No ``updated_at`` either: a write time would order invitations by answer time, which next to the
    order of responses would tie people to answers.
    """

    run = models.ForeignKey("people.SurveyRun", on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="survey_invitations")
    team = models.ForeignKey("accounts.Team", null=True, on_delete=models.SET_NULL, related_name="+")
    is_answered = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "user"], name="invitation_unique_run_user")]
        indexes = [models.Index(fields=["user", "is_answered"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.run}"


class SurveyResponse(models.Model):
    """One anonymous set of answers: a random key, the run, the day, and a team only when it is large enough."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey("people.SurveyRun", on_delete=models.CASCADE, related_name="responses")
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_on = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["run", "team"])]

    def __str__(self) -> str:
        return f"response to {self.run}"


class SealedResponse(models.Model):
    """An answer set waiting for its batch, encrypted (people/sealing.py): no person, no time, a random key.

    Responses are published to ``SurveyResponse``/``SurveyAnswer`` only in shuffled batches of at least
    the anonymity threshold per group (``team``, as the response will carry it), so neither the results
    nor the rows' system columns change one answer at a time.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey("people.SurveyRun", on_delete=models.CASCADE, related_name="sealed_responses")
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sealed = models.TextField()

    def __str__(self) -> str:
        return f"sealed response to {self.run}"


class SurveyAnswer(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    response = models.ForeignKey("people.SurveyResponse", on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey("people.Question", on_delete=models.CASCADE, related_name="answers")
    number = models.SmallIntegerField(null=True, blank=True)  # scale value, or the chosen option's index
    text = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["question", "number"])]
        constraints = [
            models.UniqueConstraint(fields=["response", "question"], name="answer_unique_per_question")
        ]

    def __str__(self) -> str:
        return f"answer to question {self.question_id}"


class MeetingCadence(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    BIWEEKLY = "biweekly", _("Every other week")


class OneOnOneSeries(BaseModel):
    """Recurring one-on-ones between a manager and a rep."""

    manager = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="one_on_ones_led")
    rep = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="one_on_ones")
    cadence = models.CharField(max_length=10, choices=MeetingCadence.choices, default=MeetingCadence.WEEKLY)
    duration_minutes = models.PositiveSmallIntegerField(default=60)
    first_meeting_at = models.DateTimeField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["manager_id", "rep_id"]
        verbose_name_plural = "one-on-one series"
        constraints = [
            models.CheckConstraint(condition=~Q(manager=models.F("rep")), name="one_on_one_two_people"),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5) & Q(duration_minutes__lte=480),
                name="one_on_one_duration_5_480",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.manager} / {self.rep}"

    @property
    def interval_days(self) -> int:
        return 14 if self.cadence == MeetingCadence.BIWEEKLY else 7

    def participant_ids(self) -> set[int]:
        return {self.manager_id, self.rep_id}


class OneOnOneMeeting(BaseModel):
    series = models.ForeignKey("people.OneOnOneSeries", on_delete=models.CASCADE, related_name="meetings")
    scheduled_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(default=60)
    shared_notes = models.TextField(blank=True, default="")
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["series_id", "scheduled_at"]
        constraints = [models.UniqueConstraint(fields=["series", "scheduled_at"], name="meeting_unique_slot")]

    def __str__(self) -> str:
        return f"{self.series} {self.scheduled_at:%Y-%m-%d %H:%M}"

    @property
    def is_completed(self) -> bool:
        return self.completed_at is not None


class AgendaItem(BaseModel):
    """A shared agenda line; unchecked lines are copied to the next meeting when this one completes."""

    meeting = models.ForeignKey("people.OneOnOneMeeting", on_delete=models.CASCADE, related_name="agenda")
    text = models.CharField(max_length=300)
    added_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    is_done = models.BooleanField(default=False)
    carried_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="carried_to"
    )

    class Meta:
        ordering = ["meeting_id", "id"]

    def __str__(self) -> str:
        return self.text


class PrivateNote(BaseModel):
    """What one participant writes for themself; no selector returns it to anyone else, admins included."""

    meeting = models.ForeignKey(
        "people.OneOnOneMeeting", on_delete=models.CASCADE, related_name="private_notes"
    )
    author = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    text = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meeting", "author"], name="private_note_one_per_author")
        ]

    def __str__(self) -> str:
        return f"private note {self.pk}"  # never the text: this string shows up in logs and admin lists


class ActionItem(BaseModel):
    meeting = models.ForeignKey(
        "people.OneOnOneMeeting", on_delete=models.CASCADE, related_name="action_items"
    )
    text = models.CharField(max_length=300)
    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="action_items")
    due_on = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["done_at", "due_on", "id"]
        indexes = [models.Index(fields=["owner", "done_at", "due_on"])]

    def __str__(self) -> str:
        return self.text

    @property
    def is_done(self) -> bool:
        return self.done_at is not None
