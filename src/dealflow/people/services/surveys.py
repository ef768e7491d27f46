"""Writes for pulse surveys: create a survey, open runs, invite and remind, and take an anonymous response."""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from dealflow.accounts.models import Membership, Role, Team, User
from dealflow.accounts.services import audit_record
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, ConflictError, PermissionDeniedError
from dealflow.people.calculations import MINIMUM_THRESHOLD, latest_run_date
from dealflow.people.library import LIBRARY_BY_KEY
from dealflow.people.models import (
    MAX_QUESTIONS,
    SCALE_BOUNDS,
    Cadence,
    Question,
    QuestionKind,
    SealedResponse,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
    SurveyRun,
)
from dealflow.people.sealing import seal, unseal

logger = logging.getLogger(__name__)

# Who a run invites: the people a team survey is about, not the managers who read the results.
INVITED_ROLES = (Role.REP, Role.ANALYST)
MAX_OPEN_DAYS = {Cadence.ONCE: 90, Cadence.WEEKLY: 7, Cadence.MONTHLY: 28, Cadence.QUARTERLY: 90}
MAX_TEXT_ANSWER = 2000


def anonymity_threshold() -> int:
    """Fewest answers a group needs before anything about its answers is shown (a setting, never below 3)."""
    configured = settings.DEALFLOW.get("SURVEY_ANONYMITY_THRESHOLD", 5)
    return max(MINIMUM_THRESHOLD, int(str(configured)))


@dataclass
class QuestionSpec:
    """A question to add: a library key, or a kind with its own text (and choices for single choice)."""

    kind: str = ""
    text: str = ""
    choices: list[str] = field(default_factory=list)
    library_key: str = ""
    is_required: bool | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> QuestionSpec:
        return cls(
            kind=str(data.get("kind") or ""),
            text=str(data.get("text") or ""),
            choices=[str(choice) for choice in (data.get("choices") or [])],
            library_key=str(data.get("library_key") or ""),
            is_required=data.get("is_required"),
        )


def _question_from_spec(spec: QuestionSpec, *, position: int) -> Question:
    label = _("Question %(number)d") % {"number": position}
    if spec.library_key:
        ready = LIBRARY_BY_KEY.get(spec.library_key)
        if ready is None:
            raise ApplicationError(
                _("%(label)s: there is no library question %(key)r.")
                % {"label": label, "key": spec.library_key},
                field="questions",
            )
        kind, text, choices = ready.kind, ready.text["en"], list(ready.choices.get("en", []))
    else:
        kind, text = spec.kind, " ".join(spec.text.split())
        choices = [" ".join(choice.split()) for choice in spec.choices if choice and choice.strip()]
    if kind not in QuestionKind.values:
        raise ApplicationError(
            _("%(label)s: choose a kind (rating, agreement, choice, text or enps).") % {"label": label},
            field="questions",
        )
    if not text:
        raise ApplicationError(_("%(label)s needs a text.") % {"label": label}, field="questions")
    if len(text) > 300:
        raise ApplicationError(
            _("%(label)s is too long (300 characters at most).") % {"label": label}, field="questions"
        )
    if kind == QuestionKind.CHOICE and not 2 <= len(choices) <= 10:
        raise ApplicationError(
            _("%(label)s: a single-choice question needs 2 to 10 options.") % {"label": label},
            field="questions",
        )
    if any(len(choice) > 100 for choice in choices):
        raise ApplicationError(
            _("%(label)s: keep each option under 100 characters.") % {"label": label}, field="questions"
        )
    if kind != QuestionKind.CHOICE:
        choices = []
    is_required = spec.is_required if spec.is_required is not None else kind != QuestionKind.TEXT
    return Question(
        position=position,
        kind=kind,
        text=text,
        choices=choices,
        library_key=spec.library_key,
        is_required=bool(is_required),
    )


