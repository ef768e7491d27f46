"""Plans with their tiers, rate rules and SPIFFs; their assignments to people, teams and roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from dealflow.accounts.models import Role, Team, User
from dealflow.accounts.services import audit_record
from dealflow.commissions.models import (
    CommissionPlan,
    DealType,
    PeriodKind,
    PlanAssignment,
    PlanRateRule,
    PlanTier,
    RuleKind,
    Spiff,
    TierMode,
)
from dealflow.commissions.services import save_fields
from dealflow.core.errors import ApplicationError
from dealflow.core.money import to_minor
from dealflow.deals.services.money import base_currency


def decimal_of(
    value: Any, *, field: str, minimum: Decimal = Decimal(0), maximum: Decimal | None = None
) -> Decimal:
    """A non-negative decimal from user input (either decimal mark), or an error naming the field."""
    text = str(value).strip().replace(",", ".") if value is not None else ""
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError) as error:
        raise ApplicationError(f"{field}: {value!r} is not a number.", field=field) from error
    if not number.is_finite() or number < minimum:
        raise ApplicationError(f"{field} must be a number of at least {minimum}.", field=field)
    if maximum is not None and number > maximum:
        raise ApplicationError(f"{field} must be at most {maximum}.", field=field)
    return number


def money_of(value: Any, *, field: str) -> int:
    return to_minor(str(value).strip().replace(",", "."), base_currency(), field=field)


@dataclass
class PlanInput:
    """What a plan form, the API or a test gives: rates as percentages, money in base-currency units."""

    name: str
    base_rate_percent: Any = 0
    period_kind: str = PeriodKind.QUARTER
    tier_mode: str = TierMode.NONE
    tiers: Sequence[tuple[Any, Any]] = ()  # (from attainment %, rate %)
    accelerator_multiplier: Any = 1
    decelerator_floor_percent: Any = None
    decelerator_multiplier: Any = 1
    cap: Any = None  # base-currency amount
    clawback_days: Any = 90
    description: str = ""
    rules: Sequence[dict[str, Any]] = field(
        default_factory=list
    )  # kind, product_id|pipeline_id|deal_type, rate
    spiffs: Sequence[dict[str, Any]] = field(default_factory=list)


def _validated(data: PlanInput) -> dict[str, Any]:
    name = (data.name or "").strip()
    if not name:
        raise ApplicationError("Give the plan a name.", field="name")
    if data.period_kind not in PeriodKind.values:
        raise ApplicationError("Period must be month or quarter.", field="period_kind")
    if data.tier_mode not in TierMode.values:
        raise ApplicationError("Tier mode must be none, marginal or retroactive.", field="tier_mode")
    tiers = []
    for index, (from_value, rate_value) in enumerate(data.tiers):
        tiers.append(
            (
                decimal_of(from_value, field=f"tiers[{index}].from_percent", maximum=Decimal(10000)),
                decimal_of(rate_value, field=f"tiers[{index}].rate_percent", maximum=Decimal(100)),
            )
        )
    tiers.sort()
    if len({threshold for threshold, _rate in tiers}) != len(tiers):
        raise ApplicationError("Two tiers start at the same attainment.", field="tiers")
    if data.tier_mode != TierMode.NONE:
        if not tiers:
            raise ApplicationError("A tiered plan needs at least one tier.", field="tiers")
        if tiers[0][0] != 0:
            raise ApplicationError("The first tier must start at 0 % attainment.", field="tiers")
    floor = (
        None
        if data.decelerator_floor_percent in (None, "")
        else decimal_of(
            data.decelerator_floor_percent, field="decelerator_floor_percent", maximum=Decimal(1000)
        )
    )
    clawback_days = decimal_of(data.clawback_days, field="clawback_days", maximum=Decimal(3660))
    if clawback_days != clawback_days.to_integral_value():
        raise ApplicationError("Clawback days must be a whole number.", field="clawback_days")
    return {
        "name": name,
        "description": data.description or "",
        "period_kind": data.period_kind,
        "base_rate_percent": decimal_of(
            data.base_rate_percent, field="base_rate_percent", maximum=Decimal(100)
        ),
        "tier_mode": data.tier_mode,
        "accelerator_multiplier": decimal_of(
            data.accelerator_multiplier, field="accelerator_multiplier", maximum=Decimal(100)
        ),
        "decelerator_floor_percent": floor,
        "decelerator_multiplier": decimal_of(
            data.decelerator_multiplier, field="decelerator_multiplier", maximum=Decimal(1)
        ),
        "cap_minor": None if data.cap in (None, "") else money_of(data.cap, field="cap"),
        "clawback_days": int(clawback_days),
        "tiers": tiers,
    }


def _int_or_zero(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _rules(plan: CommissionPlan, rules: Sequence[dict[str, Any]]) -> None:
    from dealflow.deals.models import Pipeline
    from dealflow.products.models import Product

    for index, rule in enumerate(rules):
        kind = rule.get("kind")
        prefix = f"rules[{index}]"
        rate = decimal_of(rule.get("rate_percent"), field=f"{prefix}.rate_percent", maximum=Decimal(100))
        item = PlanRateRule(plan=plan, kind=str(kind), rate_percent=rate)
        if kind == RuleKind.PRODUCT:
            item.product = Product.objects.filter(pk=_int_or_zero(rule.get("product_id"))).first()
            if item.product is None:
                raise ApplicationError("Pick an existing product.", field=f"{prefix}.product_id")
        elif kind == RuleKind.PIPELINE:
            item.pipeline = Pipeline.objects.filter(pk=_int_or_zero(rule.get("pipeline_id"))).first()
            if item.pipeline is None:
                raise ApplicationError("Pick an existing pipeline.", field=f"{prefix}.pipeline_id")
        elif kind == RuleKind.DEAL_TYPE:
            if rule.get("deal_type") not in DealType.values:
                raise ApplicationError("Deal type must be new or upsell.", field=f"{prefix}.deal_type")
            item.deal_type = str(rule["deal_type"])
        else:
            raise ApplicationError(
                "Rule kind must be product, pipeline or deal_type.", field=f"{prefix}.kind"
            )
        item.save()


def _spiffs(plan: CommissionPlan, spiffs: Sequence[dict[str, Any]]) -> None:
    for index, spiff in enumerate(spiffs):
        prefix = f"spiffs[{index}]"
        name = str(spiff.get("name") or "").strip()
        if not name:
            raise ApplicationError("Give the SPIFF a name.", field=f"{prefix}.name")
        try:
            starts_on = dt.date.fromisoformat(str(spiff.get("starts_on")))
            ends_on = dt.date.fromisoformat(str(spiff.get("ends_on")))
        except ValueError as error:
            raise ApplicationError("Dates must read YYYY-MM-DD.", field=f"{prefix}.starts_on") from error
        if ends_on < starts_on:
            raise ApplicationError("A SPIFF must end on or after its start.", field=f"{prefix}.ends_on")
        deal_type = str(spiff.get("deal_type") or "")
        if deal_type and deal_type not in DealType.values:
            raise ApplicationError("Deal type must be new or upsell.", field=f"{prefix}.deal_type")
        Spiff.objects.create(
            plan=plan,
            name=name,
            starts_on=starts_on,
            ends_on=ends_on,
            pipeline_id=spiff.get("pipeline_id") or None,
            product_id=spiff.get("product_id") or None,
            deal_type=deal_type,
            min_amount_minor=money_of(spiff.get("min_amount") or 0, field=f"{prefix}.min_amount"),
            bonus_minor=money_of(spiff.get("bonus") or 0, field=f"{prefix}.bonus"),
            rate_percent=decimal_of(spiff.get("rate_percent") or 0, field=f"{prefix}.rate_percent"),
        )


@transaction.atomic
def plan_create(*, data: PlanInput, by: User | None) -> CommissionPlan:
    """Create a plan with its tiers, rate rules and SPIFFs."""
    values = _validated(data)
    if CommissionPlan.objects.filter(name=values["name"]).exists():
        raise ApplicationError("A plan with this name exists.", field="name")
    tiers = values.pop("tiers")
    plan = CommissionPlan.objects.create(created_by=by, **values)
    PlanTier.objects.bulk_create(
        PlanTier(plan=plan, from_percent=low, rate_percent=rate) for low, rate in tiers
    )
    _rules(plan, data.rules)
    _spiffs(plan, data.spiffs)
    audit_record(actor=by, action="commissions.plan_created", target=plan.name, detail={"plan": plan.pk})
    return plan


@transaction.atomic
def plan_update(*, plan: CommissionPlan, data: PlanInput, by: User | None) -> CommissionPlan:
    """Replace a plan's terms (draft statements follow on their next recompute; approved ones never do)."""
    values = _validated(data)
    if CommissionPlan.objects.filter(name=values["name"]).exclude(pk=plan.pk).exists():
        raise ApplicationError("A plan with this name exists.", field="name")
    tiers = values.pop("tiers")
    for name, value in values.items():
        setattr(plan, name, value)
    save_fields(plan, list(values))
    plan.tiers.all().delete()
    plan.rules.all().delete()
    plan.spiffs.all().delete()
    PlanTier.objects.bulk_create(
        PlanTier(plan=plan, from_percent=low, rate_percent=rate) for low, rate in tiers
    )
    _rules(plan, data.rules)
    _spiffs(plan, data.spiffs)
    audit_record(actor=by, action="commissions.plan_updated", target=plan.name, detail={"plan": plan.pk})
    return plan


