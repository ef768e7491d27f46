"""The leads and activities APIs."""

from __future__ import annotations

import datetime as dt

import pytest

from dealflow.deals.models import Activity, Deal, Lead
from dealflow.deals.tests.factories import DealFactory, LeadFactory, lead_source, stage_named


@pytest.mark.django_db
def test_a_lead_from_creation_to_deal(api_as, rep):
    api = api_as(rep)
    created = api.post("/leads", {"title": "Acme inquiry", "source": "website", "has_need": True})
    assert created.status_code == 201, created.data
    lead_id = created.data["id"]
    assert (created.data["status"], created.data["source"], created.data["qualification_score"]) == (
        "new",
        "website",
        1,
    )
    refused = api.post(f"/leads/{lead_id}/convert", {})
    assert (refused.status_code, refused.data["field"]) == (400, "status")
    not_enough = api.post(f"/leads/{lead_id}/qualify", {})
    assert (not_enough.status_code, not_enough.data["field"]) == (400, "has_need")
    qualified = api.post(f"/leads/{lead_id}/qualify", {"has_budget": True})
    assert (qualified.status_code, qualified.data["status"]) == (200, "qualified")
    converted = api.post(
        f"/leads/{lead_id}/convert", {"amount": "4000", "stage_id": stage_named("Needs analysis").pk}
    )
    assert converted.status_code == 201, converted.data
    lead = Lead.objects.get(pk=lead_id)
    assert (converted.data["source"], converted.data["lead_id"], converted.data["stage"]) == (
        "website",
        lead_id,
        "Needs analysis",
    )
    kept = dt.datetime.fromisoformat(converted.data["lead_created_at"])
    assert abs(kept - lead.created_at) < dt.timedelta(milliseconds=1)  # JSON keeps milliseconds
    assert api.get(f"/leads/{lead_id}").data["deal_id"] == converted.data["id"]
    again = api.post(f"/leads/{lead_id}/convert", {})
    assert again.status_code == 400
    assert Deal.objects.count() == 1


@pytest.mark.django_db
def test_disqualify_needs_a_reason(api_as, rep):
    lead = LeadFactory(owner=rep)
    api = api_as(rep)
    missing = api.post(f"/leads/{lead.pk}/disqualify", {})
    assert (missing.status_code, missing.data["field"]) == (400, "reason")
    blank = api.post(f"/leads/{lead.pk}/disqualify", {"reason": " "})
    assert (blank.status_code, blank.data["field"]) == (400, "reason")
    done = api.post(f"/leads/{lead.pk}/disqualify", {"reason": "No budget this decade"})
    assert (done.data["status"], done.data["disqualified_reason"]) == (
        "disqualified",
        "No budget this decade",
    )


@pytest.mark.django_db
def test_lead_list_filters_and_gates(api_as, rep, manager, outsider):
    LeadFactory(owner=rep, title="Acme", source=lead_source("referral"))
    LeadFactory(owner=rep, title="Globex")
    foreign = LeadFactory(owner=outsider, title="Initech")
    api = api_as(manager)
    assert api.get("/leads").data["count"] == 2
    assert [lead["title"] for lead in api.get("/leads", source="referral").data["items"]] == ["Acme"]
    assert [lead["title"] for lead in api.get("/leads", q="glob").data["items"]] == ["Globex"]
    assert [lead["title"] for lead in api.get("/leads", order="title").data["items"]] == ["Acme", "Globex"]
    assert api.get("/leads", status="new,working").data["count"] == 2
    assert api.get("/leads", status="bogus").status_code == 400
    assert api.get(f"/leads/{foreign.pk}").status_code == 404
    assert api.post(f"/leads/{foreign.pk}/disqualify", {"reason": "Mine now"}).status_code == 404
    patched = api.patch(f"/leads/{foreign.pk}", {"title": "Stolen"})
    assert patched.status_code == 404
    assert Lead.objects.get(pk=foreign.pk).title == "Initech"


@pytest.mark.django_db
def test_lead_edit_marks_it_working(api_as, rep):
    lead = LeadFactory(owner=rep)
    response = api_as(rep).patch(f"/leads/{lead.pk}", {"has_budget": True, "source": "outbound"})
    assert (response.data["status"], response.data["source"], response.data["has_budget"]) == (
        "working",
        "outbound",
        True,
    )


