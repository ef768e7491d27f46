"""Reads for commissions: plan terms, who is credited for a won deal (from the deal history), the inputs
of a period's statements, statements and disputes behind the access gates, earnings and what-if.

Access: a statement is visible to its person, to managers of a team the person is in and to admins
(``owner_visibility_q`` on the statement's user); anything else is a 404. Plans are for admins.
"""

from __future__ import annotations

import bisect
import datetime as dt
import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone

from dealflow.accounts.models import Membership, User
from dealflow.accounts.selectors import owner_editable_q, owner_visibility_q, user_access_scope
from dealflow.commissions import calculations as calc
from dealflow.commissions.models import (
    CommissionPlan,
    CommissionPreference,
    CommissionSettings,
    DealSplit,
    DealType,
    Dispute,
    LineKind,
    PlanAssignment,
    RuleKind,
    Statement,
    StatementLine,
    StatementStatus,
)
from dealflow.core.errors import ApplicationError
from dealflow.core.money import minor_digits
from dealflow.core.periods import Period, parse_period, period_containing
from dealflow.deals.models import Deal, DealEvent, DealStatus, EventKind, ExchangeRate
from dealflow.deals.services.money import base_currency, exchange_rate_on
from dealflow.forecasting.models import Quota

CHUNK = 500


def day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def local_day(moment: dt.datetime) -> dt.date:
    return timezone.localdate(moment) if timezone.is_aware(moment) else moment.date()


@contextmanager
def collection_paused() -> Iterator[None]:
    """Hold Python's cyclic garbage collector while a period's credits are built and rated: the work makes
    hundreds of thousands of short-lived, acyclic objects, and the collections they set off re-scan every
    long-lived object of the process (15-25 % of computing a 1M-deal quarter, measured with the collector
    off and on). Reference counting still frees them; the collector runs again when the block ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _chunks(values: list[int]) -> Iterator[list[int]]:
    for index in range(0, len(values), CHUNK):
        yield values[index : index + CHUNK]


# ------------------------------------------------------------------------------------------- plans
def plan_terms(*, plan: CommissionPlan) -> calc.PlanTerms:
    """The plan's rules as the pure calculation reads them."""
    rules = []
    for rule in plan.rules.all():
        if rule.kind == RuleKind.PRODUCT:
            value = str(rule.product_id)
        elif rule.kind == RuleKind.PIPELINE:
            value = str(rule.pipeline_id)
        else:
            value = rule.deal_type
        rules.append(
            calc.RateRule(rule.kind, value, rule.rate_percent, label=f"{rule.get_kind_display()} rule")
        )
    spiffs = tuple(
        calc.SpiffTerms(
            spiff.pk,
            spiff.name,
            spiff.starts_on,
            spiff.ends_on,
            spiff.pipeline_id,
            spiff.product_id,
            spiff.deal_type,
            spiff.min_amount_minor,
            spiff.bonus_minor,
            spiff.rate_percent,
        )
        for spiff in plan.spiffs.all()
    )
    return calc.PlanTerms(
        plan_id=plan.pk,
        name=plan.name,
        base_rate_percent=plan.base_rate_percent,
        tier_mode=plan.tier_mode,
        tiers=tuple(calc.Tier(tier.from_percent, tier.rate_percent) for tier in plan.tiers.all()),
        accelerator_multiplier=plan.accelerator_multiplier,
        decelerator_floor_percent=plan.decelerator_floor_percent,
        decelerator_multiplier=plan.decelerator_multiplier,
        cap_minor=plan.cap_minor,
        clawback_days=plan.clawback_days,
        rules=tuple(rules),
        spiffs=spiffs,
    )


def plan_list(*, include_archived: bool = False) -> QuerySet[CommissionPlan]:
    plans = CommissionPlan.objects.prefetch_related("tiers", "rules", "spiffs", "assignments")
    return plans if include_archived else plans.filter(is_archived=False)


def plan_check_admin(*, user: User) -> None:
    """Plans, assignments, contests and settings are for admins (404 for anyone else: they are not listed)."""
    if not user_access_scope(user=user).is_admin:
        raise Http404("No such page.")


def plan_get_for_user(*, plan_id: int, user: User) -> CommissionPlan:
    plan_check_admin(user=user)
    plan = plan_list(include_archived=True).filter(pk=plan_id).first()
    if plan is None:
        raise Http404("No such plan.")
    return plan


