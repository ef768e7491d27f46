"""The commission rules as pure functions: credits in, statement lines out (no ORM, docs/commissions.md).

Amounts are integer minor units of the base currency; rates and attainment are Decimal percentages. Every
line is rounded half up to a whole minor unit once, so a statement's total is the sum of its lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

HUNDRED = Decimal(100)
RATE_PLACES = Decimal("0.0001")
PERCENT_PLACES = Decimal("0.01")

CREDIT = "credit"
SPIFF = "spiff"
CLAWBACK = "clawback"
DECELERATOR = "decelerator"
CAP = "cap"

NONE = "none"
MARGINAL = "marginal"
RETROACTIVE = "retroactive"


def round_minor(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def share_minor(amount_minor: int, share: Decimal) -> int:
    """A person's share of an amount: the whole at 100 % (no Decimal work for 9 in 10), else rounded half up."""
    return amount_minor if share == HUNDRED else round_minor(Decimal(amount_minor) * share / HUNDRED)


@dataclass(frozen=True)
class Tier:
    from_percent: Decimal
    rate_percent: Decimal


@dataclass(frozen=True)
class RateRule:
    """A flat rate replacing the tier/base rate: kind product (value = product id), pipeline (pipeline id)
    or deal_type (``new`` / ``upsell``)."""

    kind: str
    value: str
    rate_percent: Decimal
    label: str = ""


@dataclass(frozen=True)
class SpiffTerms:
    spiff_id: int
    name: str
    starts_on: dt.date
    ends_on: dt.date
    pipeline_id: int | None = None
    product_id: int | None = None
    deal_type: str = ""
    min_amount_minor: int = 0
    bonus_minor: int = 0
    rate_percent: Decimal = Decimal(0)


@dataclass(frozen=True)
class PlanTerms:
    plan_id: int
    name: str
    base_rate_percent: Decimal
    tier_mode: str = NONE
    tiers: tuple[Tier, ...] = ()
    accelerator_multiplier: Decimal = Decimal(1)
    decelerator_floor_percent: Decimal | None = None
    decelerator_multiplier: Decimal = Decimal(1)
    cap_minor: int | None = None
    clawback_days: int = 90
    rules: tuple[RateRule, ...] = ()
    spiffs: tuple[SpiffTerms, ...] = ()

    def tier_index_at(self, attainment: Decimal) -> int:
        """Index of the tier reached at ``attainment`` percent (a threshold counts as reached)."""
        index = 0
        for position, tier in enumerate(self.tiers):
            if attainment >= tier.from_percent:
                index = position
        return index

    @cached_property
    def product_rules(self) -> dict[str, RateRule]:
        """The product rules by product id (read once per credit)."""
        return {rule.value: rule for rule in self.rules if rule.kind == "product"}

    @property
    def is_tiered(self) -> bool:
        return self.tier_mode != NONE and bool(self.tiers)


@dataclass(frozen=True)
class Credit:
    """One person's share of one won event: ``credit_minor`` is already converted and multiplied by the
    share; ``deal_minor`` is the whole deal's base-currency value (for SPIFF minimums)."""

    deal_id: int
    event_id: int
    won_on: dt.date
    title: str
    credit_minor: int
    share_percent: Decimal = HUNDRED
    deal_minor: int = 0
    pipeline_id: int | None = None
    deal_type: str = "new"
    # Credit by product (product id -> minor units of this credit), from the deal's lines.
    product_credit: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Clawback:
    """A won event reversed (the deal reopened) within the clawback window: its line, negated."""

    deal_id: int
    event_id: int  # the REOPENED event
    won_event_id: int
    on: dt.date
    title: str
    credit_minor: int  # the original credit (positive); the line carries it negated
    commission_minor: int  # the original commission (positive or zero); negated too
    share_percent: Decimal = HUNDRED
    won_on: dt.date | None = None  # the day of the win it reverses


