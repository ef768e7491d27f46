"""Private notes: only their author reads them, through every door (page, API, .ics, Django admin, CLI)."""

import datetime as dt
import io

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from dealflow.accounts.services import token_create
from dealflow.core.errors import PermissionDeniedError
from dealflow.people import selectors, services
from dealflow.people.models import PrivateNote
from dealflow.people.tests.factories import OneOnOneSeriesFactory

MANAGER_NOTE = "Manager-only: considering a promotion"
REP_NOTE = "Rep-only: thinking about leaving"


@pytest.fixture
def meeting(today, manager, rep):
    series = OneOnOneSeriesFactory(
        manager=manager, rep=rep, first_meeting_at=dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    )
    meeting = series.meetings.get()
    services.meeting_shared_notes_set(meeting=meeting, text="Shared: both see this", by=manager)
    services.private_note_set(meeting=meeting, text=MANAGER_NOTE, by=manager)
    services.private_note_set(meeting=meeting, text=REP_NOTE, by=rep)
    return meeting


def _bearer(user):
    return {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=user, name='t')[1]}"}


def test_selector_returns_only_the_authors_note(meeting, manager, rep, admin_user):
    assert selectors.private_note_text_for_user(meeting=meeting, user=manager) == MANAGER_NOTE
    assert selectors.private_note_text_for_user(meeting=meeting, user=rep) == REP_NOTE
    assert selectors.private_note_text_for_user(meeting=meeting, user=admin_user) == ""


def test_admins_cannot_write_one_either(meeting, admin_user):
    with pytest.raises(PermissionDeniedError):
        services.private_note_set(meeting=meeting, text="admin", by=admin_user)
    assert PrivateNote.objects.count() == 2


def test_meeting_and_series_pages(client, meeting, manager, rep, admin_user):
    expectations = {
        manager: (MANAGER_NOTE, REP_NOTE),
        rep: (REP_NOTE, MANAGER_NOTE),
        admin_user: (None, None),
    }
    for user, (own, other) in expectations.items():
        client.force_login(user)
        pages = [
            client.get(reverse("web:people_meeting", args=[meeting.pk])),
            client.get(reverse("web:people_series", args=[meeting.series_id])),
            client.get(reverse("web:people_home")),
            client.get(reverse("web:people_action_items")),
        ]
        assert all(page.status_code == 200 for page in pages)
        text = "".join(page.content.decode() for page in pages)
        assert "Shared: both see this" in text
        if own:
            assert own in text
        for note in (other, *(() if own else (MANAGER_NOTE, REP_NOTE))):
            if note:
                assert note not in text, f"{user} sees {note!r}"


def test_api(client, meeting, manager, rep, admin_user):
    for user, own in ((manager, MANAGER_NOTE), (rep, REP_NOTE), (admin_user, "")):
        headers = _bearer(user)
        base = f"/api/v1/people/meetings/{meeting.pk}"
        bodies = [
            client.get(base, **headers).content.decode(),
            client.get(f"/api/v1/people/one-on-ones/{meeting.series_id}", **headers).content.decode(),
            client.get("/api/v1/people/one-on-ones", **headers).content.decode(),
            client.get("/api/v1/people/action-items", **headers).content.decode(),
        ]
        note = client.get(f"{base}/private-note", **headers).json()
        assert note["text"] == own
        everything = "".join(bodies)
        for other in {MANAGER_NOTE, REP_NOTE} - {own}:
            assert other not in everything
    response = client.put(
        f"/api/v1/people/meetings/{meeting.pk}/private-note",
        {"text": "x"},
        content_type="application/json",
        **_bearer(admin_user),
    )
    assert response.status_code == 403


def test_calendar_exports(client, meeting, manager):
    client.force_login(manager)
    for url in (
        reverse("web:people_meeting_ics", args=[meeting.pk]),
        reverse("web:people_series_ics", args=[meeting.series_id]),
        f"/api/v1/people/meetings/{meeting.pk}/calendar.ics",
    ):
        body = client.get(url).content.decode()
        assert "BEGIN:VCALENDAR" in body and "Manager-only" not in body and "Rep-only" not in body


def test_not_in_the_django_admin():
    assert PrivateNote not in admin.site._registry


def test_not_in_the_cli(meeting, manager):
    out = io.StringIO()
    call_command("people", "one-on-ones", "--user", manager.username, stdout=out)
    assert "Rita Rep" in out.getvalue()
    assert MANAGER_NOTE not in out.getvalue() and REP_NOTE not in out.getvalue()