def _validate_questions(questions: Sequence[QuestionSpec]) -> list[Question]:
    if not questions:
        raise ApplicationError(_("Add at least one question."), field="questions")
    if len(questions) > MAX_QUESTIONS:
        raise ApplicationError(
            _("A survey holds at most %(limit)d questions; this one has %(count)d. Remove %(extra)d.")
            % {"limit": MAX_QUESTIONS, "count": len(questions), "extra": len(questions) - MAX_QUESTIONS},
            field="questions",
        )
    built = [_question_from_spec(spec, position=index) for index, spec in enumerate(questions, start=1)]
    if sum(1 for question in built if question.kind == QuestionKind.ENPS) > 1:
        raise ApplicationError(_("A survey asks the eNPS question at most once."), field="questions")
    return built


def _check_teams(*, teams: Sequence[Team], by: User) -> None:
    from dealflow.people.selectors import survey_team_list_manageable

    if not teams:
        raise ApplicationError(_("Pick at least one team."), field="teams")
    allowed = set(survey_team_list_manageable(user=by).values_list("pk", flat=True))
    for team in teams:
        if team.pk not in allowed:
            raise PermissionDeniedError(
                _("You can only survey teams you manage (not %(team)s).") % {"team": team.name},
                field="teams",
            )


@transaction.atomic
def survey_create(
    *,
    title: str,
    teams: Sequence[Team],
    questions: Sequence[QuestionSpec],
    cadence: str = Cadence.MONTHLY,
    starts_on: dt.date | None = None,
    open_days: int = 7,
    by: User,
) -> Survey:
    """Create a survey for teams the author manages; its first run opens at once when it starts today or earlier."""
    name = " ".join(str(title or "").split())
    if not name:
        raise ApplicationError(_("A survey needs a title."), field="title")
    if len(name) > 200:
        raise ApplicationError(_("The title is too long (200 characters at most)."), field="title")
    if cadence not in Cadence.values:
        raise ApplicationError(_("Cadence must be once, weekly, monthly or quarterly."), field="cadence")
    limit = MAX_OPEN_DAYS[Cadence(cadence)]
    if not 1 <= int(open_days) <= limit:
        raise ApplicationError(
            _("A %(cadence)s survey stays open between 1 and %(limit)d days.")
            % {"cadence": Cadence(cadence).label.lower(), "limit": limit},
            field="open_days",
        )
    built = _validate_questions(questions)
    _check_teams(teams=teams, by=by)
    survey = Survey.objects.create(
        title=name,
        cadence=cadence,
        starts_on=starts_on or clock.today(),
        open_days=int(open_days),
        created_by=by,
    )
    survey.teams.set(teams)
    for question in built:
        question.survey = survey
    Question.objects.bulk_create(built)
    audit_record(actor=by, action="survey.created", target=f"survey:{survey.pk}", detail={"title": name})
    survey_run_open_due(survey=survey, today=clock.today())
    return survey


@transaction.atomic
def survey_deactivate(*, survey: Survey, by: User) -> Survey:
    """Stop opening new runs of a survey (runs already open keep their end date)."""
    _check_manages_every_team(survey=survey, by=by)
    if survey.is_active:
        survey.is_active = False
        survey.save(update_fields=["is_active", "updated_at"])
        audit_record(actor=by, action="survey.deactivated", target=f"survey:{survey.pk}")
    return survey


def _invitees(survey: Survey) -> list[tuple[int, int]]:
    """(user_id, team_id) for each active member to invite; someone in two surveyed teams counts once."""
    rows = (
        Membership.objects.filter(team__in=survey.teams.all(), role__in=INVITED_ROLES, user__is_active=True)
        .order_by("user_id", "team_id")
        .values_list("user_id", "team_id")
    )
    seen: dict[int, int] = {}
    for user_id, team_id in rows:
        seen.setdefault(user_id, team_id)
    return list(seen.items())


def survey_run_open(*, survey: Survey, opens_on: dt.date, notify: bool = True) -> SurveyRun:
    """Open a run on ``opens_on``, invite the members of the survey's teams and tell them (in-app + e-mail)."""
    try:
        with transaction.atomic():
            run = SurveyRun.objects.create(
                survey=survey,
                opens_on=opens_on,
                closes_on=opens_on + dt.timedelta(days=survey.open_days - 1),
            )
            SurveyInvitation.objects.bulk_create(
                SurveyInvitation(run=run, user_id=user_id, team_id=team_id)
                for user_id, team_id in _invitees(survey)
            )
    except IntegrityError as error:
        raise ConflictError(
            _("This survey already has a run opening on that day."), field="opens_on"
        ) from error
    if notify:
        # The worker sends the e-mails, so a web request that opens a run does not wait on the mail server.
        transaction.on_commit(lambda: _mail_task().enqueue(run_id=run.pk))
    return run


