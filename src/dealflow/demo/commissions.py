"""Demo data for commissions: a tiered plan for every rep, last quarter's statements approved and paid,
this quarter's drafts, a company contest and the badges earned, so the commission pages are not empty."""

from __future__ import annotations

import datetime as dt
from typing import Any, TextIO

from dealflow.accounts.models import Role, User
from dealflow.commissions.models import CommissionPlan, StatementStatus
from dealflow.commissions.services import gamification, statements
from dealflow.commissions.services.plans import PlanInput, plan_assign, plan_create
from dealflow.core.periods import period_containing


def seed(*, seed: int, today: dt.date, stdout: TextIO | Any = None) -> None:
    """Idempotent per database: nothing is added when the demo plan exists."""
    del seed  # deterministic without randomness
    if CommissionPlan.objects.filter(name="Account executives").exists():
        return
    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    plan = plan_create(
        data=PlanInput(
            name="Account executives",
            description="Demo plan: tiers by quarterly attainment.",
            tier_mode="marginal",
            tiers=[("0", "5"), ("50", "8"), ("100", "12")],
            accelerator_multiplier="1.25",
            clawback_days=90,
        ),
        by=admin,
    )
    plan_assign(plan=plan, role=Role.REP, effective_from=today.replace(year=today.year - 3), by=admin)
    current = period_containing(today, kind="quarter")
    last = current.previous()
    for statement in statements.statements_recompute(period=last):
        if statement.is_draft and admin is not None and statement.user_id != admin.pk:
            statements.statement_approve(statement=statement, by=admin)
            statement.status = StatementStatus.APPROVED
            statements.statement_mark_paid(statement=statement, by=admin)
    statements.statements_recompute(period=current)
    if admin is not None:
        gamification.contest_create(
            name="Quarter sprint",
            measure="won_revenue",
            starts_on=current.start,
            ends_on=current.end - dt.timedelta(days=1),
            target="50000",
            prize="Team dinner",
            by=admin,
        )
    gamification.badges_award(today=today)
    if stdout is not None:
        stdout.write("commissions: plan, statements, contest, badges\n")
