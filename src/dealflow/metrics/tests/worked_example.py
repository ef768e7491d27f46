"""The fully worked example of docs/metrics.md, built through the services (so every table is filled).

Today is 2026-10-15; the period is 2026-Q3 (1 July - 30 September), the previous one 2026-Q2. All times
are 10:00 UTC (12:00 in Amsterdam), so every date below is also the local date.

Team Benelux: rep, rep2 (and manager). Team DACH: outsider. USD is worth 0.9 EUR.

    lead  owner  source    created     became
    L0    rep    website   2026-05-01  deal E
    L1    rep    referral  2026-07-01  deal A
    L2    rep    website   2026-07-05  deal B
    L3    rep2   website   2026-08-01  -
    L4    rep2   referral  2026-08-15  -

    deal  owner     amount      created     history
    A     rep       10,000 EUR  2026-07-10  Needs analysis 07-15, Proposal 07-25, won 08-09
    B     rep       20,000 EUR  2026-07-20  Proposal 07-22 (skips Needs analysis), lost 08-20
    C     rep2       5,000 USD  2026-07-01  Needs analysis 07-11, Proposal 07-21, back to Needs analysis
                                            07-31, Proposal 08-10, won 09-09 (4,500 EUR at close)
    D     rep2       8,000 EUR  2026-08-01  stays in Qualification; close date 08-31, pushed to 09-15 on 08-20
    E     rep        6,000 EUR  2026-05-10  Needs analysis 05-20, won 07-20
    F     rep       12,000 EUR  2026-04-01  lost 06-30
    G     rep2       3,000 EUR  2026-04-15  won 05-15
    H     outsider  50,000 EUR  2026-07-05  won 07-30 (only admins and analysts see it)
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dealflow.accounts.models import User
from dealflow.deals import services
from dealflow.deals.models import Deal, Lead
from dealflow.deals.tests.factories import DealFactory, LeadFactory, lead_source, lost_reason, stage_named

TODAY = dt.datetime(2026, 10, 15, 10, 0, tzinfo=dt.UTC)


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 10, 0, tzinfo=dt.UTC)


def _lead(owner: User, source: str, created: dt.datetime) -> Lead:
    return LeadFactory(owner=owner, source=lead_source(source), at=created)


def _convert(lead: Lead, by: User, amount: str, created: dt.datetime) -> Deal:
    services.lead_qualify(lead=lead, by=by, has_need=True, has_budget=True)
    return services.lead_convert(lead=lead, by=by, amount=Decimal(amount), at=created)


def worked_example_build(*, rep: User, rep2: User, outsider: User) -> dict[str, Deal]:
    """Create the leads and deals of the worked example; returns the deals by letter."""
    qualification, needs, proposal = (
        stage_named(name) for name in ("Qualification", "Needs analysis", "Proposal")
    )
    move, won, lost = services.deal_move_to_stage, services.deal_mark_won, services.deal_mark_lost

    lead_zero = _lead(rep, "website", at(5, 1))
    lead_one = _lead(rep, "referral", at(7, 1))
    lead_two = _lead(rep, "website", at(7, 5))
    _lead(rep2, "website", at(8, 1))
    _lead(rep2, "referral", at(8, 15))

    deal_e = _convert(lead_zero, rep, "6000", at(5, 10))
    move(deal=deal_e, stage=needs, by=rep, at=at(5, 20))
    won(deal=deal_e, by=rep, at=at(7, 20))

    deal_f = DealFactory(owner=rep, amount=Decimal("12000"), at=at(4, 1), title="F")
    lost(deal=deal_f, reason=lost_reason(), by=rep, at=at(6, 30))

    deal_g = DealFactory(owner=rep2, amount=Decimal("3000"), at=at(4, 15), title="G")
    won(deal=deal_g, by=rep2, at=at(5, 15))

    deal_a = _convert(lead_one, rep, "10000", at(7, 10))
    move(deal=deal_a, stage=needs, by=rep, at=at(7, 15))
    move(deal=deal_a, stage=proposal, by=rep, at=at(7, 25))
    won(deal=deal_a, by=rep, at=at(8, 9))

    deal_b = _convert(lead_two, rep, "20000", at(7, 20))
    move(deal=deal_b, stage=proposal, by=rep, at=at(7, 22))
    lost(deal=deal_b, reason=lost_reason(), by=rep, at=at(8, 20))

    deal_c = DealFactory(owner=rep2, amount=Decimal("5000"), currency="USD", at=at(7, 1), title="C")
    move(deal=deal_c, stage=needs, by=rep2, at=at(7, 11))
    move(deal=deal_c, stage=proposal, by=rep2, at=at(7, 21))
    move(deal=deal_c, stage=needs, by=rep2, at=at(7, 31))
    move(deal=deal_c, stage=proposal, by=rep2, at=at(8, 10))
    won(deal=deal_c, by=rep2, at=at(9, 9))

    deal_d = DealFactory(
        owner=rep2,
        amount=Decimal("8000"),
        at=at(8, 1),
        title="D",
        stage=qualification,
        expected_close_on=dt.date(2026, 8, 31),
    )
    services.deal_update(deal=deal_d, by=rep2, data={"expected_close_on": dt.date(2026, 9, 15)}, at=at(8, 20))

    deal_h = DealFactory(owner=outsider, amount=Decimal("50000"), at=at(7, 5), title="H")
    won(deal=deal_h, by=outsider, at=at(7, 30))
    return {
        "A": deal_a,
        "B": deal_b,
        "C": deal_c,
        "D": deal_d,
        "E": deal_e,
        "F": deal_f,
        "G": deal_g,
        "H": deal_h,
    }