def _mail_task():
    from dealflow.people.tasks import survey_run_invitations_send

    return survey_run_invitations_send


def survey_run_open_due(*, survey: Survey, today: dt.date) -> SurveyRun | None:
    """Open the survey's current run when it is due and not open yet (missed earlier runs are not back-filled)."""
    if not survey.is_active:
        return None
    opens_on = latest_run_date(starts_on=survey.starts_on, cadence=survey.cadence, today=today)
    if opens_on is None or opens_on + dt.timedelta(days=survey.open_days - 1) < today:
        return None
    if SurveyRun.objects.filter(survey=survey, opens_on=opens_on).exists():
        return None
    try:
        return survey_run_open(survey=survey, opens_on=opens_on)
    except ConflictError:  # another worker opened it a moment ago
        return None


def survey_runs_open_due(*, today: dt.date | None = None) -> list[SurveyRun]:
    """The periodic job: open every run that is due today."""
    day = today or clock.today()
    opened = []
    for survey in Survey.objects.filter(is_active=True, starts_on__lte=day):
        run = survey_run_open_due(survey=survey, today=day)
        if run is not None:
            opened.append(run)
    return opened


def survey_runs_remind_due(*, today: dt.date | None = None) -> list[SurveyRun]:
    """The periodic job: once per run, on its second-to-last day, remind those who have not answered."""
    day = today or clock.today()
    reminded = []
    candidates = SurveyRun.objects.filter(
        reminded_on__isnull=True, closed_early_on__isnull=True, opens_on__lt=day, closes_on__gt=day
    ).select_related("survey")
    for run in candidates:
        if run.closes_on - dt.timedelta(days=1) > day:
            continue
        # Claim the reminder with a conditional update so two workers never both send it.
        if SurveyRun.objects.filter(pk=run.pk, reminded_on__isnull=True).update(reminded_on=day):
            survey_run_send_mail(run=run, reminder=True)
            reminded.append(run)
    return reminded


def _site_url() -> str:
    return str(settings.DEALFLOW.get("SITE_URL", "http://localhost:8000")).rstrip("/")


def survey_run_send_mail(*, run: SurveyRun, reminder: bool) -> int:
    """E-mail the run's invitation (or, with ``reminder``, a reminder to those who have not answered)."""
    invitations = SurveyInvitation.objects.filter(run=run).select_related("user")
    if reminder:
        invitations = invitations.filter(is_answered=False)
    link = _site_url() + reverse("web:people_answer", args=[run.pk])
    messages = []
    for invitation in invitations:
        user = invitation.user
        if not user.email:
            continue
        with translation.override(user.language or "en"):
            values = {
                "name": user.first_name or user.username,
                "title": run.survey.title,
                "closes": run.closes_on.isoformat(),
                "link": link,
            }
            if reminder:
                subject = _("Reminder: %(title)s closes on %(closes)s") % values
                intro = _('Hello %(name)s, the survey "%(title)s" is still waiting for your answer.') % values
            else:
                subject = _("New pulse survey: %(title)s") % values
                intro = _('Hello %(name)s, a new pulse survey "%(title)s" is open.') % values
            body = "\n\n".join(
                [
                    intro,
                    _(
                        "It takes a minute and is anonymous: your manager sees only totals, and only "
                        "once enough people have answered."
                    )
                    % values,
                    _("Answer before the end of %(closes)s: %(link)s") % values,
                ]
            )
        messages.append(EmailMessage(subject=subject, body=body, to=[user.email]))
    if not messages:
        return 0
    try:
        return get_connection(fail_silently=False).send_messages(messages) or 0
    except Exception:  # a mail outage must not undo the run; the in-app notice still shows
        logger.exception("Could not send survey e-mails for run %s", run.pk)
        return 0


