"""Credit inputs from the deal history: rates read once (RateBook), won and reopened events, splits."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from dealflow.commissions import calculations as calc
from dealflow.commissions.models import (
    DealSplit,
    DealType,
    RuleKind,
)
from dealflow.commissions.selectors.plans import PlanBook
from dealflow.core.money import minor_digits
from dealflow.deals.models import DealEvent, EventKind, ExchangeRate
from dealflow.deals.services.money import base_currency, exchange_rate_on


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
        self._days: dict[str, list[dt.date]] = {}  # each currency's valid_from days, for bisect
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
            days = self._days.get(currency)
            if days is None:  # built once per currency (per call it cost 0.4 of 1.4 s of a 30k-deal rebuild)
                days = self._days[currency] = [valid_from for valid_from, _rate in known]
            index = bisect.bisect_right(days, day) - 1
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


def won_events(queryset: QuerySet[DealEvent], rates: RateBook) -> list[WonEvent]:
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


def history_read(deals: Q, *, with_products: bool) -> History:
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
        product_lines_read(deals, history)
    return history


def product_lines_read(deals: Q, history: History) -> None:
    """Add the current product lines of the deals ``deals`` picks to ``history`` (one query)."""
    from dealflow.products.models import DealLine

    for deal_id, product_id, value in DealLine.objects.filter(deals).values_list(
        "deal_id", "product_id", "deal_value_minor"
    ):
        history.line_totals[deal_id] = history.line_totals.get(deal_id, 0) + value
        if product_id is not None:
            history.product_values.setdefault(deal_id, []).append((product_id, value))


def deal_history(*, deal_ids: Iterable[int], with_products: bool = False) -> History:
    """Owner changes, splits and (``with_products``) current product lines of a few deals."""
    return history_read(Q(deal_id__in=sorted(set(deal_ids))), with_products=with_products)


def uses_products(book: PlanBook) -> bool:
    return any(rule.kind == RuleKind.PRODUCT for terms in book.terms.values() for rule in terms.rules) or any(
        spiff.product_id is not None for terms in book.terms.values() for spiff in terms.spiffs
    )