@dataclass(frozen=True)
class Assigned:
    """One assignment as the plan book reads it (a row, not a model: a book holds thousands)."""

    pk: int
    plan_id: int
    effective_from: dt.date
    effective_to: dt.date | None


@dataclass
class PlanBook:
    """Every assignment and plan, loaded once, answering "which plan for this person on this day"."""

    terms: dict[int, calc.PlanTerms]
    period_kinds: dict[int, str]
    by_user: dict[int, list[Assigned]]
    by_team: dict[int, list[Assigned]]
    by_role: dict[str, list[Assigned]]
    memberships: dict[int, list[tuple[int, str]]]
    _levels: dict[int, tuple[list[Assigned], ...]] = field(default_factory=dict, repr=False)
    _edges: dict[int, list[dt.date]] = field(default_factory=dict, repr=False)
    _answers: dict[tuple[int, int], int | None] = field(default_factory=dict, repr=False)

    def _levels_of(self, user_id: int) -> tuple[list[Assigned], ...]:
        """The user's own assignments, then their teams', then their roles' (gathered once per person)."""
        if user_id not in self._levels:
            teams = [team_id for team_id, _role in self.memberships.get(user_id, [])]
            roles = sorted({role for _team, role in self.memberships.get(user_id, [])})
            self._levels[user_id] = (
                list(self.by_user.get(user_id, [])),
                [item for team_id in teams for item in self.by_team.get(team_id, [])],
                [item for role in roles for item in self.by_role.get(role, [])],
            )
        return self._levels[user_id]

    def plan_id_on(self, user_id: int, day: dt.date) -> int | None:
        """User assignment first, then the user's teams, then the user's roles; the latest start wins.

        The answer only changes on a day some candidate assignment starts or ends, so it is worked out once
        per person and stretch between two such days (a quarter's 44,000 credits asked 40,000 times)."""
        if user_id not in self._edges:
            levels = self._levels_of(user_id)
            self._edges[user_id] = sorted(
                {item.effective_from for level in levels for item in level}
                | {item.effective_to for level in levels for item in level if item.effective_to is not None}
            )
        key = (user_id, bisect.bisect_right(self._edges[user_id], day))
        if key not in self._answers:
            self._answers[key] = self._plan_id_rule(user_id, day)
        return self._answers[key]

    def _plan_id_rule(self, user_id: int, day: dt.date) -> int | None:
        for assignments in self._levels_of(user_id):
            candidates = [
                item
                for item in assignments
                if item.effective_from <= day and (item.effective_to is None or day < item.effective_to)
            ]
            if candidates:
                return max(candidates, key=lambda item: (item.effective_from, item.pk)).plan_id
        return None

    def terms_on(self, user_id: int, day: dt.date) -> calc.PlanTerms | None:
        plan_id = self.plan_id_on(user_id, day)
        return self.terms.get(plan_id) if plan_id is not None else None


def plan_book(*, extra_plan: CommissionPlan | None = None) -> PlanBook:
    """Load assignments, plans and memberships (four queries plus the plans' prefetches)."""
    rows = list(
        PlanAssignment.objects.values_list(
            "pk", "plan_id", "effective_from", "effective_to", "user_id", "team_id", "role"
        )
    )
    plan_ids = {row[1] for row in rows}
    plans = list(CommissionPlan.objects.filter(pk__in=plan_ids).prefetch_related("tiers", "rules", "spiffs"))
    if extra_plan is not None:
        plans.append(extra_plan)
    book = PlanBook(
        terms={plan.pk: plan_terms(plan=plan) for plan in plans},
        period_kinds={plan.pk: plan.period_kind for plan in plans},
        by_user=defaultdict(list),
        by_team=defaultdict(list),
        by_role=defaultdict(list),
        memberships=defaultdict(list),
    )
    for pk, plan_id, effective_from, effective_to, user_id, team_id, role in rows:
        item = Assigned(pk, plan_id, effective_from, effective_to)
        if user_id is not None:
            book.by_user[user_id].append(item)
        elif team_id is not None:
            book.by_team[team_id].append(item)
        else:
            book.by_role[role].append(item)
    for user_id, team_id, role in Membership.objects.values_list("user_id", "team_id", "role"):
        book.memberships[user_id].append((team_id, role))
    return book