@dataclass
class Line:
    kind: str
    commission_minor: int
    deal_id: int | None = None
    event_id: int | None = None
    title: str = ""
    on: dt.date | None = None
    credit_minor: int = 0
    share_percent: Decimal | None = None
    rule: str = ""
    tier: str = ""
    rate_percent: Decimal | None = None


@dataclass
class Result:
    lines: list[Line] = field(default_factory=list)
    credit_minor: int = 0
    quota_minor: int | None = None
    attainment_percent: Decimal | None = None

    @property
    def commission_minor(self) -> int:
        return sum(line.commission_minor for line in self.lines)


def attainment_of(credit_minor: int, quota_minor: int | None) -> Decimal | None:
    if not quota_minor:
        return None
    return (Decimal(credit_minor) * HUNDRED / Decimal(quota_minor)).quantize(
        PERCENT_PLACES, rounding=ROUND_HALF_UP
    )


def _flat_rule(terms: PlanTerms, credit: Credit) -> RateRule | None:
    """The pipeline rule, else the deal-type rule, that replaces the rate of a whole credit."""
    if not terms.rules:
        return None
    for kind, value in (("pipeline", str(credit.pipeline_id)), ("deal_type", credit.deal_type)):
        for rule in terms.rules:
            if rule.kind == kind and rule.value == value:
                return rule
    return None


# A person's rate schedule for the period: (low, high or None, rate, tier label, multiplier) segments of
# cumulative credit, in order.
Schedule = list[tuple[Decimal, Decimal | None, Decimal, str, Decimal]]


def _schedule(terms: PlanTerms, *, quota: int | None, final_attainment: Decimal | None) -> Schedule:
    """The tier schedule and the accelerator as segments of cumulative credit: between two points where the
    rate or the multiplier changes, one rate, tier and multiplier. Fixed for the period, so built once per
    plan and person."""
    if not terms.is_tiered:
        steps = [(Decimal(0), terms.base_rate_percent, "")]
    elif quota is None:  # no quota, no attainment: the first tier's rate
        steps = [(Decimal(0), terms.tiers[0].rate_percent, "1")]
    elif terms.tier_mode == RETROACTIVE:
        index = terms.tier_index_at(final_attainment or Decimal(0))
        steps = [(Decimal(0), terms.tiers[index].rate_percent, str(index + 1))]
    else:
        steps = [
            (Decimal(quota) * tier.from_percent / HUNDRED, tier.rate_percent, str(position + 1))
            for position, tier in enumerate(terms.tiers)
        ]
    points = sorted({point for point, _rate, _label in steps} | ({Decimal(quota)} if quota else set()))
    segments: Schedule = []
    for position, low in enumerate(points):
        high = points[position + 1] if position + 1 < len(points) else None
        _point, rate, label = [entry for entry in steps if entry[0] <= low][-1]
        multiplier = terms.accelerator_multiplier if quota and low >= Decimal(quota) else Decimal(1)
        segments.append((low, high, rate, label, multiplier))
    return segments


def _scheduled_commission(
    terms: PlanTerms,
    *,
    start: Decimal,
    amount: Decimal,
    quota: int | None,
    final_attainment: Decimal | None,
    schedule: Schedule | None = None,
) -> tuple[Decimal, str]:
    """Commission of ``amount`` credit placed at cumulative ``start`` under the tier schedule and the
    accelerator (credit above the quota earns its rate times the multiplier). Returns it with the tier label."""
    if amount <= 0:
        return Decimal(0), ""
    segments = (
        schedule if schedule is not None else _schedule(terms, quota=quota, final_attainment=final_attainment)
    )
    end = start + amount
    total = Decimal(0)
    labels: list[str] = []
    for low, high, rate, label, multiplier in segments:
        if high is not None and high <= start:
            continue
        if low >= end:
            break
        slice_low = low if low > start else start
        slice_high = end if high is None or high > end else high
        total += (slice_high - slice_low) * rate / HUNDRED * multiplier
        if label and label not in labels:
            labels.append(label)
    return total, "-".join([labels[0], labels[-1]] if len(labels) > 1 else labels)


