"""Leads: qualification, disqualification and conversion keep what lead metrics need."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from dealflow.core.errors import ApplicationError
from dealflow.deals import services
from dealflow.deals.models import Deal, DealEvent, LeadStatus
from dealflow.deals.tests.factories import LeadFactory, lead_source, stage_named

AMSTERDAM = dt.timezone(dt.timedelta(hours=1))
JANUARY = dt.datetime(2026, 1, 5, 9, 0, tzinfo=AMSTERDAM)


@pytest.mark.django_db
def test_a_lead_needs_a_title_and_a_source(rep):
    with pytest.raises(ApplicationError) as error:
        services.lead_create(title=" ", source=lead_source(), owner=rep)
    assert error.value.field == "title"
    with pytest.raises(ApplicationError) as error:
        services.lead_create(title="Acme", source=None, owner=rep)
    assert error.value.field == "source"


@pytest.mark.django_db
def test_editing_a_new_lead_marks_it_working(rep):
    lead = LeadFactory(owner=rep)
    services.lead_update(lead=lead, data={"has_budget": True, "title": " Acme rollout "})
    lead.refresh_from_db()
    assert (lead.status, lead.title, lead.has_budget) == (LeadStatus.WORKING, "Acme rollout", True)
    with pytest.raises(ApplicationError) as error:
        services.lead_update(lead=lead, data={"source": None})
    assert error.value.field == "source"
    with pytest.raises(ApplicationError) as error:
        services.lead_update(lead=lead, data={"status": "qualified"})
    assert error.value.field == "status"


@pytest.mark.django_db
def test_qualifying_needs_a_need_and_one_more_answer(rep):
    lead = LeadFactory(owner=rep)
    with pytest.raises(ApplicationError) as error:
        services.lead_qualify(lead=lead, has_budget=True, has_authority=True)
    assert error.value.field == "has_need"
    with pytest.raises(ApplicationError):
        services.lead_qualify(lead=lead, has_need=True, has_budget=False, has_authority=False)
    with time_machine.travel(JANUARY, tick=False):
        services.lead_qualify(lead=lead, has_need=True, has_timeline=True)
    lead.refresh_from_db()
    assert (lead.status, lead.qualified_at, lead.qualification_score) == (LeadStatus.QUALIFIED, JANUARY, 2)


@pytest.mark.django_db
def test_disqualifying_needs_a_reason_and_closes_the_lead(rep):
    lead = LeadFactory(owner=rep)
    with pytest.raises(ApplicationError) as error:
        services.lead_disqualify(lead=lead, reason="  ")
    assert error.value.field == "reason"
    assert lead.status == LeadStatus.NEW
    with time_machine.travel(JANUARY, tick=False):
        services.lead_disqualify(lead=lead, reason="Student project")
    lead.refresh_from_db()
    assert (lead.status, lead.disqualified_reason, lead.closed_at) == (
        "disqualified",
        "Student project",
        JANUARY,
    )
    with pytest.raises(ApplicationError, match="already disqualified"):
        services.lead_qualify(lead=lead, has_need=True, has_budget=True)
    with pytest.raises(ApplicationError, match="already disqualified"):
        services.lead_convert(lead=lead, by=rep)


@pytest.mark.django_db
def test_converting_keeps_the_source_and_the_lead_creation_date(rep):
    with time_machine.travel(JANUARY, tick=False):
        lead = LeadFactory(owner=rep, source=lead_source("trade_show"))
    services.lead_qualify(lead=lead, has_need=True, has_budget=True)
    converted_at = JANUARY + dt.timedelta(days=20)
    with time_machine.travel(converted_at, tick=False):
        deal = services.lead_convert(
            lead=lead, by=rep, amount=Decimal("8000"), stage=stage_named("Needs analysis"), origin="api"
        )
    lead.refresh_from_db()
    assert (lead.status, lead.closed_at) == (LeadStatus.CONVERTED, converted_at)
    assert (deal.lead, deal.source.key, deal.lead_created_at, deal.created_at) == (
        lead,
        "trade_show",
        JANUARY,
        converted_at,
    )
    assert (deal.title, deal.owner, deal.stage.name, deal.amount_minor) == (
        lead.title,
        rep,
        "Needs analysis",
        800000,
    )
    assert DealEvent.objects.get(deal=deal).origin == "api"
    # Full cycle length runs from the lead's creation: 20 days as a lead, 30 more as a deal.
    services.deal_mark_won(deal=deal, by=rep, at=converted_at + dt.timedelta(days=30))
    deal.refresh_from_db()
    assert (deal.cycle_days, deal.lead_cycle_days) == (30, 50)


@pytest.mark.django_db
def test_only_a_qualified_lead_converts_and_only_once(rep):
    lead = LeadFactory(owner=rep)
    with pytest.raises(ApplicationError, match="Qualify"):
        services.lead_convert(lead=lead, by=rep)
    services.lead_qualify(lead=lead, has_need=True, has_authority=True)
    services.lead_convert(lead=lead, by=rep)
    with pytest.raises(ApplicationError, match="already converted"):
        services.lead_convert(lead=lead, by=rep)
    assert Deal.objects.filter(lead=lead).count() == 1


@pytest.mark.django_db
def test_a_failed_conversion_leaves_the_lead_qualified(rep):
    lead = LeadFactory(owner=rep)
    services.lead_qualify(lead=lead, has_need=True, has_authority=True)
    with pytest.raises(ApplicationError) as error:
        services.lead_convert(lead=lead, by=rep, amount=Decimal("-5"))
    assert error.value.field == "amount"
    lead.refresh_from_db()
    assert lead.status == LeadStatus.QUALIFIED
    assert not Deal.objects.exists()


@pytest.mark.django_db
def test_qualification_answers_are_yes_or_no(rep):
    lead = LeadFactory(owner=rep)
    with pytest.raises(ApplicationError) as error:
        services.lead_update(lead=lead, data={"has_budget": None})
    assert error.value.field == "has_budget"
    with pytest.raises(ApplicationError):
        services.lead_qualify(lead=lead, has_need="yes", has_budget=True)
    services.lead_update(lead=lead, data={"qualification_notes": None})
    lead.refresh_from_db()
    assert lead.qualification_notes == ""
