"""Demo data for Team pulse: a year of monthly pulse runs per team and a few one-on-ones per rep.

Each team's mood follows a slow random walk (a drift plus month-to-month noise), and each person has a
lasting offset, so the eNPS trend moves plausibly: mostly between -20 and +50, with the odd dip. About
70-95 % of a team answers each run. Rows are written with ``bulk_create`` in the shapes the services
write (responses with a random key, the day and no person; invitations with only ``is_answered``), and
deterministically for a seed: the same seed gives the same answers.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from dealflow.accounts.models import Membership, Role, Team, User
from dealflow.people.calculations import run_date
from dealflow.people.library import LIBRARY_BY_KEY
from dealflow.people.models import (
    ActionItem,
    AgendaItem,
    MeetingCadence,
    OneOnOneMeeting,
    OneOnOneSeries,
    PrivateNote,
    Question,
    QuestionKind,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
    SurveyRun,
)
from dealflow.people.services import anonymity_threshold

MONTHS = 12
OPEN_DAYS = 7
QUESTION_KEYS = [
    "enps",
    "workload",
    "recognition",
    "tools",
    "manager_support",
    "growth",
    "tools_blocker",
    "improve",
]
FREE_TEXT = [
    "Fewer internal meetings on Mondays would help.",
    "The new quote template saves me a lot of time.",
    "More coaching on negotiation, please.",
    "Lead quality from the website has dropped.",
    "Great team spirit this month.",
    "Territory split is unclear since the reorganisation.",
    "I would like a clearer path to a senior role.",
    "Minder administratie rond offertes graag.",
    "The CRM is finally fast enough.",
    "Targets feel out of reach this quarter.",
]
AGENDA = [
    "Pipeline for next month",
    "Deals stuck in negotiation",
    "Training budget",
    "Holiday planning",
    "Feedback on the last demo",
    "Career goals for this year",
    "Workload and overtime",
    "Account plan for a key customer",
    "Forecast call for the quarter",
]
SHARED_NOTES = [
    "Agreed to focus on the three largest open deals first.",
    "Discussed the slipping close dates; next steps are written on each deal.",
    "Good month. Keep the discovery calls going.",
    "Walked through the forecast; two deals move to next quarter.",
]
PRIVATE_NOTES_MANAGER = [
    "Seems tired; check workload again next time.",
    "Ready for a bigger territory soon.",
    "Coaching point: asks for the close too late.",
]
PRIVATE_NOTES_REP = [
    "Ask about the senior role next time.",
    "Remember to raise the commission question.",
    "Prepare numbers for the Q3 review.",
]
ACTIONS = [
    "Send the account plan",
    "Book the negotiation course",
    "Update close dates on stale deals",
    "Share the quote template with the team",
    "Schedule a joint customer visit",
    "Clean up next steps on open deals",
]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def _members(team: Team) -> tuple[int | None, list[int]]:
    rows = list(Membership.objects.filter(team=team, user__is_active=True).values_list("user_id", "role"))
    manager = next((user_id for user_id, role in rows if role == Role.MANAGER), None)
    members = sorted(user_id for user_id, role in rows if role in (Role.REP, Role.ANALYST))
    return manager, members


def _survey(
    title: str, teams: list[Team], creator_id: int, starts_on: dt.date, created_at: dt.datetime
) -> tuple[Survey, list[Question]]:
    survey = Survey.objects.create(
        title=title,
        cadence="monthly",
        starts_on=starts_on,
        open_days=OPEN_DAYS,
        created_by_id=creator_id,
        created_at=created_at,
    )
    survey.teams.set(teams)
    questions = []
    for position, key in enumerate(QUESTION_KEYS, start=1):
        ready = LIBRARY_BY_KEY[key]
        questions.append(
            Question(
                survey=survey,
                position=position,
                kind=ready.kind,
                text=ready.text["en"],
                choices=list(ready.choices.get("en", [])),
                library_key=key,
                is_required=ready.kind != QuestionKind.TEXT,
            )
        )
    return survey, Question.objects.bulk_create(questions)


def _answers(
    rng: random.Random, questions: list[Question], mood: float
) -> list[tuple[Question, int | None, str]]:
    rows: list[tuple[Question, int | None, str]] = []
    for question in questions:
        if question.kind == QuestionKind.ENPS:
            rows.append((question, _clamp(rng.gauss(mood, 1.1), 0, 10), ""))
        elif question.kind == QuestionKind.AGREEMENT:
            rows.append((question, _clamp(rng.gauss(1 + 4 * (mood - 3) / 7, 0.8), 1, 5), ""))
        elif question.kind == QuestionKind.RATING:
            rows.append((question, _clamp(rng.gauss(mood, 1.8), 0, 10), ""))
        elif question.kind == QuestionKind.CHOICE:
            rows.append((question, rng.choices(range(len(question.choices)), weights=[4, 3, 2, 1, 2])[0], ""))
        elif rng.random() < 0.4:
            rows.append((question, None, rng.choice(FREE_TEXT)))
    return rows


def _pulse(
    rng: random.Random, title: str, teams: list[Team], creator_id: int, today: dt.date
) -> tuple[int, int]:
    """A monthly survey of ``teams`` with a year of runs; each team's mood drifts on its own."""
    groups = [(team, _members(team)[1]) for team in teams]
    invited = {user_id: team for team, members in groups for user_id in members}  # one team per person
    if not invited:
        return 0, 0
    first = today.replace(day=1)
    for _ in range(MONTHS - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    starts_on = first + dt.timedelta(days=rng.randrange(0, 5))
    at = timezone.make_aware(dt.datetime.combine(starts_on - dt.timedelta(days=3), dt.time(9)))
    survey, questions = _survey(title, teams, creator_id, starts_on, at)
    threshold = anonymity_threshold()
    sizes = {
        team.pk: sum(1 for member_team in invited.values() if member_team.pk == team.pk) for team in teams
    }
    mood = {team.pk: rng.uniform(7.2, 8.4) for team in teams}
    drift = {team.pk: rng.uniform(-0.06, 0.08) for team in teams}
    offsets = {user_id: rng.gauss(0, 0.9) for user_id in sorted(invited)}
    invitations: list[SurveyInvitation] = []
    responses: list[SurveyResponse] = []
    answers: list[SurveyAnswer] = []
    runs = 0
    for number in range(MONTHS):
        opens_on = run_date(starts_on=starts_on, cadence="monthly", number=number)
        if opens_on > today:
            break
        closes_on = opens_on + dt.timedelta(days=OPEN_DAYS - 1)
        is_open = closes_on >= today
        run = SurveyRun.objects.create(
            survey=survey,
            opens_on=opens_on,
            closes_on=closes_on,
            reminded_on=None if is_open else closes_on - dt.timedelta(days=1),
            created_at=timezone.make_aware(dt.datetime.combine(opens_on, dt.time(6))),
        )
        runs += 1
        for team in teams:
            mood[team.pk] = max(4.0, min(9.3, mood[team.pk] + drift[team.pk] + rng.gauss(0, 0.35)))
        elapsed = ((today - opens_on).days + 1) / OPEN_DAYS if is_open else 1.0
        rate = rng.uniform(0.75, 0.97) * elapsed
        last_day = min(closes_on, today)
        for user_id in sorted(invited):
            team = invited[user_id]
            answered = rng.random() < rate
            invitations.append(
                SurveyInvitation(run=run, user_id=user_id, team_id=team.pk, is_answered=answered)
            )
            if not answered:
                continue
            day = opens_on + dt.timedelta(days=rng.randrange(0, (last_day - opens_on).days + 1))
            team_id = team.pk if sizes[team.pk] >= threshold else None
            response = SurveyResponse(id=_uuid(rng), run=run, team_id=team_id, submitted_on=day)
            responses.append(response)
            for question, value, text in _answers(rng, questions, mood[team.pk] + offsets[user_id]):
                answers.append(
                    SurveyAnswer(id=_uuid(rng), response=response, question=question, number=value, text=text)
                )
    # Shuffle before writing so the tables' physical order says nothing about who answered when.
    rng.shuffle(responses)
    rng.shuffle(answers)
    SurveyInvitation.objects.bulk_create(invitations, batch_size=2000)
    SurveyResponse.objects.bulk_create(responses, batch_size=2000)
    SurveyAnswer.objects.bulk_create(answers, batch_size=5000)
    return runs, len(responses)


def _one_on_ones(rng: random.Random, team: Team, today: dt.date) -> tuple[int, int]:
    manager_id = _members(team)[0]
    if manager_id is None:
        return 0, 0
    reps = sorted(Membership.objects.filter(team=team, role=Role.REP).values_list("user_id", flat=True))
    series_count = meeting_count = 0
    for index, rep_id in enumerate(reps):
        cadence = MeetingCadence.BIWEEKLY if index % 3 else MeetingCadence.WEEKLY
        step = 14 if cadence == MeetingCadence.BIWEEKLY else 7
        slot = dt.time(9 + index % 7, 0 if index % 2 else 30)
        weekday = index % 5
        held = rng.randint(3, 5)
        upcoming = today + dt.timedelta(days=(weekday - today.weekday()) % 7 or 7)  # after today
        first_day = upcoming - dt.timedelta(days=step * held)
        first_at = timezone.make_aware(dt.datetime.combine(first_day, slot))
        series = OneOnOneSeries.objects.create(
            manager_id=manager_id,
            rep_id=rep_id,
            cadence=cadence,
            first_meeting_at=first_at,
            created_at=first_at,
        )
        series_count += 1
        carried: list[AgendaItem] = []
        for number in range(held + 1):
            scheduled = first_at + dt.timedelta(days=step * number)
            is_past = scheduled.date() < today and number < held
            meeting = OneOnOneMeeting.objects.create(
                series=series,
                scheduled_at=scheduled,
                shared_notes=rng.choice(SHARED_NOTES) if is_past else "",
                completed_at=scheduled + dt.timedelta(minutes=60) if is_past else None,
                created_at=scheduled - dt.timedelta(days=step),
            )
            meeting_count += 1
            items = [
                AgendaItem(
                    meeting=meeting,
                    text=item.text,
                    added_by_id=item.added_by_id,
                    carried_from=item,
                    created_at=scheduled,
                )
                for item in carried
            ]
            for text in rng.sample(AGENDA, rng.randint(1, 3)):
                items.append(
                    AgendaItem(
                        meeting=meeting,
                        text=text,
                        added_by_id=rng.choice([manager_id, rep_id]),
                        created_at=scheduled,
                    )
                )
            for item in items:
                item.is_done = is_past and rng.random() < 0.7
            AgendaItem.objects.bulk_create(items)
            carried = [item for item in items if not item.is_done] if is_past else []
            if not is_past:
                continue
            notes = []
            if rng.random() < 0.6:
                notes.append(
                    PrivateNote(
                        meeting=meeting,
                        author_id=manager_id,
                        text=rng.choice(PRIVATE_NOTES_MANAGER),
                        created_at=scheduled,
                    )
                )
            if rng.random() < 0.4:
                notes.append(
                    PrivateNote(
                        meeting=meeting,
                        author_id=rep_id,
                        text=rng.choice(PRIVATE_NOTES_REP),
                        created_at=scheduled,
                    )
                )
            PrivateNote.objects.bulk_create(notes)
            actions = []
            for text in rng.sample(ACTIONS, rng.randint(1, 2)):
                due_on = scheduled.date() + dt.timedelta(days=rng.choice([5, 7, 10, 14]))
                done = due_on < today and rng.random() < 0.75
                actions.append(
                    ActionItem(
                        meeting=meeting,
                        text=text,
                        owner_id=rng.choice([rep_id, rep_id, manager_id]),
                        due_on=due_on,
                        done_at=timezone.make_aware(dt.datetime.combine(due_on, dt.time(16)))
                        if done
                        else None,
                        created_by_id=manager_id,
                        created_at=scheduled,
                    )
                )
            ActionItem.objects.bulk_create(actions)
    return series_count, meeting_count


@transaction.atomic
def seed(*, seed: int, today: dt.date, stdout: Any = None) -> None:
    """Load a year of monthly pulse runs and a few one-on-ones per rep (deterministic for a seed).

    Every team takes part in a company-wide pulse, so its trend shows even where teams are small; a
    team with enough members for results of its own (twice the anonymity threshold) also gets its own.
    """
    rng = random.Random(seed * 7_919 + 8)
    teams = list(Team.objects.order_by("pk"))
    creator = User.objects.filter(is_superuser=True).order_by("pk").first()
    runs = answered = series = meetings = 0
    if teams and creator is not None:
        runs, answered = _pulse(rng, "Company pulse", teams, creator.pk, today)
    for team in teams:
        manager_id, members = _members(team)
        if manager_id is not None and len(members) >= 2 * anonymity_threshold():
            team_runs, team_answered = _pulse(rng, f"Team pulse · {team.name}", [team], manager_id, today)
            runs, answered = runs + team_runs, answered + team_answered
        team_series, team_meetings = _one_on_ones(rng, team, today)
        series, meetings = series + team_series, meetings + team_meetings
    if stdout is not None:
        stdout.write(
            f"Team pulse: {runs} survey runs with {answered} anonymous responses; "
            f"{series} one-on-one series with {meetings} meetings.\n"
        )