def assignment_list(*, plan: CommissionPlan | None = None) -> QuerySet[PlanAssignment]:
    items = PlanAssignment.objects.select_related("plan", "user", "team")
    return items.filter(plan=plan) if plan is not None else items


# ------------------------------------------------------------------------------------ credit inputs
class RateBook:
    """Exchange rates for many conversions: every rate read once, then the deals app's rule of
    ``exchange_rate_on`` (the latest ``valid_from`` on or before the day, else the earliest known) and
    the rounding of ``convert_minor_to_base`` applied in memory. Asking the helper per currency and day
    cost 1.9 of 8.6 s of a 300-person recompute; test_rate_book_matches_the_deals_helper pins the two
    together."""

    def __init__(self) -> None:
        self.base = base_currency()
        self._rates: dict[tuple[str, dt.date], Decimal] = {}
        self._table: dict[str, list[tuple[dt.date, Decimal]]] | None = None
        self._scales: dict[str, Decimal] = {}

    def rate_on(self, currency: str, day: dt.date) -> Decimal:
        key = (currency, day)
        if key not in self._rates:
            if self._table is None:
                self._table = defaultdict(list)
                for code, valid_from, rate in ExchangeRate.objects.order_by(
                    "currency", "valid_from"
                ).values_list("currency", "valid_from", "rate"):
                    self._table[code].append((valid_from, rate))
            known = self._table.get(currency) or []
            if not known:
                return exchange_rate_on(currency=currency, day=day)  # raises the helper's error
            index = bisect.bisect_right([valid_from for valid_from, _rate in known], day) - 1
            self._rates[key] = known[max(index, 0)][1]
        return self._rates[key]

    def to_base(self, amount_minor: int, currency: str, day: dt.date) -> int:
        if not currency or currency == self.base:
            return amount_minor
        scale = self._scales.get(currency)
        if scale is None:
            scale = self._scales[currency] = Decimal(10) ** (minor_digits(self.base) - minor_digits(currency))
        rate = self._rates.get((currency, day)) or self.rate_on(currency, day)
        return int((Decimal(amount_minor) * rate * scale).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class WonEvent:
    event_id: int
    deal_id: int
    at: dt.datetime
    on: dt.date
    title: str
    deal_minor: int  # base currency at the won day's rate
    pipeline_id: int
    deal_type: str
    owner_id: int  # today's owner (only used when the history has no owner change)


@dataclass(frozen=True)
class SplitRow:
    user_id: int
    share_percent: Decimal
    valid_from: dt.datetime
    valid_to: dt.datetime | None


@dataclass
class History:
    """What the deal history says about credit: owner changes and splits per deal."""

    owner_changes: dict[int, list[tuple[dt.datetime, int, str, str]]] = field(default_factory=dict)
    splits: dict[int, list[SplitRow]] = field(default_factory=dict)
    product_values: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # deal -> (product, value)
    line_totals: dict[int, int] = field(default_factory=dict)

    def owner_at(self, deal_id: int, moment: dt.datetime, current_owner_id: int) -> int:
        """The owner at ``moment``: the last change on or before it, else the first change's old value."""
        changes = self.owner_changes.get(deal_id)
        if not changes:  # most deals never change hands
            return current_owner_id
        owner: str | None = None
        for at, _event_id, from_value, to_value in changes:
            if at <= moment:
                owner = to_value
            else:
                if owner is None:
                    owner = from_value
                break
        try:
            return int(owner) if owner else current_owner_id
        except ValueError:
            return current_owner_id

    def shares_at(self, event: WonEvent) -> list[tuple[int, Decimal]]:
        """Who is credited for a won event and with what share: the splits valid then, else the owner."""
        splits = self.splits.get(event.deal_id)
        valid = (
            [
                split
                for split in splits
                if split.valid_from <= event.at and (split.valid_to is None or event.at < split.valid_to)
            ]
            if splits
            else None
        )
        if valid:
            return [(split.user_id, split.share_percent) for split in valid]
        return [(self.owner_at(event.deal_id, event.at, event.owner_id), calc.HUNDRED)]

    def product_credit(self, deal_id: int, credit_minor: int) -> tuple[tuple[int, int], ...]:
        total = self.line_totals.get(deal_id, 0)
        if total <= 0:
            return ()
        return tuple(
            (product_id, credit_minor * value // total)
            for product_id, value in self.product_values.get(deal_id, [])
        )


UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _won_events(queryset: QuerySet[DealEvent], rates: RateBook) -> list[WonEvent]:
    """The WON events of ``queryset`` with what credit needs of their deal, in one query."""
    moment = "occurred_at"
    if connection.vendor == "postgresql":
        # Django's timestamptz loader parses each value's text in Python (0.3 of 0.8 s of CPU for a 1M-deal
        # quarter's 44,000 events): read the moment as whole microseconds since the epoch instead.
        table = connection.ops.quote_name(DealEvent._meta.db_table)
        queryset = queryset.annotate(
            occurred_us=RawSQL(f"(EXTRACT(EPOCH FROM {table}.occurred_at) * 1000000)::bigint", ())  # noqa: S611
        )
        moment = "occurred_us"
    rows = queryset.values_list(
        "id",
        "deal_id",
        moment,
        "amount_minor",
        "currency",
        "deal__title",
        "deal__pipeline_id",
        "deal__parent_id",
        "deal__owner_id",
    )
    zone = timezone.get_current_timezone()
    to_base = rates.to_base
    epoch, microseconds = UNIX_EPOCH, dt.timedelta(microseconds=1)
    events: list[WonEvent] = []
    append = events.append
    for event_id, deal_id, at, amount, currency, title, pipeline_id, parent_id, owner_id in rows:
        if isinstance(at, int):
            at = epoch + at * microseconds
        on = at.astimezone(zone).date() if at.tzinfo is not None else at.date()
        append(
            WonEvent(
                event_id,
                deal_id,
                at,
                on,
                title,
                to_base(amount or 0, currency, on),
                pipeline_id,
                DealType.UPSELL if parent_id else DealType.NEW,
                owner_id,
            )
        )
    return events


def _history(deals: Q, *, with_products: bool) -> History:
    """Owner changes, splits and (when a plan needs them) product lines of the deals ``deals`` picks (a
    ``deal_id`` condition: a subquery or a few ids), one query per kind of row whatever their number."""
    history = History()
    if not deals:
        return history
    changes = (
        DealEvent.objects.filter(deals, kind=EventKind.OWNER_CHANGED)
        .order_by("deal_id", "occurred_at", "id")
        .values_list("deal_id", "occurred_at", "id", "from_value", "to_value")
    )
    for deal_id, at, event_id, from_value, to_value in changes:
        history.owner_changes.setdefault(deal_id, []).append((at, event_id, from_value, to_value))
    splits = (
        DealSplit.objects.filter(deals)
        .order_by("deal_id", "valid_from", "id")
        .values_list("deal_id", "user_id", "share_percent", "valid_from", "valid_to")
    )
    for deal_id, user_id, share, valid_from, valid_to in splits:
        history.splits.setdefault(deal_id, []).append(SplitRow(user_id, share, valid_from, valid_to))
    if with_products:
        from dealflow.products.models import DealLine

        for deal_id, product_id, value in DealLine.objects.filter(deals).values_list(
            "deal_id", "product_id", "deal_value_minor"
        ):
            history.line_totals[deal_id] = history.line_totals.get(deal_id, 0) + value
            if product_id is not None:
                history.product_values.setdefault(deal_id, []).append((product_id, value))
    return history


def deal_history(*, deal_ids: Iterable[int], with_products: bool = False) -> History:
    """Owner changes, splits and (``with_products``) current product lines of a few deals."""
    return _history(Q(deal_id__in=sorted(set(deal_ids))), with_products=with_products)


def _deals_crediting(user_ids: set[int]) -> Q:
    """Won events of deals that may credit one of ``user_ids``: owned by one now, handed to or from one, or
    split with one. A superset: ``History.shares_at`` still decides who is credited."""
    names = [str(user_id) for user_id in sorted(user_ids)]
    handed = DealEvent.objects.filter(kind=EventKind.OWNER_CHANGED).filter(
        Q(to_value__in=names) | Q(from_value__in=names)
    )
    split = DealSplit.objects.filter(user_id__in=sorted(user_ids))
    return (
        Q(deal__owner_id__in=sorted(user_ids))
        | Q(deal_id__in=handed.values("deal_id"))
        | Q(deal_id__in=split.values("deal_id"))
    )


def _uses_products(book: PlanBook) -> bool:
    return any(rule.kind == RuleKind.PRODUCT for terms in book.terms.values() for rule in terms.rules) or any(
        spiff.product_id is not None for terms in book.terms.values() for spiff in terms.spiffs
    )


@dataclass
class PersonInputs:
    credits: list[tuple[calc.Credit, calc.PlanTerms | None]] = field(default_factory=list)
    clawbacks: list[calc.Clawback] = field(default_factory=list)
    quota_minor: int | None = None
    period_terms: calc.PlanTerms | None = None


@dataclass
class PeriodInputs:
    period: Period
    people: dict[int, PersonInputs]
    book: PlanBook


def _target_key(day: dt.date, kind: str, closed_keys: set[str]) -> str:
    """The period a credit or clawback dated ``day`` lands in: its own, or the next one not yet approved."""
    period = period_containing(day, kind=kind)
    for _step in range(48):
        if period.key not in closed_keys:
            return period.key
        period = period.next()
    return period.key


def period_inputs(
    *,
    period: Period,
    user_ids: set[int] | None = None,
    book: PlanBook | None = None,
    rates: RateBook | None = None,
    extra_credits: dict[int, list[calc.Credit]] | None = None,
    skip_clawbacks: bool = False,
    as_if_open: bool = False,
) -> PeriodInputs:
    """Everything the calculation needs for the people's statements of ``period`` (``_period_inputs``)."""
    with collection_paused():
        return _period_inputs(
            period=period, user_ids=user_ids, book=book, rates=rates, extra_credits=extra_credits,
            skip_clawbacks=skip_clawbacks, as_if_open=as_if_open,
        )  # fmt: skip


def _period_inputs(
    *,
    period: Period,
    user_ids: set[int] | None = None,
    book: PlanBook | None = None,
    rates: RateBook | None = None,
    extra_credits: dict[int, list[calc.Credit]] | None = None,
    skip_clawbacks: bool = False,
    as_if_open: bool = False,
) -> PeriodInputs:
    """Everything the calculation needs for the people's statements of ``period`` (all people when None).

    Credits are the WON events in the period, attributed from the history; a credit or clawback dated in
    an approved or paid period that its statement does not hold moves to the next open period.
    ``as_if_open`` ignores approvals: the period's own events, as a preview or a leaderboard reads them.
    """
    book = book or plan_book()
    rates = rates or RateBook()
    kind = period.kind if period.kind in ("month", "quarter") else "month"
    closed = Statement.objects.exclude(status=StatementStatus.DRAFT)
    if as_if_open:
        closed = closed.none()
    if user_ids is not None:
        closed = closed.filter(user_id__in=sorted(user_ids)) if len(user_ids) <= CHUNK else closed
    closed_keys: dict[int, set[str]] = defaultdict(set)
    closed_starts: dict[int, set[dt.date]] = defaultdict(set)
    for user_id, key, start in closed.values_list("user_id", "period_key", "period_start"):
        closed_keys[user_id].add(key)
        closed_starts[user_id].add(start)
    # Reach back over the approved periods just before this one: their late credits land here.
    window_start = period.start
    all_closed = {key for keys in closed_keys.values() for key in keys}
    previous = period.previous() if period.kind in ("month", "quarter") else None
    while previous is not None and previous.key in all_closed:
        window_start = previous.start
        previous = previous.previous()
    settled: set[tuple[int, int]] = set()  # (person, event) already on an approved or paid statement
    if all_closed:
        settled = {
            (user_id, event_id or 0)
            for user_id, event_id in StatementLine.objects.filter(
                statement__status__in=[StatementStatus.APPROVED, StatementStatus.PAID]
            )
            .exclude(source_event_id=None)
            .values_list("statement__user_id", "source_event_id")
        }
    # A deal in the trash earns nothing (a draft drops its credit and clawback; restored, they come back).
    won_query = DealEvent.objects.filter(
        kind=EventKind.WON,
        occurred_at__gte=day_start(window_start),
        occurred_at__lt=day_start(period.end),
        deal__deleted_at__isnull=True,
    )
    reopen_query = DealEvent.objects.filter(
        deal__deleted_at__isnull=True,
        kind=EventKind.REOPENED,
        from_value=DealStatus.WON,
        occurred_at__gte=day_start(window_start),
        occurred_at__lt=day_start(period.end),
    )
    if user_ids is not None and len(user_ids) <= CHUNK:
        won_query = won_query.filter(_deals_crediting(user_ids))
        reopen_query = reopen_query.filter(_deals_crediting(user_ids))
    won = _won_events(won_query, rates)
    reopens = (
        []
        if skip_clawbacks
        else list(reopen_query.values_list("id", "deal_id", "occurred_at", "deal__title"))
    )
    reopened_deals = {deal_id for _id, deal_id, _at, _title in reopens}
    earlier_won: list[WonEvent] = []
    if reopened_deals:
        earlier_won = _won_events(
            DealEvent.objects.filter(kind=EventKind.WON, deal_id__in=reopen_query.values("deal_id")), rates
        )
    # The history of the credited deals, read set-wise: on PostgreSQL their ids as one array, elsewhere a
    # subquery names them (a list of ids in chunks cost more to compile than to run); a few ids go as they are.
    named = {event.deal_id for event in won} | reopened_deals
    deals_q = Q(deal_id__in=sorted(named))
    if len(named) > CHUNK and connection.vendor == "postgresql":
        # "= ANY(array)": the planner reads the few owner changes by kind and tests each against the hashed
        # array ("IN (SELECT unnest(...))" made it probe the deal index 44,000 times: 1.3 s against 0.45 s).
        # The array goes as its text: psycopg's list dumper spent 0.12 s per query on 44,000 ids.
        ids = "{" + ",".join(map(str, sorted(named))) + "}"
        deals_q = Q(RawSQL('"deal_id" = ANY(%s::bigint[])', (ids,), output_field=BooleanField()))
    elif len(named) > CHUNK:
        deals_q = Q(deal_id__in=won_query.values("deal_id"))
        if reopened_deals:
            deals_q |= Q(deal_id__in=reopen_query.values("deal_id"))
    history = _history(deals_q, with_products=_uses_products(book))
    people: dict[int, PersonInputs] = defaultdict(PersonInputs)

    def wanted(user_id: int) -> bool:
        return user_ids is None or user_id in user_ids

    # The loop runs once per WON event of the quarter (44,000 at 1M deals): names bound once, the
    # per-person checks skipped when nothing is approved, plain positional Credits.
    no_closed: set[str] = set()
    with_products = bool(history.line_totals)
    terms_on, hundred, period_key = book.terms_on, calc.HUNDRED, period.key
    for event in won:
        on = event.on
        for user_id, share in history.shares_at(event):
            if user_ids is not None and user_id not in user_ids:
                continue
            if settled and (user_id, event.event_id) in settled:
                continue
            closed_of = closed_keys.get(user_id, no_closed)
            if closed_of or on < period.start:
                if on < period.start and _target_key(on, kind, closed_of) != period_key:
                    continue
                if on >= period.start and period_key in closed_of:
                    continue
            deal_minor = event.deal_minor
            credit_minor = (
                deal_minor  # a whole deal's credit is its value (no Decimal work for 9 in 10)
                if share == hundred
                else calc.round_minor(Decimal(deal_minor) * share / hundred)
            )
            credit = calc.Credit(
                event.deal_id, event.event_id, on, event.title, credit_minor, share, deal_minor,
                event.pipeline_id, event.deal_type,
                history.product_credit(event.deal_id, credit_minor) if with_products else (),
            )  # fmt: skip
            people[user_id].credits.append((credit, terms_on(user_id, on)))
    won_by_deal: dict[int, list[WonEvent]] = defaultdict(list)
    for event in earlier_won:
        won_by_deal[event.deal_id].append(event)
    for reopen_id, deal_id, at, title in reopens:
        before = [event for event in won_by_deal.get(deal_id, []) if event.at <= at]
        if not before:
            continue
        won_event = max(before, key=lambda event: (event.at, event.event_id))
        on = local_day(at)
        for user_id, share in history.shares_at(won_event):
            if not wanted(user_id) or (user_id, reopen_id) in settled:
                continue
            terms = book.terms_on(user_id, won_event.on)
            if terms is None or (on - won_event.on).days > terms.clawback_days:
                continue
            if _target_key(on, kind, closed_keys[user_id]) != period.key:
                continue
            people[user_id].clawbacks.append(
                calc.Clawback(
                    deal_id=deal_id,
                    event_id=reopen_id,
                    won_event_id=won_event.event_id,
                    on=on,
                    title=title,
                    credit_minor=calc.round_minor(Decimal(won_event.deal_minor) * share / calc.HUNDRED),
                    commission_minor=0,  # filled in by statement_results from the original line
                    share_percent=share,
                    won_on=won_event.on,
                )
            )
    if extra_credits:
        for user_id, credits in extra_credits.items():
            for credit in credits:
                people[user_id].credits.append((credit, book.terms_on(user_id, credit.won_on)))
    if user_ids is not None:
        for user_id in user_ids:
            people[user_id]  # everybody asked for gets a statement, even an empty one
    quotas = Quota.objects.filter(period_key=period.key, user_id__isnull=False)
    if user_ids is not None and len(user_ids) <= CHUNK:
        quotas = quotas.filter(user_id__in=sorted(user_ids))
    quota_of = dict(quotas.values_list("user_id", "amount_minor"))
    last_day = period.end - dt.timedelta(days=1)
    for user_id, inputs in people.items():
        inputs.quota_minor = quota_of.get(user_id)
        inputs.period_terms = book.terms_on(user_id, last_day)
    return PeriodInputs(period=period, people=dict(people), book=book)


def statement_results(*, inputs: PeriodInputs, rates: RateBook | None = None) -> dict[int, calc.Result]:
    """The computed lines of every person in ``inputs`` (clawbacks negate the line they reverse)."""
    with collection_paused():
        return _statement_results(inputs=inputs, rates=rates)


def _statement_results(*, inputs: PeriodInputs, rates: RateBook | None = None) -> dict[int, calc.Result]:
    results: dict[int, calc.Result] = {}
    rates = rates or RateBook()
    originals = _Originals(inputs=inputs, rates=rates)
    for user_id, person in inputs.people.items():
        first = calc.compute_statement(
            credits=person.credits, quota_minor=person.quota_minor, period_terms=person.period_terms
        )
        if person.clawbacks:
            in_run = {line.event_id: line for line in first.lines if line.kind == calc.CREDIT}
            clawbacks = [originals.filled(clawback, user_id, in_run) for clawback in person.clawbacks]
            first = calc.compute_statement(
                credits=person.credits,
                clawbacks=clawbacks,
                quota_minor=person.quota_minor,
                period_terms=person.period_terms,
            )
        results[user_id] = first
    return results


class _Originals:
    """The lines clawbacks reverse: from this run, else a stored line of another statement (one query for
    all of them), else the won period computed once for everybody (cached per period)."""

    def __init__(self, *, inputs: PeriodInputs, rates: RateBook) -> None:
        self.inputs = inputs
        self.rates = rates
        self.periods: dict[str, dict[int, calc.Result]] = {}
        won_ids = sorted(
            {clawback.won_event_id for person in inputs.people.values() for clawback in person.clawbacks}
        )
        self.stored: dict[tuple[int, int], tuple[int, int]] = {}
        for chunk in _chunks(won_ids):
            for user_id, event_id, credit, commission in (
                StatementLine.objects.filter(source_event_id__in=chunk, kind=LineKind.CREDIT)
                .exclude(statement__period_key=inputs.period.key)
                .values_list("statement__user_id", "source_event_id", "credit_minor", "commission_minor")
            ):
                self.stored[(user_id, event_id or 0)] = (credit, commission)

    def _computed(self, period: Period) -> dict[int, calc.Result]:
        if period.key not in self.periods:
            original = period_inputs(
                period=period, book=self.inputs.book, rates=self.rates, skip_clawbacks=True
            )
            self.periods[period.key] = {
                user_id: calc.compute_statement(
                    credits=person.credits, quota_minor=person.quota_minor, period_terms=person.period_terms
                )
                for user_id, person in original.people.items()
            }
        return self.periods[period.key]

    def filled(
        self, clawback: calc.Clawback, user_id: int, in_run: dict[int | None, calc.Line]
    ) -> calc.Clawback:
        line = in_run.get(clawback.won_event_id)
        if line is not None:
            credit, commission = line.credit_minor, line.commission_minor
        elif (user_id, clawback.won_event_id) in self.stored:
            credit, commission = self.stored[(user_id, clawback.won_event_id)]
        else:
            won_period = period_containing(clawback.won_on or clawback.on, kind=self.inputs.period.kind)
            result = self._computed(won_period).get(user_id)
            won_line = next(
                (item for item in (result.lines if result else []) if item.event_id == clawback.won_event_id
                 and item.kind == calc.CREDIT),
                None,
            )  # fmt: skip
            credit = won_line.credit_minor if won_line else clawback.credit_minor
            commission = won_line.commission_minor if won_line else 0
        return calc.Clawback(
            deal_id=clawback.deal_id,
            event_id=clawback.event_id,
            won_event_id=clawback.won_event_id,
            on=clawback.on,
            title=clawback.title,
            credit_minor=credit,
            commission_minor=commission,
            share_percent=clawback.share_percent,
            won_on=clawback.won_on,
        )


# ------------------------------------------------------------------------------------- statements
def statement_list_for_user(
    *, user: User, period_key: str | None = None, person_id: int | None = None, status: str | None = None
) -> QuerySet[Statement]:
    """Statements the user may see: their own, their managed teams' members', everybody's for admins."""
    statements = Statement.objects.filter(
        owner_visibility_q(user=user, owner_field="user_id")
    ).select_related("user", "plan")
    if period_key:
        statements = statements.filter(period_key=period_key)
    if person_id:
        statements = statements.filter(user_id=person_id)
    if status:
        statements = statements.filter(status=status)
    return statements.order_by("-period_start", "user__username")


def statement_get_for_user(*, statement_id: int, user: User) -> Statement:
    statement = statement_list_for_user(user=user).filter(pk=statement_id).first()
    if statement is None:
        raise Http404("No such statement.")
    return statement


def statement_can_manage(*, statement: Statement, user: User) -> bool:
    """Managers of the person's team and admins approve, adjust and pay; nobody approves their own."""
    scope = user_access_scope(user=user)
    if statement.user_id == user.pk:
        return False
    if scope.is_admin:
        return True
    return (
        scope.is_manager
        and Statement.objects.filter(
            owner_editable_q(user=user, owner_field="user_id"), pk=statement.pk
        ).exists()
    )


def statement_lines(*, statement: Statement) -> list[StatementLine]:
    return list(statement.lines.select_related("created_by").order_by("position", "id"))


def people_for_statements(*, user: User) -> QuerySet[User]:
    """People whose statements the user may compute and see."""
    return User.objects.filter(owner_visibility_q(user=user, owner_field="pk"), is_active=True).order_by(
        "username"
    )


def dispute_list_for_user(*, user: User, status: str | None = None) -> QuerySet[Dispute]:
    disputes = Dispute.objects.filter(
        owner_visibility_q(user=user, owner_field="statement__user_id")
    ).select_related("statement", "statement__user", "opened_by", "line")
    return disputes.filter(status=status) if status else disputes


def dispute_get_for_user(*, dispute_id: int, user: User) -> Dispute:
    dispute = dispute_list_for_user(user=user).filter(pk=dispute_id).first()
    if dispute is None:
        raise Http404("No such dispute.")
    return dispute


def period_parse(text: str | None, *, default_kind: str = "quarter", today: dt.date) -> Period:
    """A period from its key; the current one of ``default_kind`` when none is given."""
    if not text:
        return period_containing(today, kind=default_kind)
    period = parse_period(text)
    if period.kind not in ("month", "quarter"):
        raise ApplicationError("Statements are per month (2026-11) or quarter (2026-Q4).", field="period")
    return period


def preference_for(*, user: User) -> CommissionPreference:
    preference = CommissionPreference.objects.filter(user=user).first()
    return preference or CommissionPreference(user=user)


def settings_get() -> CommissionSettings:
    return CommissionSettings.objects.filter(pk=1).first() or CommissionSettings(pk=1)


def deal_split_history(*, deal: Deal) -> list[DealSplit]:
    """The deal's splits, current ones (no ``valid_to``) first, then the past ones newest first."""
    rows = list(DealSplit.objects.filter(deal=deal).select_related("user"))
    return sorted(
        rows, key=lambda split: (split.valid_to is not None, -split.valid_from.timestamp(), split.pk)
    )


def open_deals_of(*, user: User) -> QuerySet[Deal]:
    return Deal.objects.filter(owner=user, status=DealStatus.OPEN)


def deal_visible(*, deal_id: int, user: User) -> Deal:
    deal = Deal.objects.filter(owner_visibility_q(user=user), pk=deal_id).first()
    if deal is None:
        raise Http404("No such deal.")
    return deal


def users_with_activity_q(day_from: dt.date, day_to: dt.date) -> Q:
    return Q(done_at__gte=day_start(day_from), done_at__lt=day_start(day_to))
