"""The deal page and new-deal page through the Django client: rep, manager, outsider."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from dealflow.accounts.models import Role
from dealflow.accounts.tests.factories import MembershipFactory, UserFactory
from dealflow.contacts.models import Organization
from dealflow.contacts.tests.factories import OrganizationFactory
from dealflow.deals import services
from dealflow.deals.models import Activity, Deal, DealEvent, DealStatus, EventKind
from dealflow.deals.tests.factories import DealFactory, lost_reason, stage_named

pytestmark = pytest.mark.django_db

FROZEN = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(FROZEN, tick=False):
        yield


@pytest.fixture
def deal(rep, pipeline):
    return DealFactory(title="Acme rollout", owner=rep, amount=Decimal("12000.00"), pipeline=pipeline)


def _page(client, deal):
    return client.get(reverse("web:deal_detail", args=[deal.pk]))


def _post(client, name, deal, data, *args, htmx=False):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    payload = {"version": deal.version, **data}
    return client.post(reverse(name, args=[deal.pk, *args]), payload, **headers)


# ---- access -------------------------------------------------------------------------------------


def test_rep_sees_own_deal_with_stage_bar_and_definition_of_done(client, rep, deal):
    client.force_login(rep)
    response = _page(client, deal)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme rollout" in html
    assert 'aria-current="step" data-stage="Qualification"' in html
    assert "Budget, authority, need and timeline are confirmed" in html  # Qualification's definition of done
    assert 'name="version" value="1"' in html
    assert "csrfmiddlewaretoken" in html


def test_manager_sees_and_may_edit_team_deal(client, manager, deal):
    client.force_login(manager)
    assert _page(client, deal).status_code == 200
    response = _post(client, "web:deal_field_update", deal, {"f-title-title": "Acme rollout II"}, "title")
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.title == "Acme rollout II"


def test_outsider_gets_404_for_another_teams_deal(client, outsider, deal):
    client.force_login(outsider)
    assert _page(client, deal).status_code == 404
    response = _post(client, "web:deal_field_update", deal, {"f-title-title": "Mine now"}, "title")
    assert response.status_code == 404
    assert _post(client, "web:deal_mark_won", deal, {}).status_code == 404
    deal.refresh_from_db()
    assert deal.title == "Acme rollout" and deal.status == DealStatus.OPEN


def test_read_only_teammate_sees_the_deal_without_edit_forms_and_gets_403_on_write(client, team, rep, deal):
    team.reps_see_team_deals = True
    team.save()
    colleague = UserFactory(username="colleague")
    MembershipFactory(user=colleague, team=team, role=Role.REP)
    client.force_login(colleague)
    response = _page(client, deal)
    assert response.status_code == 200
    assert "deal_field_update" not in response.content.decode()
    assert 'class="inplace"' not in response.content.decode()
    assert _post(client, "web:deal_mark_won", deal, {}).status_code == 403


def test_unknown_field_is_404(client, rep, deal):
    client.force_login(rep)
    assert _post(client, "web:deal_field_update", deal, {}, "stage_entered_at").status_code == 404


# ---- in-place edits -----------------------------------------------------------------------------


def test_amount_edit_records_an_event_and_answers_htmx_with_the_workspace(client, rep, deal):
    client.force_login(rep)
    response = _post(
        client,
        "web:deal_field_update",
        deal,
        {"f-amount-amount": "15000", "f-amount-currency": "EUR"},
        "amount",
        htmx=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="deal-workspace"')
    assert 'name="version" value="2"' in html
    deal.refresh_from_db()
    assert deal.amount_minor == 1_500_000
    event = DealEvent.objects.filter(deal=deal, kind=EventKind.AMOUNT_CHANGED).get()
    assert (event.from_value, event.to_value) == ("12000.00 EUR", "15000.00 EUR")
    assert "Amount changed from €12,000.00 to €15,000.00" in html


def test_dutch_amounts_are_shown_and_parsed_the_dutch_way(client, rep, deal):
    rep.language = "nl"
    rep.save()
    client.force_login(rep)
    html = _page(client, deal).content.decode()
    assert "€ 12.000,00" in html
    assert 'name="f-amount-amount" value="12000,00"' in html
    response = _post(
        client,
        "web:deal_field_update",
        deal,
        {"f-amount-amount": "15.000,50", "f-amount-currency": "EUR"},
        "amount",
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.amount_minor == 1_500_050


def test_htmx_success_raises_a_toast(client, rep, deal):
    client.force_login(rep)
    response = _post(client, "web:deal_field_update", deal, {"f-title-title": "New"}, "title", htmx=True)
    assert '"dealflow:toast"' in response["HX-Trigger"]


def test_service_error_shows_next_to_the_field_it_names(client, rep, deal):
    client.force_login(rep)
    response = _post(
        client,
        "web:deal_field_update",
        deal,
        {"f-amount-amount": "10", "f-amount-currency": "E1R"},
        "amount",
    )
    assert response.status_code == 400
    html = response.content.decode()
    # The service names "currency": the message sits in that field's error list, and that form is open.
    currency_block = html.split('id="id_f-amount-currency"')[1].split("</div>")[0]
    assert "three-letter ISO 4217 code" in currency_block
    assert '<details class="inplace" data-field="amount" open>' in html


def test_close_date_owner_probability_category_next_step(client, rep, rep2, manager, deal):
    client.force_login(manager)
    steps = [
        ("expected_close_on", {"f-expected_close_on-expected_close_on": "2026-12-15"}),
        ("owner", {"f-owner-owner": rep2.pk}),
        ("probability", {"f-probability-probability_override": "35"}),
        ("forecast_category", {"f-forecast_category-forecast_category_override": "commit"}),
        ("next_step", {"f-next_step-next_step": "Send proposal", "f-next_step-next_step_on": "2026-12-01"}),
        ("organization", {"f-organization-organization": "Globex"}),
    ]
    for field, data in steps:
        deal.refresh_from_db()
        response = _post(client, "web:deal_field_update", deal, data, field)
        assert response.status_code == 302, (field, response.content.decode()[:2000])
    deal.refresh_from_db()
    assert deal.expected_close_on == dt.date(2026, 12, 15)
    assert deal.owner == rep2
    assert deal.probability_override == 35
    assert deal.forecast_category_override == "commit"
    assert (deal.next_step, deal.next_step_on) == ("Send proposal", dt.date(2026, 12, 1))
    assert deal.organization.name == "Globex"
    assert deal.version == 7
    kinds = set(DealEvent.objects.filter(deal=deal).values_list("kind", flat=True))
    assert {"close_date_changed", "owner_changed", "probability_changed", "category_changed"} <= kinds
    timeline = _page(client, deal).content.decode()
    assert "Owner changed from Rita Rep to Ruud Tweede" in timeline


def test_organization_by_name_reuses_an_existing_one_in_any_case(client, rep, deal):
    existing = OrganizationFactory(name="Initech")
    client.force_login(rep)
    _post(client, "web:deal_field_update", deal, {"f-organization-organization": "initech"}, "organization")
    deal.refresh_from_db()
    assert deal.organization == existing
    assert Organization.objects.filter(name__iexact="initech").count() == 1


def test_rep_cannot_hand_a_deal_to_someone_outside_their_reach(client, rep, outsider, deal):
    client.force_login(rep)
    response = _post(client, "web:deal_field_update", deal, {"f-owner-owner": outsider.pk}, "owner")
    assert response.status_code == 400
    deal.refresh_from_db()
    assert deal.owner == rep


# ---- conflicts ----------------------------------------------------------------------------------


def test_stale_version_shows_what_changed_and_offers_to_reapply(client, rep, manager, deal):
    client.force_login(rep)
    page = _page(client, deal).content.decode()
    snapshot = page.split('name="snapshot" value="')[1].split('"')[0]
    # Meanwhile the manager changes the amount.
    services.deal_update(deal=Deal.objects.get(pk=deal.pk), by=manager, data={"amount": Decimal("9000")})

    response = client.post(
        reverse("web:deal_field_update", args=[deal.pk, "title"]),
        {"version": 1, "snapshot": snapshot, "f-title-title": "Acme rollout (phase 1)"},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else changed this deal" in html
    amount_row = html.split('data-field="amount"')[1].split("</tr>")[0]
    assert "12000.00 EUR" in amount_row and "9000.00 EUR" in amount_row  # was / theirs
    title_row = html.split('<tr data-field="title"')[1].split("</tr>")[0]
    assert "Acme rollout (phase 1)" in title_row  # yours
    deal.refresh_from_db()
    assert deal.title == "Acme rollout"  # nothing overwritten

    reapply = html.split('id="deal-conflict"')[1].split("data-reapply")[0]
    assert 'name="version" value="2"' in reapply
    assert 'name="f-title-title" value="Acme rollout (phase 1)"' in reapply
    response = client.post(
        reverse("web:deal_field_update", args=[deal.pk, "title"]),
        {"version": 2, "f-title-title": "Acme rollout (phase 1)"},
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.amount_minor) == ("Acme rollout (phase 1)", 900_000)


def test_conflict_on_win_over_htmx_answers_200_with_the_panel(client, rep, manager, deal):
    client.force_login(rep)
    services.deal_update(deal=Deal.objects.get(pk=deal.pk), by=manager, data={"title": "Renamed"})
    response = client.post(
        reverse("web:deal_mark_won", args=[deal.pk]), {"version": 1}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="deal-conflict"' in html
    assert "Renamed" in html
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN


def test_tampered_snapshot_is_ignored(client, rep, manager, deal):
    client.force_login(rep)
    services.deal_update(deal=Deal.objects.get(pk=deal.pk), by=manager, data={"title": "Renamed"})
    response = client.post(
        reverse("web:deal_field_update", args=[deal.pk, "title"]),
        {"version": 1, "snapshot": "forged", "f-title-title": "Mine"},
    )
    assert response.status_code == 409
    assert "When you opened it" not in response.content.decode()


# ---- stage, win, lose, reopen, upsell ----------------------------------------------------------


def test_stage_bar_moves_the_deal(client, rep, deal, pipeline):
    client.force_login(rep)
    proposal = stage_named("Proposal", pipeline)
    response = _post(client, "web:deal_stage_update", deal, {"stage": proposal.pk})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.stage == proposal
    html = _page(client, deal).content.decode()
    assert "Stage changed from Qualification to Proposal" in html


def test_stage_of_another_pipeline_is_a_form_error(client, rep, deal):
    other = services.pipeline_create(name="Partners")
    client.force_login(rep)
    response = _post(client, "web:deal_stage_update", deal, {"stage": other.stages.first().pk})
    assert response.status_code == 400
    deal.refresh_from_db()
    assert deal.stage.name == "Qualification"


def test_lose_needs_a_reason_and_records_it(client, rep, deal):
    client.force_login(rep)
    response = _post(client, "web:deal_mark_lost", deal, {"note": "Too expensive"})
    assert response.status_code == 400
    assert (
        '<dialog id="lose-dialog" class="modal" aria-labelledby="lose-title" open>'
        in response.content.decode()
    )
    price = lost_reason("Price")
    response = _post(client, "web:deal_mark_lost", deal, {"reason": price.pk, "note": "Too expensive"})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason, deal.lost_note) == (DealStatus.LOST, price, "Too expensive")
    html = _page(client, deal).content.decode()
    assert "Lost: Price" in html and "Reopen" in html and "Create upsell deal" not in html


def test_win_then_reopen(client, rep, deal):
    client.force_login(rep)
    assert _post(client, "web:deal_mark_won", deal, {}).status_code == 302
    deal.refresh_from_db()
    assert deal.status == DealStatus.WON
    html = _page(client, deal).content.decode()
    assert f'?parent={deal.pk}"' in html  # create upsell deal
    assert Activity.objects.filter(deal=deal, origin="post_sale").exists()
    assert _post(client, "web:deal_reopen", deal, {"stage": ""}).status_code == 302
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN and deal.stage.name == "Qualification"


def test_upsell_deal_has_the_won_deal_as_parent(client, rep, deal):
    services.deal_mark_won(deal=deal, by=rep)
    client.force_login(rep)
    url = reverse("web:deal_create") + f"?parent={deal.pk}"
    form = client.get(url)
    assert form.status_code == 200
    assert "Upsell: Acme rollout" in form.content.decode()
    response = client.post(
        reverse("web:deal_create"),
        {
            "title": "Acme add-on",
            "pipeline": deal.pipeline_id,
            "amount": "3000",
            "currency": "EUR",
            "owner": rep.pk,
            "parent": deal.pk,
        },
    )
    assert response.status_code == 302
    upsell = Deal.objects.get(title="Acme add-on")
    assert upsell.parent == deal
    assert response["Location"] == reverse("web:deal_detail", args=[upsell.pk])


def test_upsell_of_an_open_deal_is_refused(client, rep, deal):
    client.force_login(rep)
    assert client.get(reverse("web:deal_create") + f"?parent={deal.pk}").status_code == 404


# ---- activities on the deal ---------------------------------------------------------------------


def test_add_note_and_planned_call(client, rep, deal):
    client.force_login(rep)
    response = _post(
        client,
        "web:deal_activity_create",
        deal,
        {"kind": "note", "subject": "Budget confirmed", "notes": "CFO ok"},
    )
    assert response.status_code == 302
    response = _post(
        client,
        "web:deal_activity_create",
        deal,
        {"kind": "call", "subject": "Call the CFO", "due_at": "2026-11-28T09:30"},
        htmx=True,
    )
    assert response.status_code == 200
    note = Activity.objects.get(subject="Budget confirmed")
    call = Activity.objects.get(subject="Call the CFO")
    assert note.done_at is not None and note.kind == "note"
    assert call.done_at is None and call.due_at is not None
    html = response.content.decode()
    timeline = html.split('id="timeline-title"')[1]
    planned = html.split('id="planned-title"')[1].split("</section>")[0]
    assert "Budget confirmed" in timeline and "CFO ok" in timeline
    assert "Call the CFO" in planned


def test_activity_without_subject_is_a_field_error(client, rep, deal):
    client.force_login(rep)
    response = _post(client, "web:deal_activity_create", deal, {"kind": "task", "subject": ""})
    assert response.status_code == 400
    assert not Activity.objects.filter(deal=deal).exists()


# ---- new deal -----------------------------------------------------------------------------------


def test_new_deal_page_creates_a_deal(client, rep, pipeline):
    client.force_login(rep)
    assert client.get(reverse("web:deal_create")).status_code == 200
    response = client.post(
        reverse("web:deal_create"),
        {
            "title": "Umbrella",
            "pipeline": pipeline.pk,
            "stage": stage_named("Proposal", pipeline).pk,
            "amount": "2500.50",
            "currency": "eur",
            "expected_close_on": "2027-01-31",
            "organization": "Umbrella Corp",
            "owner": rep.pk,
            "source": "",
        },
    )
    assert response.status_code == 302
    deal = Deal.objects.get(title="Umbrella")
    assert (deal.amount_minor, deal.currency, deal.stage.name) == (250_050, "EUR", "Proposal")
    assert deal.organization.name == "Umbrella Corp"
    assert DealEvent.objects.filter(deal=deal, kind="created", origin="web").exists()


def test_read_only_analyst_cannot_create_deals(client, analyst, pipeline):
    client.force_login(analyst)
    assert client.get(reverse("web:deal_create")).status_code == 403
    response = client.post(
        reverse("web:deal_create"),
        {"title": "Sneaky", "pipeline": pipeline.pk, "currency": "EUR", "owner": analyst.pk},
    )
    assert response.status_code == 403
    assert not Deal.objects.filter(title="Sneaky").exists()
    html = client.get(reverse("web:deal_list")).content.decode()
    assert "New deal" not in html and "bulk-bar" not in html


def test_new_deal_with_bad_currency_shows_the_error_on_currency(client, rep, pipeline):
    client.force_login(rep)
    response = client.post(
        reverse("web:deal_create"),
        {"title": "X", "pipeline": pipeline.pk, "amount": "1", "currency": "12$", "owner": rep.pk},
    )
    assert response.status_code == 400
    html = response.content.decode()
    currency_block = html.split('id="id_currency"')[1].split("</div>")[0]
    assert "ISO 4217" in currency_block
    assert not Deal.objects.filter(title="X").exists()


# ---- escaping and query count -------------------------------------------------------------------


def test_hostile_title_is_escaped(client, rep, pipeline):
    deal = DealFactory(title="<img src=x onerror=alert(1)>", owner=rep, pipeline=pipeline)
    services.activity_create(owner=rep, deal=deal, kind="note", subject="<script>alert(2)</script>")
    client.force_login(rep)
    html = _page(client, deal).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert(2)" not in html


def test_deal_page_query_count_is_fixed(client, rep, deal, django_assert_num_queries, pipeline):
    for number in range(5):
        services.activity_create(owner=rep, deal=deal, kind="call", subject=f"Call {number}")
    services.deal_move_to_stage(deal=deal, stage=stage_named("Proposal", pipeline), by=rep)
    services.deal_update(deal=deal, by=rep, data={"amount": Decimal("1")})
    client.force_login(rep)
    _page(client, deal)  # warm caches (content types, translations)
    # 14 for the deal itself, 6 for what it holds: lines, custom fields, their values, tags, products, quotes;
    # 1 for what automation rules did to it (the timeline).
    with django_assert_num_queries(21):
        assert _page(client, deal).status_code == 200
    for number in range(20):
        services.activity_create(owner=rep, deal=deal, kind="note", subject=f"Note {number}")
        services.deal_update(deal=deal, by=rep, data={"amount": Decimal(number + 2)})
    with django_assert_num_queries(21):
        assert _page(client, deal).status_code == 200
