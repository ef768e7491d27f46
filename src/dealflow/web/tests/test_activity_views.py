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


def test_each_section_shows_a_page_with_the_full_count_and_more_on_request(client, rep, monkeypatch):
    """Issue #19: My activities of a rep with hundreds of open activities was 1.3 MB of HTML. Each section
    shows a page of rows, the badge counts them all, and "Load more" answers the next rows."""
    monkeypatch.setattr(activity_views, "SECTION_PAGE", 3)
    for number in range(7):
        services.activity_create(
            owner=rep, subject=f"Old call {number}", kind="call", due_at=_utc(20, 8 + number)
        )
    services.activity_create(owner=rep, subject="Later", kind="task", due_at=_utc(28, 9))
    client.force_login(rep)
    response = client.get(reverse("web:my_activities"))
    sections = {section["key"]: section for section in response.context["sections"]}
    assert [item.subject for item in sections["overdue"]["items"]] == [
        "Old call 0",
        "Old call 1",
        "Old call 2",
    ]
    assert (sections["overdue"]["count"], sections["today"]["count"], sections["upcoming"]["count"]) == (
        7,
        0,
        1,
    )
    assert response.context["total"] == 8
    assert sections["upcoming"]["more_url"] is None
    more = sections["overdue"]["more_url"]
    assert more == "/activities/?section=overdue&offset=3"

    rows = client.get(more, HTTP_HX_REQUEST="true")
    assert [item.subject for item in rows.context["items"]] == ["Old call 3", "Old call 4", "Old call 5"]
    assert rows.context["more_url"] == "/activities/?section=overdue&offset=6"
    assert "<html" not in rows.content.decode()
    last = client.get(rows.context["more_url"], HTTP_HX_REQUEST="true")
    assert [item.subject for item in last.context["items"]] == ["Old call 6"] and last.context[
        "more_url"
    ] is None

    # Without HTMX the page reloads with that section starting there; a bad offset names the parameter.
    page = client.get(more)
    sections = {section["key"]: section for section in page.context["sections"]}
    assert sections["overdue"]["items"][0].subject == "Old call 3"
    refused = client.get("/activities/?section=overdue&offset=-1")
    assert refused.status_code == 400 and "offset" in refused.content.decode()