@transaction.atomic
def survey_run_close(*, run: SurveyRun, by: User, today: dt.date | None = None) -> SurveyRun:
    """Stop accepting answers before the planned last day."""
    day = today or clock.today()
    _check_manages_every_team(survey=run.survey, by=by)
    if not run.is_open_on(day):
        raise ApplicationError(_("This run is not open."), field="run")
    run.closed_early_on = day
    run.save(update_fields=["closed_early_on", "updated_at"])
    audit_record(actor=by, action="survey.run_closed", target=f"survey_run:{run.pk}")
    # The run is closed: pool what is left (when it reaches the threshold) once this commits.
    transaction.on_commit(lambda: survey_run_publish_ready(run=run, today=day, final=True))
    return run


def _check_manages_every_team(*, survey: Survey, by: User) -> None:
    """Closing or stopping a survey acts on every team's part of it: only someone who manages them all may."""
    from dealflow.people.selectors import survey_team_list_manageable

    manageable = set(survey_team_list_manageable(user=by).values_list("pk", flat=True))
    others = [team.name for team in survey.teams.all() if team.pk not in manageable]
    if others:
        raise PermissionDeniedError(
            _("This survey also covers teams you do not manage (%(teams)s); ask their manager or an admin.")
            % {"teams": ", ".join(sorted(others))},
            field="survey",
        )


def _clean_answers(run: SurveyRun, answers: Mapping[Any, Any]) -> list[SurveyAnswer]:
    questions = list(run.survey.questions.all())
    given = {str(key): value for key, value in answers.items()}
    unknown = set(given) - {str(question.pk) for question in questions}
    if unknown:
        raise ApplicationError(_("Some answers belong to no question of this survey."), field="answers")
    cleaned: list[SurveyAnswer] = []
    for question in questions:
        raw = given.get(str(question.pk))
        field_name = f"question_{question.pk}"
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if question.is_required:
                raise ApplicationError(
                    _("Please answer: %(question)s") % {"question": question.display_text}, field=field_name
                )
            continue
        if question.kind == QuestionKind.TEXT:
            if not isinstance(raw, str):
                raise ApplicationError(_("Write your answer as text."), field=field_name)
            text = raw.strip()
            if len(text) > MAX_TEXT_ANSWER:
                raise ApplicationError(
                    _("Keep your answer under %(limit)d characters.") % {"limit": MAX_TEXT_ANSWER},
                    field=field_name,
                )
            cleaned.append(SurveyAnswer(question=question, text=text))
            continue
        try:
            number = int(str(raw).strip())
        except ValueError as error:
            raise ApplicationError(_("Pick one of the options."), field=field_name) from error
        if question.kind == QuestionKind.CHOICE:
            low, high = 0, len(question.choices) - 1
        else:
            low, high = SCALE_BOUNDS[question.kind]
        if not low <= number <= high:
            raise ApplicationError(
                _("Answer between %(low)d and %(high)d.") % {"low": low, "high": high}, field=field_name
            )
        cleaned.append(SurveyAnswer(question=question, number=number))
    return cleaned


def survey_response_submit(
    *, run: SurveyRun, user: User, answers: Mapping[Any, Any], today: dt.date | None = None
) -> None:
    """Record one person's answers anonymously, once.

    Two transactions:

    1. In one transaction, so that a crash cannot mark a person answered without keeping the answer (nor
       keep an answer twice): the invitation is flipped to answered with a conditional UPDATE
       (``is_answered = false`` in the WHERE clause; of two concurrent submissions one updates the row and
       the other finds nothing to update and is refused, on PostgreSQL by row lock and re-check, on SQLite
       by one writer at a time), and the answers are stored *sealed* (encrypted with a key from the
       settings, people/sealing.py) in a ``SealedResponse`` with a random key, the run and, when the
       member's team had at least the anonymity threshold of invitations in this run, the team. That row
       shares the invitation's transaction id (xmin) and sits next to it on disk, but nobody reading the
       database can open it, and it is deleted when published.
    2. ``survey_run_publish_ready`` turns sealed responses into readable ones only in shuffled batches
       of at least the threshold per group, in a transaction of their own, so results (and the rows'
       xmin, ctid, rowid and keys) change only in steps of that many answers.

    Nothing refers back to the invitation or the person, and nothing is written to the audit log.
    Returns nothing, so no caller holds a handle that ties the person to the response.
    """
    day = today or clock.today()
    if not run.is_open_on(day):
        raise ApplicationError(_("This survey is closed."), field="run")
    cleaned = _clean_answers(run, answers)
    with transaction.atomic():
        invitation = SurveyInvitation.objects.filter(run=run, user=user).values("pk", "team_id").first()
        if invitation is None:
            raise PermissionDeniedError(_("You are not invited to this survey."), field="run")
        claimed = SurveyInvitation.objects.filter(pk=invitation["pk"], is_answered=False).update(
            is_answered=True
        )
        if not claimed:
            raise ConflictError(_("You have already answered this survey."), field="run")
        team_id: int | None = invitation["team_id"]
        if team_id is not None:
            team_size = SurveyInvitation.objects.filter(run=run, team_id=team_id).aggregate(n=Count("*"))["n"]
            if team_size < anonymity_threshold():
                team_id = None
        SealedResponse.objects.create(
            run=run,
            team_id=team_id,
            sealed=seal([[answer.question_id, answer.number, answer.text] for answer in cleaned]),
        )
    try:
        survey_run_publish_ready(run=run, today=day)
    except Exception:  # the answer is safe (sealed); the periodic job publishes it later
        logger.exception("Could not publish the ready answers of survey run %s", run.pk)


