"""Anonymity by construction: after a person answers, nothing stored ties them to their answers.

The test photographs every row of every table before and after one answer sent through the web page,
then checks what changed: the respondent's invitation flips ``is_answered`` and nothing else about
them moves; the only new rows are the response and its answers, which hold no user, no time finer
than the day, no IP, and a random key that no other row mentions.
"""

import pytest
from django.apps import apps
from django.db import models
from django.urls import reverse

from dealflow.accounts.models import User
from dealflow.people.models import SealedResponse, SurveyAnswer, SurveyInvitation, SurveyResponse
from dealflow.people.tests.factories import answer_values


def _all_models():
    seen = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        seen.append(model)
    return seen


def _snapshot() -> dict[tuple[str, str], dict[str, object]]:
    rows = {}
    for model in _all_models():
        columns = [field.attname for field in model._meta.concrete_fields]
        for values in model._default_manager.values(*columns):
            rows[(model._meta.label, str(values[model._meta.pk.attname]))] = values
    return rows


def _references_user(model) -> list[str]:
    return [
        field.attname
        for field in model._meta.concrete_fields
        if isinstance(field, models.ForeignKey) and field.related_model is User
    ]


def test_response_tables_hold_no_person_no_time_and_no_ip():
    for model in (SurveyResponse, SurveyAnswer):
        for field in model._meta.concrete_fields:
            assert not isinstance(field, models.DateTimeField), (
                f"{model.__name__}.{field.name} is a timestamp"
            )
            assert not isinstance(field, models.GenericIPAddressField), (
                f"{model.__name__}.{field.name} is an IP"
            )
            if isinstance(field, models.ForeignKey):
                assert field.related_model is not User
                assert field.related_model is not SurveyInvitation
        assert isinstance(model._meta.pk, models.UUIDField)  # no sequence that orders answers in time
    assert isinstance(SurveyResponse._meta.get_field("submitted_on"), models.DateField)
    assert not isinstance(SurveyResponse._meta.get_field("submitted_on"), models.DateTimeField)


def test_nothing_points_from_an_invitation_to_a_response_or_back():
    for field in SurveyInvitation._meta.get_fields():
        assert getattr(field, "related_model", None) not in (SurveyResponse, SurveyAnswer)
        assert not isinstance(field, models.DateTimeField), "an answer time would order invitations"
    for model in _all_models():
        if model in (SurveyAnswer, SurveyResponse):
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.ForeignKey):
                assert field.related_model not in (SurveyResponse, SurveyAnswer), (
                    f"{model.__name__}.{field.name}"
                )


def test_after_an_answer_no_row_links_the_respondent_to_it(client, run, sales_team):
    # Two colleagues answered before, so the new rows are not simply "the only response".
    from dealflow.people import services

    for colleague in sales_team[1:3]:
        services.survey_response_submit(run=run, user=colleague, answers=answer_values(run, enps=7))
    respondent = sales_team[0]
    client.force_login(respondent)
    before = _snapshot()

    answers = {
        f"question_{key}": value
        for key, value in answer_values(run, enps=3, text="Too many meetings").items()
    }
    response = client.post(reverse("web:people_answer", args=[run.pk]), answers, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 302

    after = _snapshot()
    added = {key: after[key] for key in after.keys() - before.keys()}
    removed = before.keys() - after.keys()
    changed = {key for key in before.keys() & after.keys() if before[key] != after[key]}

    # The only row that changed is the respondent's invitation, and only its answered flag.
    invitation = SurveyInvitation.objects.get(run=run, user=respondent)
    invitation_key = (SurveyInvitation._meta.label, str(invitation.pk))
    session_keys = {key for key in changed if key[0] == "sessions.Session"}
    assert changed - session_keys == {invitation_key}
    diff = {
        name for name in before[invitation_key] if before[invitation_key][name] != after[invitation_key][name]
    }
    assert diff == {"is_answered"}
    assert not removed

    # The only new row is the sealed response: no audit entry, no task, no log of any kind, and
    # nothing readable: the answers wait, encrypted, for a batch of at least the threshold.
    assert {key[0] for key in added} == {SealedResponse._meta.label}
    sealed = SealedResponse.objects.get(pk=next(key[1] for key in added))
    assert "Too many meetings" not in sealed.sealed and '"' not in sealed.sealed
    assert not SurveyResponse.objects.filter(run=run).exists()

    # No new row carries the respondent's id in a user column, the IP, or the username, anywhere.
    for (label, _pk), values in added.items():
        model = apps.get_model(label)
        assert all(values[name] != respondent.pk for name in _references_user(model))
        text = " ".join(str(value) for value in values.values())
        assert "203.0.113.7" not in text
        assert respondent.username not in text

    # The sealed row's random key appears in no row outside the response tables (the session included).
    key_forms = {str(sealed.pk), sealed.pk.hex}
    for (label, _pk), values in after.items():
        if label == SealedResponse._meta.label:
            continue
        text = " ".join(str(value) for value in values.values())
        assert not any(form in text for form in key_forms), f"{label} mentions the response"


def test_a_response_from_a_small_team_does_not_name_the_team(today, manager, team, sales_team):
    from dealflow.people import services
    from dealflow.people.tests.factories import SurveyFactory, team_with_reps

    tiny, members = team_with_reps("Tiny", size=2, manager=manager)
    survey = SurveyFactory(by=manager, teams=[team, tiny], starts_on=today)
    run = survey.runs.get()
    services.survey_response_submit(run=run, user=members[0], answers=answer_values(run))
    assert SealedResponse.objects.get(run=run).team_id is None


@pytest.mark.parametrize("door", ["service", "api"])
def test_no_door_returns_a_handle_on_the_response(door, run, sales_team, client):
    """The service returns nothing and the API answers 204, so no caller holds the response's key."""
    from dealflow.people import services

    respondent = sales_team[0]
    if door == "service":
        assert services.survey_response_submit(run=run, user=respondent, answers=answer_values(run)) is None
        return
    client.force_login(respondent)
    payload = {"answers": {str(key): value for key, value in answer_values(run).items()}}
    reply = client.post(f"/api/v1/people/runs/{run.pk}/responses", payload, content_type="application/json")
    assert reply.status_code == 204 and reply.content == b""


def test_a_crash_while_sealing_keeps_the_person_free_to_answer(run, sales_team, monkeypatch):
    """Claiming the invitation and storing the sealed answer happen in one transaction: a failure in
    between (here the sealing itself) marks nobody answered and keeps nothing, and the answer can be given
    again and is then kept once."""
    from dealflow.people.services import surveys

    person = sales_team[0]

    def broken_seal(value):
        raise OSError("the process died while sealing")

    monkeypatch.setattr(surveys, "seal", broken_seal)
    with pytest.raises(OSError):
        surveys.survey_response_submit(run=run, user=person, answers=answer_values(run))
    invitation = SurveyInvitation.objects.get(run=run, user=person)
    assert not invitation.is_answered
    assert SealedResponse.objects.filter(run=run).count() == 0

    monkeypatch.undo()
    surveys.survey_response_submit(run=run, user=person, answers=answer_values(run))
    invitation.refresh_from_db()
    assert invitation.is_answered
    assert (
        SealedResponse.objects.filter(run=run).count() + SurveyResponse.objects.filter(run=run).count() == 1
    )
