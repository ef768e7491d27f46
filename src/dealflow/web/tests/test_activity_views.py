"""My activities: overdue / today / upcoming buckets in local time, mark done, the one-on-one section."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from dealflow.deals import services
from dealflow.deals.tests.factories import DealFactory
from dealflow.web.views import activities as activity_views

pytestmark = pytest.mark.django_db

# 10:00 in Amsterdam (UTC+1 in November).
FROZEN = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(FROZEN, tick=False):
        yield


def _utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


@pytest.fixture
def planned(rep, rep2):
    deal = DealFactory(title="Acme", owner=rep)
    make = services.activity_create
    return {
        "overdue": make(owner=rep, subject="Overdue call", kind="call", due_at=_utc(25, 15), deal=deal),
        # 23:30 UTC on the 25th is 00:30 on the 26th in Amsterdam: due today, not overdue.
        "today_early": make(owner=rep, subject="Early today", kind="task", due_at=_utc(25, 23, 30)),
        "today": make(owner=rep, subject="Today meeting", kind="meeting", due_at=_utc(26, 15)),
        # 23:30 UTC on the 26th is already the 27th in Amsterdam.
        "tomorrow": make(owner=rep, subject="Tomorrow task", kind="task", due_at=_utc(26, 23, 30)),
        "undated": make(owner=rep, subject="Some day", kind="task"),
        "done": make(owner=rep, subject="Done note", kind="note"),
        "theirs": make(owner=rep2, subject="Ruud's call", kind="call", due_at=_utc(25, 8)),
    }


def _sections(response) -> dict[str, list[str]]:
    return {
        section["key"]: [item.subject for item in section["items"]]
        for section in response.context["sections"]
    }


def test_buckets_follow_the_local_day(client, rep, planned):
    client.force_login(rep)
    response = client.get(reverse("web:my_activities"))
    assert response.status_code == 200
    assert _sections(response) == {
        "overdue": ["Overdue call"],
        "today": ["Early today", "Today meeting"],
        "upcoming": ["Tomorrow task", "Some day"],
    }
    html = response.content.decode()
    assert "Ruud&#x27;s call" not in html and "Done note" not in html
    assert 'href="/deals/' in html  # the overdue call links to its deal


def test_mark_done_over_htmx_returns_the_row(client, rep, planned):
    client.force_login(rep)
    activity = planned["overdue"]
    response = client.post(
        reverse("web:activity_done", args=[activity.pk]), {"show_deal": "1"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="activity-row is-done"' in html and "data-done" in html
    activity.refresh_from_db()
    assert activity.done_at == FROZEN
    assert "Overdue call" not in str(_sections(client.get(reverse("web:my_activities"))))


def test_mark_done_without_htmx_redirects_back(client, rep, planned):
    client.force_login(rep)
    response = client.post(reverse("web:activity_done", args=[planned["today"].pk]), {"next": "/deals/1/"})
    assert response.status_code == 302 and response["Location"] == "/deals/1/"


def test_manager_may_complete_a_team_activity_outsider_may_not(client, manager, outsider, planned):
    client.force_login(outsider)
    assert client.post(reverse("web:activity_done", args=[planned["theirs"].pk])).status_code == 404
    client.force_login(manager)
    assert client.post(reverse("web:activity_done", args=[planned["theirs"].pk])).status_code == 302


def test_one_on_one_section_loads_lazily_when_the_people_route_exists(client, rep, monkeypatch):
    client.force_login(rep)
    monkeypatch.setattr(
        activity_views,
        "url_if_exists",
        lambda name, *args: "/people/action-items/" if name == "web:people_action_items" else None,
    )
    html = client.get(reverse("web:my_activities")).content.decode()
    assert "One-on-one action items" in html
    assert 'hx-get="/people/action-items/" hx-trigger="load"' in html
    monkeypatch.setattr(activity_views, "url_if_exists", lambda name, *args: None)
    assert "One-on-one action items" not in client.get(reverse("web:my_activities")).content.decode()