# Shuffles each published batch; a test may swap in a seeded generator to replay one order.
_shuffler: random.Random = random.SystemRandom()


def survey_run_publish_ready(*, run: SurveyRun, today: dt.date | None = None, final: bool = False) -> int:
    """Publish sealed responses in batches: each group (team, or none) once it holds the threshold.

    With ``final`` (the run has closed), what is left in the groups is pooled without a team and
    published when the pool reaches the threshold; a smaller remainder stays sealed, because showing it
    would change the results by fewer than the threshold of answers. A batch is written in one
    transaction in random order with new random keys and the publishing day, so nothing in it (time,
    key, row order, transaction id) tells its answers apart. Returns how many responses were published.
    """
    day = today or clock.today()
    threshold = anonymity_threshold()
    with transaction.atomic():
        SurveyRun.objects.select_for_update().filter(pk=run.pk).first()  # one publisher per run at a time
        groups: dict[int | None, list[tuple[Any, str]]] = {}
        for pk, team_id, sealed in SealedResponse.objects.filter(run=run).values_list(
            "pk", "team_id", "sealed"
        ):
            groups.setdefault(team_id, []).append((pk, sealed))
        batches: list[tuple[int | None, list[tuple[Any, str]]]] = [
            (team_id, rows) for team_id, rows in groups.items() if len(rows) >= threshold
        ]
        if final:
            rest = [row for rows in groups.values() if len(rows) < threshold for row in rows]
            if len(rest) >= threshold:
                batches.append((None, rest))
        published = 0
        for batch_team_id, rows in batches:
            _publish_batch(run=run, team_id=batch_team_id, sealed_rows=rows, day=day)
            published += len(rows)
    return published


def _publish_batch(
    *, run: SurveyRun, team_id: int | None, sealed_rows: list[tuple[Any, str]], day: dt.date
) -> None:
    opened = [unseal(sealed) for _pk, sealed in sealed_rows]
    _shuffler.shuffle(opened)
    responses = []
    answers = []
    for values in opened:
        response = SurveyResponse(id=uuid.uuid4(), run=run, team_id=team_id, submitted_on=day)
        responses.append(response)
        for question_id, number, text in values:
            answers.append(
                SurveyAnswer(
                    id=uuid.uuid4(), response=response, question_id=question_id, number=number, text=text
                )
            )
    _shuffler.shuffle(answers)
    SurveyResponse.objects.bulk_create(responses)
    SurveyAnswer.objects.bulk_create(answers)
    SealedResponse.objects.filter(pk__in=[pk for pk, _sealed in sealed_rows]).delete()


def survey_runs_publish_closed(*, today: dt.date | None = None) -> int:
    """The periodic job: publish what is ready in every run, pooling the rest of runs that have closed."""
    day = today or clock.today()
    published = 0
    runs = SurveyRun.objects.filter(pk__in=SealedResponse.objects.values("run_id"))
    for run in runs:
        published += survey_run_publish_ready(run=run, today=day, final=run.last_day < day)
    return published
