"""Helpers that build commission data through the services (plans, assignments, won deals at a moment)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from dealflow.accounts.models import User
from dealflow.commissions.models import CommissionPlan
from dealflow.commissions.services.plans import PlanInput, plan_assign, plan_create
from dealflow.deals import services as deal_services
from dealflow.deals.models import Deal
from dealflow.deals.tests.factories import DealFactory


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def plan_for(
    user: User | None, *, name: str = "Standard", since: dt.date = dt.date(2026, 1, 1), **terms: Any
) -> CommissionPlan:
    terms.setdefault("base_rate_percent", "10")
    plan = plan_create(data=PlanInput(name=name, **terms), by=None)
    if user is not None:
        plan_assign(plan=plan, user=user, effective_from=since, by=None)
    return plan


def won_deal(
    owner: User, amount: str | Decimal, day: dt.date, *, currency: str = "EUR", title: str = "", **extra: Any
) -> Deal:
    created = day - dt.timedelta(days=10)
    deal = DealFactory(
        owner=owner,
        amount=Decimal(amount),
        currency=currency,
        at=at(created),
        title=title or f"Deal {amount} {day}",
        **extra,
    )
    return deal_services.deal_mark_won(deal=deal, by=owner, at=at(day), schedule_follow_up=False)


def reopen(deal: Deal, day: dt.date) -> Deal:
    return deal_services.deal_reopen(deal=deal, by=deal.owner, at=at(day))
