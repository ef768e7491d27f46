"""Survey anonymity against an adversary who reads the whole database and polls the API (issue #13).

Two adversaries try to tie answers to people:

* the database reader (PostgreSQL): joins invitations and responses on the system columns
  (``xmin``, the id of the transaction that wrote the row, and ``ctid``, its place on disk), and
  pairs the invitations in the order they were marked answered with the responses in the order they
  were written;
* the poller: reads the results through the API after every single answer, and is told (the worst
  case) who has just answered; whatever new appeared since the last poll it attributes to them.

Each respondent writes a secret (a unique free text); an attribution is right when it names the
author. Answers are published only in shuffled batches of the threshold (5), so the best either can do
is what blind guessing inside a batch gives: 1 in 5. The shuffle is seeded here so the result is the
same on every run; in production it comes from the operating system's random source.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection

from dealflow.accounts.models import Role
from dealflow.accounts.services import token_create
from dealflow.accounts.tests.factories import MembershipFactory, TeamFactory, UserFactory
from dealflow.core.errors import PermissionDeniedError
from dealflow.people import selectors, services
from dealflow.people.models import SealedResponse, SurveyResponse
from dealflow.people.services import surveys as survey_services
from dealflow.people.tests.factories import SurveyFactory, answer_values

THRESHOLD = 5

pytestmark = pytest.mark.django_db
CHANCE = 1 / THRESHOLD
BASE = "/api/v1/people"


@pytest.fixture
def seeded_shuffle(monkeypatch):
    monkeypatch.setattr(survey_services, "_shuffler", random.Random(20260302))


def _team(name: str, size: int, manager):
    team = TeamFactory(name=name)
    MembershipFactory(user=manager, team=team, role=Role.MANAGER)
    reps = []
    for number in range(1, size + 1):
        user = UserFactory(username=f"{name.lower()}{number}")
        MembershipFactory(user=user, team=team, role=Role.REP)
        reps.append(user)
    return team, reps


def _secret(user) -> str:
    # Secrets sort in an order unrelated to the answering order (a hash of the name, not the name).
    return f"{random.Random(user.username).randrange(10**6):06d} from {user.username}"


def _answer(run, user) -> None:
    services.survey_response_submit(
        run=run, user=user, answers=answer_values(run, enps=7, text=_secret(user)), today=run.opens_on
    )


def _answering_order(reps):
    order = list(reps)
    random.Random(13).shuffle(order)
    return order


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_reader_with_system_columns_does_no_better_than_chance(seeded_shuffle, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False)
    boss = UserFactory(username="boss")
    _team_row, reps = _team("Alpha", 17, boss)
    run = SurveyFactory(by=boss, teams=[_team_row], starts_on=dt.date(2026, 3, 2)).runs.get()
    for user in _answering_order(reps):
        _answer(run, user)  # no outer transaction: each answer commits as it would in a request

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT user_id, xmin::text::bigint, ctid::text FROM people_surveyinvitation"
            " WHERE run_id = %s AND is_answered ORDER BY xmin::text::bigint, ctid",
            [run.pk],
        )
        invitations = cursor.fetchall()
        cursor.execute(
            "SELECT a.text, r.xmin::text::bigint, r.ctid::text, a.xmin::text::bigint FROM people_surveyanswer a"
            " JOIN people_surveyresponse r ON r.id = a.response_id"
            " WHERE r.run_id = %s AND a.text <> '' ORDER BY r.xmin::text::bigint, r.ctid",
            [run.pk],
        )
        responses = cursor.fetchall()
        cursor.execute("SELECT sealed FROM people_sealedresponse WHERE run_id = %s", [run.pk])
        sealed = [row[0] for row in cursor.fetchall()]
    authors = {user.pk: _secret(user) for user in reps}

    # 17 answered: three batches of 5 are published, the last 2 wait sealed (and unreadable).
    assert len(invitations) == 17 and len(responses) == 15 and len(sealed) == 2
    assert not any("from alpha" in text for text in sealed)

    # Attack 1: a response written in the same transaction as an invitation belongs to its person.
    same_transaction = 0
    for user_id, invitation_xmin, _ctid in invitations:
        candidates = [text for text, xmin, _c, _a in responses if xmin == invitation_xmin]
        same_transaction += bool(candidates) and candidates[0] == authors[user_id]
    # Attack 2: pair invitations and responses in the order they were written (xmin, then ctid).
    in_order = sum(
        text == authors[user_id]
        for (user_id, _x, _c), (text, _rx, _rc, _ax) in zip(invitations, responses, strict=False)
    )
    # Attack 3 (the strongest): an invitation's answer is in the first batch written after it; guess
    # the first response of that batch that is still unclaimed.
    batches: dict[int, list[str]] = {}
    for text, xmin, _ctid, _answer_xmin in responses:
        batches.setdefault(xmin, []).append(text)
    batch_order = sorted(batches)
    by_batch = 0
    for user_id, invitation_xmin, _ctid in invitations:
        later = [xmin for xmin in batch_order if xmin > invitation_xmin]
        if later and batches[later[0]]:
            by_batch += batches[later[0]].pop(0) == authors[user_id]

    accuracy = {
        "same transaction": same_transaction / 15,
        "write order": in_order / 15,
        "batch then order": by_batch / 15,
    }
    print(f"\nDatabase adversary accuracy: {accuracy} (chance within a batch: {CHANCE:.2f})")
    assert {len(texts) for texts in batches.values()} <= {0, THRESHOLD}  # a batch holds the threshold
    assert same_transaction == 0  # no response shares a transaction with an invitation
    assert accuracy["write order"] <= 2 * CHANCE and accuracy["batch then order"] <= 2 * CHANCE


def test_a_poller_told_who_answered_does_no_better_than_chance(client, seeded_shuffle, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False)
    boss = UserFactory(username="boss")
    alpha, alpha_reps = _team("Alpha", 10, boss)
    beta, beta_reps = _team("Beta", 7, boss)
    run = SurveyFactory(by=boss, teams=[alpha, beta], starts_on=dt.date(2026, 3, 2)).runs.get()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=boss, name='poll', scope='read')[1]}"}

    def poll():
        results = client.get(f"{BASE}/runs/{run.pk}/results", **headers).json()
        runs = client.get(f"{BASE}/surveys/{run.survey_id}/runs", **headers).json()
        texts = [text for question in results["questions"] for text in question["texts"]]
        counters = {"run": results["answered"], "list": runs[0]["answered"]}
        for team in (alpha, beta):
            rows = [row for row in results["teams"] if row["team_id"] == team.pk]
            counters[team.name] = (rows[0]["answered"] or 0) if rows else 0
        enps = client.get(f"{BASE}/surveys/{run.survey_id}/enps", **headers).json()["points"][0]["answered"]
        counters["trend"] = enps or 0
        return texts, counters

    authors = {_secret(user): user for user in alpha_reps + beta_reps}
    seen_texts, seen_counters = poll()
    waiting: list = []  # who answered since the results last changed
    right = attributed = 0
    steps: set[int] = set()
    for user in _answering_order(alpha_reps + beta_reps):
        _answer(run, user)
        waiting.append(user)
        texts, counters = poll()
        steps |= {counters[name] - seen_counters[name] for name in counters}
        new = sorted(set(texts) - set(seen_texts))
        if new:
            # The adversary attributes the new texts to the people who answered since the last change.
            for text, guess in zip(new, waiting, strict=False):
                right += authors[text] == guess
                attributed += 1
            waiting = [person for person in waiting if _secret(person) not in texts]
        seen_texts, seen_counters = texts, counters

    accuracy = right / attributed
    print(
        f"\nPolling adversary: {right} of {attributed} right, accuracy {accuracy:.2f} (chance {CHANCE:.2f})"
    )
    # Every counter the API shows (answered for the run, per team, in the run list and the trend)
    # moves only in steps of the threshold or more, never by one person.
    assert steps - {0} and min(steps - {0}) >= THRESHOLD
    assert attributed == 15  # Alpha 10 (two batches), Beta 5; the last two of Beta wait sealed
    assert accuracy <= 2 * CHANCE


def test_the_rest_of_a_closed_run_is_pooled_and_a_remainder_below_the_threshold_stays_sealed(
    time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False)
    boss = UserFactory(username="boss")
    alpha, alpha_reps = _team("Alpha", 6, boss)
    beta, beta_reps = _team("Beta", 6, boss)
    run = SurveyFactory(by=boss, teams=[alpha, beta], starts_on=dt.date(2026, 3, 2)).runs.get()
    for user in alpha_reps[:3] + beta_reps[:2]:
        _answer(run, user)
    assert SealedResponse.objects.count() == 5 and not SurveyResponse.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.survey_run_close(run=run, by=boss, today=dt.date(2026, 3, 3))
    # Closed: the 3 + 2 left in the two teams are pooled (5) and published without a team.
    assert not SealedResponse.objects.exists()
    assert list(SurveyResponse.objects.values_list("team_id", flat=True)) == [None] * 5
    results = selectors.survey_run_results_for_user(run_id=run.pk, user=boss)
    assert results.is_visible and results.answered == 5
    assert all(row.answered == 0 for row in results.teams)  # no team is named next to these answers

    second = services.survey_run_open(survey=run.survey, opens_on=dt.date(2026, 4, 2), notify=False)
    for user in alpha_reps[:2]:
        services.survey_response_submit(
            run=second, user=user, answers=answer_values(second), today=second.opens_on
        )
    assert services.survey_runs_publish_closed(today=dt.date(2026, 4, 20)) == 0
    assert SealedResponse.objects.filter(run=second).count() == 2  # two would change results by two


def test_a_manager_of_one_team_cannot_close_stop_or_read_another_teams_part(client, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False)
    head = UserFactory(username="head")
    alpha, alpha_reps = _team("Alpha", 5, head)
    beta, beta_reps = _team("Beta", 5, head)
    alpha_boss = UserFactory(username="alphaboss")
    MembershipFactory(user=alpha_boss, team=alpha, role=Role.MANAGER)
    run = SurveyFactory(by=head, teams=[alpha, beta], starts_on=dt.date(2026, 3, 2)).runs.get()
    for user in alpha_reps + beta_reps:
        _answer(run, user)

    mine = selectors.survey_run_results_for_user(run_id=run.pk, user=alpha_boss)
    texts = {text for question in mine.questions for text in question.texts}
    assert (mine.invited, mine.answered) == (5, 5) and texts == {_secret(user) for user in alpha_reps}
    assert [row.team.name for row in mine.teams] == ["Alpha"]
    assert [
        (row.invited, row.answered)
        for row in selectors.survey_run_list_for_user(survey_id=run.survey_id, user=alpha_boss)
    ] == [(5, 5)]
    whole = selectors.survey_run_results_for_user(run_id=run.pk, user=head)
    assert (whole.invited, whole.answered) == (10, 10)

    with pytest.raises(PermissionDeniedError, match="Beta"):
        services.survey_run_close(run=run, by=alpha_boss)
    with pytest.raises(PermissionDeniedError, match="Beta"):
        services.survey_deactivate(survey=run.survey, by=alpha_boss)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=alpha_boss, name='t')[1]}"}
    assert client.post(f"{BASE}/runs/{run.pk}/close", **headers).status_code == 403
    assert client.post(f"{BASE}/surveys/{run.survey_id}/stop", **headers).status_code == 403
    beta_only = client.get(f"{BASE}/runs/{run.pk}/results", {"team": beta.pk}, **headers)
    assert beta_only.status_code == 400 and beta_only.json()["field"] == "team"
    run.refresh_from_db()
    assert run.closed_early_on is None and run.survey.is_active
    services.survey_run_close(run=run, by=head)  # who manages every team may


def test_the_web_pages_refuse_a_manager_of_one_team_too(client, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False)
    head = UserFactory(username="head")
    alpha, _alpha_reps = _team("Alpha", 5, head)
    beta, _beta_reps = _team("Beta", 5, head)
    alpha_boss = UserFactory(username="alphaboss")
    MembershipFactory(user=alpha_boss, team=alpha, role=Role.MANAGER)
    run = SurveyFactory(by=head, teams=[alpha, beta], starts_on=dt.date(2026, 3, 2)).runs.get()
    client.force_login(alpha_boss)
    assert client.post(f"/people/surveys/{run.survey_id}/stop/").status_code == 403
    client.post(f"/people/runs/{run.pk}/close/")
    run.refresh_from_db()
    assert run.closed_early_on is None and run.survey.is_active