def compute_statement(
    *,
    credits: Sequence[tuple[Credit, PlanTerms | None]],
    clawbacks: Sequence[Clawback] = (),
    quota_minor: int | None,
    period_terms: PlanTerms | None,
) -> Result:
    """The computed lines of one person's period: a line per credit (rated under the plan in force on its
    won date), SPIFF lines, clawback lines, then the decelerator and the cap of ``period_terms`` (the plan
    in force at the end of the period). Credits are placed in won order (date, then event id)."""
    ordered = sorted(credits, key=lambda item: (item[0].won_on, item[0].event_id))
    result = Result(quota_minor=quota_minor)
    result.credit_minor = sum(credit.credit_minor for credit, _terms in ordered)
    # Tiers and the floor compare the exact attainment: 99.999 % has not reached a 100 % tier, though it
    # shows as 100.00 % when rounded for display.
    final = Decimal(result.credit_minor) * HUNDRED / Decimal(quota_minor) if quota_minor else None
    result.attainment_percent = attainment_of(result.credit_minor, quota_minor)
    cumulative = Decimal(0)
    credit_commission = 0
    spiff_lines: list[Line] = []
    schedules: dict[int, Schedule] = {}
    for credit, terms in ordered:
        start = cumulative
        cumulative += credit.credit_minor
        if terms is None:
            result.lines.append(_credit_line(credit, 0, rule="no plan", tier="", rate=Decimal(0)))
            continue
        if terms.plan_id not in schedules:
            schedules[terms.plan_id] = _schedule(terms, quota=quota_minor, final_attainment=final)
        line = _rate_credit(
            terms,
            credit,
            start=start,
            quota=quota_minor,
            final_attainment=final,
            schedule=schedules[terms.plan_id],
        )
        credit_commission += line.commission_minor
        result.lines.append(line)
        if terms.spiffs:
            spiff_lines.extend(_spiff_lines(terms, credit))
    result.lines.extend(spiff_lines)
    rule_total = credit_commission + sum(line.commission_minor for line in spiff_lines)
    if period_terms is not None:
        floor = period_terms.decelerator_floor_percent
        if floor is not None and final is not None and final < floor and credit_commission:
            cut = -round_minor(
                Decimal(credit_commission) * (Decimal(1) - period_terms.decelerator_multiplier)
            )
            if cut:
                result.lines.append(
                    Line(
                        DECELERATOR,
                        cut,
                        rule=f"attainment {result.attainment_percent} % below the floor {floor.normalize():f} %",
                        rate_percent=period_terms.decelerator_multiplier,
                    )
                )
                rule_total += cut
        cap = period_terms.cap_minor
        if cap is not None and rule_total > cap:
            result.lines.append(Line(CAP, cap - rule_total, rule=f"cap {cap}"))
    for clawback in sorted(clawbacks, key=lambda item: (item.on, item.event_id)):
        result.lines.append(
            Line(
                CLAWBACK,
                -clawback.commission_minor,
                deal_id=clawback.deal_id,
                event_id=clawback.event_id,
                title=clawback.title,
                on=clawback.on,
                credit_minor=-clawback.credit_minor,
                share_percent=clawback.share_percent,
                rule="reopened within the clawback window",
            )
        )
    return result


def _credit_line(credit: Credit, commission: int, *, rule: str, tier: str, rate: Decimal | None) -> Line:
    # Positional, in Line's field order: a quarter makes tens of thousands of these.
    return Line(
        CREDIT,
        commission,
        credit.deal_id,
        credit.event_id,
        credit.title,
        credit.won_on,
        credit.credit_minor,
        credit.share_percent,
        rule,
        tier,
        rate,
    )


