"""The deals API: shapes, filters, pagination, the lifecycle actions and every error status."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dealflow.accounts.models import ApiToken
from dealflow.accounts.services import token_revoke
from dealflow.deals import services
from dealflow.deals.models import Deal, DealEvent
from dealflow.deals.tests.factories import DealFactory, lost_reason, stage_named


@pytest.mark.django_db
def test_create_and_read_a_deal(api_as, rep):
    api = api_as(rep)
    response = api.post(
        "/deals",
        {"title": "Acme rollout", "amount": "12500.50", "currency": "usd", "expected_close_on": "2026-06-30"},
    )
    assert response.status_code == 201, response.data
    body = response.data
    assert (body["title"], body["amount"], body["currency"], body["stage"], body["status"]) == (
        "Acme rollout",
        "12500.50",
        "USD",
        "Qualification",
        "open",
    )
    assert (body["probability"], body["forecast_category"], body["version"]) == (10, "pipeline", 1)
    assert body["owner"] == {"id": rep.pk, "username": "rep", "name": "Rita Rep"}
    assert DealEvent.objects.get(deal_id=body["id"]).origin == "api"
    assert api.get(f"/deals/{body['id']}").data == body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "X", "amount": "-1"}, "amount"),
        ({"title": "X", "amount": "lots"}, "amount"),
        ({"title": "X", "currency": "EURO"}, "currency"),
        ({"title": "X", "expected_close_on": "next week"}, "expected_close_on"),
        ({"title": "X", "stage_id": 999999}, "stage_id"),
        ({"title": "X", "organization_id": 999999}, "organization_id"),
        ({"title": "X", "source": "carrier-pigeon"}, "source"),
        ({"amount": "5"}, "title"),
    ],
)
def test_bad_input_answers_400_naming_the_field(api_as, rep, payload, field):
    response = api_as(rep).post("/deals", payload)
    assert response.status_code == 400, response.data
    assert response.data["field"] == field
    assert response.data["detail"]
    assert not Deal.objects.exists()


@pytest.mark.django_db
def test_a_rep_cannot_create_deals_for_others_but_a_manager_can_for_the_team(
    api_as, rep, rep2, manager, outsider
):
    response = api_as(rep).post("/deals", {"title": "Gift", "owner_id": rep2.pk})
    assert (response.status_code, response.data["field"]) == (400, "owner_id")
    response = api_as(manager).post("/deals", {"title": "Assigned", "owner_id": rep2.pk})
    assert (response.status_code, response.data["owner"]["id"]) == (201, rep2.pk)
    response = api_as(manager).post("/deals", {"title": "Poach", "owner_id": outsider.pk})
    assert response.status_code == 400


@pytest.mark.django_db
def test_visibility_404_for_outsiders_403_for_read_only(api_as, rep, outsider, analyst):
    deal = DealFactory(owner=rep)
    for path in (f"/deals/{deal.pk}", f"/deals/{deal.pk}/events"):
        assert api_as(outsider).get(path).status_code == 404
        assert api_as(analyst).get(path).status_code == 200
    response = api_as(outsider).post(f"/deals/{deal.pk}/win", {})
    assert (response.status_code, response.data) == (404, {"detail": "Not found.", "field": None})
    response = api_as(analyst).post(f"/deals/{deal.pk}/win", {})
    assert response.status_code == 403
    assert api_as(analyst).post("/deals", {"title": "Mine"}).status_code == 403
    assert Deal.objects.get(pk=deal.pk).status == "open"


@pytest.mark.django_db
def test_anonymous_answers_401(api_as, rep):
    deal = DealFactory(owner=rep)
    for response in (api_as().get("/deals"), api_as().get(f"/deals/{deal.pk}"), api_as().post("/deals", {})):
        assert response.status_code == 401
        assert response.data["detail"]


@pytest.mark.django_db
def test_list_filters_orders_and_paginates_with_a_total(api_as, rep, manager):
    titles = ["Delta", "Alpha", "Charlie", "Bravo", "Echo"]
    for number, title in enumerate(titles):
        DealFactory(
            owner=rep,
            title=title,
            amount=Decimal(number * 100),
            expected_close_on=dt.date(2026, 1 + number, 1),
        )
    DealFactory(owner=manager, title="Foxtrot")
    api = api_as(manager)
    page = api.get("/deals", order="title", limit=2, offset=1, owner=rep.pk).data
    assert (page["count"], page["limit"], page["offset"]) == (5, 2, 1)
    assert [deal["title"] for deal in page["items"]] == ["Bravo", "Charlie"]
    page = api.get("/deals", order="-amount", close_from="2026-02-01", close_to="2026-04-01").data
    assert [deal["title"] for deal in page["items"]] == ["Bravo", "Charlie", "Alpha"]
    assert [deal["amount"] for deal in page["items"]] == ["300.00", "200.00", "100.00"]
    assert api.get("/deals", q="fox").data["count"] == 1
    assert api.get("/deals", status="won").data["count"] == 0
    assert api_as(rep).get("/deals").data["count"] == 5


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"order": "password"}, "order"),
        ({"status": "closed"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"owner": "me"}, "owner"),
        ({"close_from": "yesterday"}, "close_from"),
    ],
)
def test_bad_list_parameters_answer_400(api_as, rep, query, field):
    response = api_as(rep).get("/deals", **query)
    assert (response.status_code, response.data["field"]) == (400, field)


@pytest.mark.django_db
def test_update_with_the_current_version_then_a_stale_one_answers_409(api_as, rep):
    deal = DealFactory(owner=rep, amount=Decimal("1000"))
    api = api_as(rep)
    response = api.patch(
        f"/deals/{deal.pk}",
        {"version": 1, "amount": "1500", "expected_close_on": "2026-09-30", "note": "Scope up"},
    )
    assert response.status_code == 200, response.data
    assert (response.data["amount"], response.data["version"], response.data["expected_close_on"]) == (
        "1500.00",
        2,
        "2026-09-30",
    )
    stale = api.patch(f"/deals/{deal.pk}", {"version": 1, "amount": "9999"})
    assert stale.status_code == 409
    assert (stale.data["field"], stale.data["current_version"], stale.data["your_version"]) == (
        "version",
        2,
        1,
    )
    assert Deal.objects.get(pk=deal.pk).amount_minor == 150000
    events = DealEvent.objects.filter(deal=deal).order_by("id")
    assert [(event.kind, event.origin, event.note) for event in events] == [
        ("created", "", ""),
        ("amount_changed", "api", "Scope up"),
        ("close_date_changed", "api", "Scope up"),
    ]


@pytest.mark.django_db
def test_update_needs_a_version_and_refuses_status_fields(api_as, rep):
    deal = DealFactory(owner=rep)
    response = api_as(rep).patch(f"/deals/{deal.pk}", {"amount": "5"})
    assert (response.status_code, response.data["field"]) == (400, "version")
    response = api_as(rep).patch(f"/deals/{deal.pk}", {"version": 1, "status": "won"})
    assert response.status_code == 200  # unknown fields are ignored by the schema, and status stays
    assert response.data["status"] == "open"


@pytest.mark.django_db
def test_move_win_lose_reopen_and_the_events(api_as, rep, rate_usd):
    deal = DealFactory(owner=rep, amount=Decimal("100"), currency="USD")
    api = api_as(rep)
    moved = api.post(f"/deals/{deal.pk}/move", {"stage_id": stage_named("Proposal").pk, "version": 1})
    assert (moved.status_code, moved.data["stage"], moved.data["probability"]) == (200, "Proposal", 45)
    assert moved.data["forecast_category"] == "best_case"
    stale = api.post(f"/deals/{deal.pk}/move", {"stage_id": stage_named("Closing").pk, "version": 1})
    assert stale.status_code == 409
    wrong = api.post(f"/deals/{deal.pk}/move", {"stage_id": stage_named("Won").pk})
    assert (wrong.status_code, wrong.data["field"]) == (400, "stage")
    no_reason = api.post(f"/deals/{deal.pk}/lose", {})
    assert (no_reason.status_code, no_reason.data["field"]) == (400, "reason")
    lost = api.post(f"/deals/{deal.pk}/lose", {"reason_id": lost_reason("Timing").pk, "note": "Next year"})
    assert (lost.data["status"], lost.data["lost_reason"], lost.data["probability"]) == ("lost", "Timing", 0)
    assert lost.data["forecast_category"] == "closed"
    reopened = api.post(f"/deals/{deal.pk}/reopen", {"stage_id": stage_named("Negotiation").pk})
    assert (reopened.data["status"], reopened.data["stage"]) == ("open", "Negotiation")
    won = api.post(f"/deals/{deal.pk}/win", {"version": reopened.data["version"]})
    assert (won.data["status"], won.data["amount_base"], won.data["version"]) == ("won", "90.00", 5)
    events = api.get(f"/deals/{deal.pk}/events").data
    assert events["count"] == 5
    assert [(event["kind"], event["to_value"]) for event in events["items"]] == [
        ("created", "Qualification"),
        ("stage_changed", "Proposal"),
        ("lost", "Timing"),
        ("reopened", "Negotiation"),
        ("won", "Won"),
    ]
    assert events["items"][1]["actor"]["username"] == "rep"
    assert {event["origin"] for event in events["items"][1:]} == {"api"}
    follow_up = api.get("/activities", deal=deal.pk).data["items"]
    assert [activity["origin"] for activity in follow_up] == ["post_sale"]


@pytest.mark.django_db
def test_bearer_tokens_read_and_write_by_scope(api_as, rep):
    deal = DealFactory(owner=rep)
    reader = api_as(rep, scope="read")
    assert reader.get(f"/deals/{deal.pk}").status_code == 200
    refused = reader.post(f"/deals/{deal.pk}/win", {})
    assert refused.status_code == 403
    assert "only read" in refused.data["detail"]
    assert Deal.objects.get(pk=deal.pk).status == "open"
    writer = api_as(rep, scope="write")
    assert writer.post(f"/deals/{deal.pk}/win", {}).status_code == 200
    bogus = api_as()
    bogus.headers = {"HTTP_AUTHORIZATION": "Bearer dfl_not-a-token"}
    assert bogus.get("/deals").status_code == 401


@pytest.mark.django_db
def test_a_revoked_token_stops_working(api_as, rep):
    writer = api_as(rep, scope="write")
    assert writer.get("/deals").status_code == 200
    token_revoke(token=ApiToken.objects.get(user=rep))
    assert writer.get("/deals").status_code == 401


@pytest.mark.django_db
def test_session_writes_need_the_csrf_token(rep):
    import json

    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    response = client.post("/api/v1/deals", json.dumps({"title": "X"}), content_type="application/json")
    assert response.status_code == 403
    assert not Deal.objects.exists()


@pytest.mark.django_db
def test_a_manager_edits_a_team_deal_and_hands_it_over(api_as, rep, rep2, manager):
    deal = DealFactory(owner=rep)
    response = api_as(manager).patch(f"/deals/{deal.pk}", {"version": 1, "owner_id": rep2.pk})
    assert (response.status_code, response.data["owner"]["id"]) == (200, rep2.pk)
    assert DealEvent.objects.filter(deal=deal, kind="owner_changed", actor=manager).count() == 1
    assert api_as(rep).get(f"/deals/{deal.pk}").status_code == 404  # no longer hers, team not shared


@pytest.mark.django_db
def test_an_upsell_names_its_parent(api_as, rep, outsider):
    parent = DealFactory(owner=rep)
    services.deal_mark_won(deal=parent, by=rep)
    response = api_as(rep).post("/deals", {"title": "Upsell", "parent_id": parent.pk})
    assert (response.status_code, response.data["parent_id"]) == (201, parent.pk)
    response = api_as(outsider).post("/deals", {"title": "Upsell", "parent_id": parent.pk})
    assert (response.status_code, response.data["field"]) == (400, "parent_id")


@pytest.mark.django_db
def test_closed_and_created_date_filters(api_as, rep):
    early = DealFactory(owner=rep, title="Early", at=dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC))
    late = DealFactory(owner=rep, title="Late", at=dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC))
    services.deal_mark_won(deal=early, by=rep, at=dt.datetime(2026, 4, 2, 12, tzinfo=dt.UTC))
    services.deal_mark_won(deal=late, by=rep, at=dt.datetime(2026, 5, 2, 12, tzinfo=dt.UTC))
    api = api_as(rep)
    assert [deal["title"] for deal in api.get("/deals", created_from="2026-02-01").data["items"]] == ["Late"]
    assert [deal["title"] for deal in api.get("/deals", closed_to="2026-04-30").data["items"]] == ["Early"]


@pytest.mark.django_db
def test_the_list_reads_a_fixed_number_of_queries(api_as, rep, django_assert_max_num_queries, settings):
    # The rate limit writes its count every tenth request (accounts/ratelimit.py): not part of this count.
    settings.DEALFLOW = {**settings.DEALFLOW, "API_RATE_LIMIT_PER_MINUTE": 0}
    for number in range(3):
        DealFactory(owner=rep, title=f"Deal {number}")
    api = api_as(rep)
    api.get("/deals")  # warm the session

    def count_queries(limit: int) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert api.get("/deals", limit=limit).status_code == 200
        return len(queries)

    few = count_queries(1)
    for number in range(3, 20):
        DealFactory(owner=rep, title=f"Deal {number}")
    assert count_queries(20) == few  # no query per deal (N+1)
    # session, user, roles and team members (one query), the page with its total, and one UNION of the
    # page's owners, stages, pipelines, organizations, persons, sources and lost reasons
    with django_assert_max_num_queries(5):
        api.get("/deals", limit=20)


@pytest.mark.django_db
def test_the_list_speaks_exactly_the_single_deal_shape(api_as, rep, manager):
    """The list renders its rows without the schema (the hot path); every item must still be what the
    schema-validated single-deal answer says, for deals with and without each relation."""
    from dealflow.api.deals import DealOut
    from dealflow.api.schemas import PageOut
    from dealflow.contacts.tests.factories import PersonFactory
    from dealflow.deals.models import Lead
    from dealflow.deals.tests.factories import lead_source

    full = DealFactory(
        owner=rep,
        title="Full",
        amount=Decimal("1234.5"),
        currency="USD",
        person=PersonFactory(first_name="", last_name=""),
    )
    services.deal_update(
        deal=full, by=rep, data={"source": lead_source(), "probability_override": 35, "next_step": "Call"}
    )
    bare = DealFactory(owner=rep, title="Bare", organization=None, amount=Decimal("0"))
    lost = DealFactory(owner=rep, title="Lost")
    services.deal_mark_lost(deal=lost, by=rep, reason=lost_reason())
    won = DealFactory(owner=rep, title="Won", amount=Decimal("5000"))
    services.deal_mark_won(deal=won, by=rep)
    assert Lead.objects.count() == 0
    api = api_as(manager, scope="read")
    page = api.get("/deals", limit=10).data
    PageOut[DealOut].model_validate(page)  # the schema the OpenAPI document promises
    assert page["count"] == 4
    for item in page["items"]:
        assert item == api.get(f"/deals/{item['id']}").data, item["title"]
    by_title = {item["title"]: item for item in page["items"]}
    assert by_title["Full"]["person"] == full.person.email  # no first name: falls back like the UI
    assert (by_title["Full"]["source"], by_title["Full"]["probability"]) == ("website", 35)
    assert (by_title["Bare"]["id"], by_title["Bare"]["organization"], by_title["Bare"]["amount"]) == (
        bare.pk,
        None,
        "0.00",
    )
    assert (by_title["Lost"]["lost_reason"], by_title["Lost"]["probability"]) == ("Price", 0)
    assert (by_title["Won"]["forecast_category"], by_title["Won"]["amount_base"]) == ("closed", "5000.00")
    assert by_title["Full"]["owner"] == {"id": rep.pk, "username": "rep", "name": "Rita Rep"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("get", "/deals/99999999999999999999", None, "deal_id"),
        ("get", "/deals?owner=99999999999999999999", None, "owner"),
        ("post", "/deals", {"title": "X", "stage_id": 2**64}, "stage_id"),
        ("patch", "/deals/1", {"version": 2**40}, "version"),
        ("get", "/deals?offset=99999999999999999999", None, "offset"),
    ],
)
def test_numbers_the_database_cannot_hold_are_a_400(api_as, rep, method, path, payload, field):
    DealFactory(owner=rep)
    api = api_as(rep)
    response = api.get(path) if method == "get" else getattr(api, method)(path, payload)
    assert (response.status_code, response.data["field"]) == (400, field)