@pytest.mark.django_db
def test_activities_log_schedule_and_complete(api_as, rep, outsider):
    deal = DealFactory(owner=rep)
    api = api_as(rep)
    created = api.post(
        "/activities",
        {"subject": "Demo", "kind": "meeting", "deal_id": deal.pk, "due_at": "2026-05-04T10:00:00+02:00"},
    )
    assert created.status_code == 201, created.data
    assert (created.data["deal"], created.data["is_done"], created.data["owner"]["id"]) == (
        deal.title,
        False,
        rep.pk,
    )
    activity_id = created.data["id"]
    assert api.get("/activities", open=True).data["count"] == 1
    done = api.post(f"/activities/{activity_id}/complete")
    assert done.data["is_done"] is True
    assert api.get("/activities", open=True).data["count"] == 0
    renamed = api.patch(f"/activities/{activity_id}", {"subject": "Demo with IT"})
    assert renamed.data["subject"] == "Demo with IT"
    assert api_as(outsider).get(f"/activities/{activity_id}").status_code == 404
    assert api_as(outsider).post(f"/activities/{activity_id}/complete").status_code == 404
    foreign = api_as(outsider).post("/activities", {"subject": "Snoop", "deal_id": deal.pk})
    assert (foreign.status_code, foreign.data["field"]) == (400, "deal_id")
    bad_kind = api.post("/activities", {"subject": "Fax", "kind": "fax"})
    assert (bad_kind.status_code, bad_kind.data["field"]) == (400, "kind")
    assert Activity.objects.count() == 1


@pytest.mark.django_db
def test_activity_list_counts_up_to_the_cap_and_pages_on_past_it(api_as, rep, outsider, monkeypatch):
    """Issue #19: the total stops at the cap (3 here) and says so; every row stays reachable by offset,
    and what another team owns is never counted or listed."""
    monkeypatch.setattr("dealflow.core.pagination.COUNT_CAP", 3)
    api = api_as(rep)
    for number in range(5):
        assert api.post("/activities", {"subject": f"Call {number}"}).status_code == 201
    assert api_as(outsider).post("/activities", {"subject": "Not yours"}).status_code == 201
    first = api.get("/activities", limit=2).data
    assert (first["count"], first["count_is_capped"], len(first["items"])) == (3, True, 2)
    subjects = [
        item["subject"]
        for offset in (0, 2, 4)
        for item in api.get("/activities", limit=2, offset=offset).data["items"]
    ]
    assert sorted(subjects) == [f"Call {number}" for number in range(5)]
    past = api.get("/activities", limit=2, offset=10).data
    assert (past["count"], past["count_is_capped"], past["items"]) == (3, True, [])
    outsiders = api_as(outsider).get("/activities").data
    assert (outsiders["count"], outsiders["count_is_capped"]) == (1, False)
    assert api.get("/activities", deal=10**9).status_code == 404


@pytest.mark.django_db
def test_a_manager_s_lists_page_owner_by_owner_in_the_list_s_order(api_as, rep, rep2, manager, outsider):
    """Issue #19: a manager's activities and leads (read owner by owner on SQLite) come in the same order and
    pages as one sorted list of the team's records; another team's records never appear."""
    import datetime as dt

    import time_machine

    for number in range(12):
        owner = (rep, rep2, manager)[number % 3]
        with time_machine.travel(dt.datetime(2026, 3, 1 + number % 4, 9, number, tzinfo=dt.UTC), tick=False):
            due = f"2026-04-0{1 + number % 3}T09:00:00Z"  # ties between owners, broken by id
            assert (
                api_as(owner).post("/activities", {"subject": f"Call {number}", "due_at": due}).status_code
                == 201
            )
            assert (
                api_as(owner).post("/leads", {"title": f"Lead {number}", "source": "website"}).status_code
                == 201
            )
    assert api_as(outsider).post("/activities", {"subject": "Not yours"}).status_code == 201
    assert api_as(outsider).post("/leads", {"title": "Not yours", "source": "website"}).status_code == 201
    api = api_as(manager)
    for path, ordered in (
        ("/activities", lambda items: sorted(items, key=lambda item: (item["due_at"], item["id"]))),
        (
            "/leads",
            lambda items: sorted(items, key=lambda item: (item["created_at"], item["id"]), reverse=True),
        ),
    ):
        whole = api.get(path, limit=100).data
        assert whole["count"] == 12
        assert whole["items"] == ordered(whole["items"])
        pages = [
            item for offset in (0, 5, 10) for item in api.get(path, limit=5, offset=offset).data["items"]
        ]
        assert pages == whole["items"]