def _rate_credit(
    terms: PlanTerms,
    credit: Credit,
    *,
    start: Decimal,
    quota: int | None,
    final_attainment: Decimal | None,
    schedule: Schedule | None = None,
) -> Line:
    """One credit's line: product portions at their product rates, the rest under a pipeline or deal-type
    rule if one matches, else under the tier schedule."""
    exact = Decimal(0)
    rules_used: list[str] = []
    whole = Decimal(credit.credit_minor)
    scheduled_amount = whole
    if credit.product_credit:
        product_rules = terms.product_rules
        for product_id, portion in credit.product_credit:
            rule = product_rules.get(str(product_id))
            if rule is not None and portion > 0:
                exact += Decimal(portion) * rule.rate_percent / HUNDRED
                scheduled_amount -= portion
                rules_used.append(rule.label or f"product {product_id}")
    tier = ""
    flat = _flat_rule(terms, credit)
    if flat is not None:
        exact += scheduled_amount * flat.rate_percent / HUNDRED
        rules_used.append(flat.label or f"{flat.kind} {flat.value}")
    else:
        # Product-ruled credit still counts towards attainment; the scheduled rest sits after it.
        offset = whole - scheduled_amount
        amount, tier = _scheduled_commission(
            terms,
            start=start + offset,
            amount=scheduled_amount,
            quota=quota,
            final_attainment=final_attainment,
            schedule=schedule,
        )
        exact += amount
        if scheduled_amount > 0:
            rules_used.append(terms.name)
    commission = round_minor(exact)
    rate = (
        (exact * HUNDRED / whole).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)
        if credit.credit_minor
        else Decimal(0)
    )
    return _credit_line(credit, commission, rule=", ".join(rules_used), tier=tier, rate=rate)


def _spiff_matches(spiff: SpiffTerms, credit: Credit) -> bool:
    if not spiff.starts_on <= credit.won_on <= spiff.ends_on:
        return False
    if spiff.pipeline_id is not None and spiff.pipeline_id != credit.pipeline_id:
        return False
    if spiff.product_id is not None and spiff.product_id not in {pid for pid, _ in credit.product_credit}:
        return False
    if spiff.deal_type and spiff.deal_type != credit.deal_type:
        return False
    return credit.deal_minor >= spiff.min_amount_minor


def _spiff_lines(terms: PlanTerms, credit: Credit) -> list[Line]:
    lines = []
    for spiff in terms.spiffs:
        if not _spiff_matches(spiff, credit):
            continue
        exact = (
            Decimal(spiff.bonus_minor) * credit.share_percent / HUNDRED
            + Decimal(credit.credit_minor) * spiff.rate_percent / HUNDRED
        )
        lines.append(
            Line(
                SPIFF,
                round_minor(exact),
                deal_id=credit.deal_id,
                event_id=credit.event_id,
                title=credit.title,
                on=credit.won_on,
                credit_minor=0,
                share_percent=credit.share_percent,
                rule=spiff.name,
                rate_percent=spiff.rate_percent or None,
            )
        )
    return lines


@dataclass(frozen=True)
class NextTier:
    tier_number: int
    rate_percent: Decimal
    from_percent: Decimal
    credit_needed_minor: int  # more credit needed to reach it


def next_tier(terms: PlanTerms, *, credit_minor: int, quota_minor: int | None) -> NextTier | None:
    """The next tier above the current attainment and the credit it takes to reach it (None at the top)."""
    if not quota_minor or not terms.is_tiered:
        return None
    attainment = Decimal(credit_minor) * HUNDRED / Decimal(quota_minor)
    for position, tier in enumerate(terms.tiers):
        if tier.from_percent > attainment:
            threshold = Decimal(quota_minor) * tier.from_percent / HUNDRED
            needed = int((threshold - Decimal(credit_minor)).to_integral_value(rounding="ROUND_CEILING"))
            return NextTier(position + 1, tier.rate_percent, tier.from_percent, needed)
    return None