@transaction.atomic
def plan_assign(
    *,
    plan: CommissionPlan,
    effective_from: dt.date,
    effective_to: dt.date | None = None,
    user: User | None = None,
    team: Team | None = None,
    role: str = "",
    by: User | None,
) -> PlanAssignment:
    """Assign a plan to exactly one of a user, a team or a role; a user's own assignments never overlap."""
    if sum([user is not None, team is not None, bool(role)]) != 1:
        raise ApplicationError("Assign the plan to one user, one team or one role.", field="assignee")
    if role and role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", field="role")
    if effective_to is not None and effective_to <= effective_from:
        raise ApplicationError("The end must come after the start.", field="effective_to")
    same = PlanAssignment.objects.filter(user=user, team=team, role=role)
    overlapping = same.filter(effective_from__lt=effective_to) if effective_to else same
    overlapping = overlapping.exclude(effective_to__isnull=False, effective_to__lte=effective_from)
    if overlapping.exists():
        raise ApplicationError(
            "This assignee already has a plan in those dates; end it first.", field="effective_from"
        )
    assignment = PlanAssignment.objects.create(
        plan=plan,
        user=user,
        team=team,
        role=role,
        effective_from=effective_from,
        effective_to=effective_to,
        created_by=by,
    )
    audit_record(
        actor=by,
        action="commissions.plan_assigned",
        target=plan.name,
        detail={
            "assignment": assignment.pk,
            "user": user.pk if user else None,
            "team": team.pk if team else None,
            "role": role,
            "from": effective_from.isoformat(),
            "to": effective_to.isoformat() if effective_to else None,
        },
    )
    return assignment


@transaction.atomic
def plan_assignment_end(*, assignment: PlanAssignment, on: dt.date, by: User | None) -> PlanAssignment:
    """End an assignment on a day (exclusive)."""
    if on <= assignment.effective_from:
        raise ApplicationError("The end must come after the start.", field="effective_to")
    assignment.effective_to = on
    save_fields(assignment, ["effective_to"])
    audit_record(
        actor=by,
        action="commissions.plan_assignment_ended",
        target=assignment.plan.name,
        detail={"assignment": assignment.pk, "to": on.isoformat()},
    )
    return assignment
