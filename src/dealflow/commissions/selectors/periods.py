"""A period's statement inputs (credits, clawbacks, quota, terms per person) and the computed results."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from dealflow.commissions import calculations as calc
from dealflow.commissions.models import (
    CREDIT_ENTRY_COLUMNS,
    CreditEntry,
    LineKind,
    Statement,
    StatementLine,
    StatementStatus,
)
from dealflow.commissions.selectors.common import CHUNK, chunks, collection_paused, day_start, local_day
from dealflow.commissions.selectors.history import (
    History,
    product_lines_read,
    uses_products,
)
from dealflow.commissions.selectors.plans import PlanBook, plan_book
from dealflow.core.periods import Period, period_containing
from dealflow.deals.models import DealEvent, DealStatus, EventKind
from dealflow.forecasting.models import Quota

# What a period reads of each kept credit (CreditEntry), in the order the loop unpacks them.
ENTRY_COLUMNS = tuple(column for column in CREDIT_ENTRY_COLUMNS if column != "won_at")


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
    extra_credits: dict[int, list[calc.Credit]] | None = None,
    skip_clawbacks: bool = False,
    as_if_open: bool = False,
) -> PeriodInputs:
    """Everything the calculation needs for the people's statements of ``period`` (``_period_inputs``)."""
    with collection_paused():
        return _period_inputs(
            period=period,
            user_ids=user_ids,
            book=book,
            extra_credits=extra_credits,
            skip_clawbacks=skip_clawbacks,
            as_if_open=as_if_open,
        )


def _period_inputs(
    *,
    period: Period,
    user_ids: set[int] | None = None,
    book: PlanBook | None = None,
    extra_credits: dict[int, list[calc.Credit]] | None = None,
    skip_clawbacks: bool = False,
    as_if_open: bool = False,
) -> PeriodInputs:
    """Everything the calculation needs for the people's statements of ``period`` (all people when None).

    Credits are the WON events in the period, attributed from the history; a credit or clawback dated in
    an approved or paid period that its statement does not hold moves to the next open period.
    ``as_if_open`` ignores approvals: the period's own events, as a preview or a leaderboard reads them.
    """
    book = book or plan_book()  # the kept credits were converted to the base currency when written
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
        lines = StatementLine.objects.filter(
            statement__status__in=[StatementStatus.APPROVED, StatementStatus.PAID]
        ).exclude(source_event_id=None)
        if user_ids is not None and len(user_ids) <= CHUNK:  # only the people asked for are checked
            lines = lines.filter(statement__user_id__in=sorted(user_ids))
        settled = {
            (user_id, event_id or 0)
            for user_id, event_id in lines.values_list("statement__user_id", "source_event_id")
        }
    # The kept credits (services/credits.py: the WON events credited from the history at write time; a deal
    # in the trash has none, so a draft drops its credit and clawback, and a restored deal's come back).
    entries = CreditEntry.objects.filter(won_on__gte=window_start, won_on__lt=period.end)
    reopen_query = DealEvent.objects.filter(
        deal__deleted_at__isnull=True,
        kind=EventKind.REOPENED,
        from_value=DealStatus.WON,
        occurred_at__gte=day_start(window_start),
        occurred_at__lt=day_start(period.end),
    )
    if user_ids is not None and len(user_ids) <= CHUNK:
        entries = entries.filter(user_id__in=sorted(user_ids))
        credited = CreditEntry.objects.filter(user_id__in=sorted(user_ids)).values("deal_id")
        reopen_query = reopen_query.filter(deal_id__in=credited)
    rows = list(entries.values_list(*ENTRY_COLUMNS))
    reopens = (
        []
        if skip_clawbacks
        else list(reopen_query.values_list("id", "deal_id", "occurred_at", "deal__title"))
    )
    reopened_deals = {deal_id for _id, deal_id, _at, _title in reopens}
    history = History()
    if uses_products(book):
        # Product rates and product SPIFFs read the credited deals' current lines: on PostgreSQL their ids
        # as one array, elsewhere a subquery names them (a list of ids in chunks cost more to compile than
        # to run); a few ids go as they are.
        named = {row[1] for row in rows}
        deals_q = Q(deal_id__in=sorted(named))
        if len(named) > CHUNK and connection.vendor == "postgresql":
            # "= ANY(array)" as its text: psycopg's list dumper spent 0.12 s per query on 44,000 ids.
            ids = "{" + ",".join(map(str, sorted(named))) + "}"
            deals_q = Q(RawSQL('"deal_id" = ANY(%s::bigint[])', (ids,), output_field=BooleanField()))
        elif len(named) > CHUNK:
            deals_q = Q(deal_id__in=entries.values("deal_id"))
        if named:
            product_lines_read(deals_q, history)
    people: dict[int, PersonInputs] = defaultdict(PersonInputs)

    def wanted(user_id: int) -> bool:
        return user_ids is None or user_id in user_ids

    # The loop runs once per credit of the window (44,000 at 1M deals): names bound once, the per-person
    # checks skipped when nothing is approved, plain positional Credits.
    no_closed: set[str] = set()
    with_products = bool(history.line_totals)
    terms_on, period_key, period_start = book.terms_on, period.key, period.start
    credit_of, product_credit = calc.Credit, history.product_credit
    for (
        event_id,
        deal_id,
        user_id,
        on,
        title,
        credit_minor,
        share,
        deal_minor,
        pipeline_id,
        deal_type,
    ) in rows:
        if user_ids is not None and user_id not in user_ids:
            continue
        if settled and (user_id, event_id) in settled:
            continue
        closed_of = closed_keys.get(user_id, no_closed)
        if closed_of or on < period_start:
            if on < period_start and _target_key(on, kind, closed_of) != period_key:
                continue
            if on >= period_start and period_key in closed_of:
                continue
        credit = credit_of(
            deal_id,
            event_id,
            on,
            title,
            credit_minor,
            share,
            deal_minor,
            pipeline_id,
            deal_type,
            product_credit(deal_id, credit_minor) if with_products else (),
        )
        people[user_id].credits.append((credit, terms_on(user_id, on)))
    # A clawback reverses the person's credit of the deal's last win before the reopen (its kept rows).
    won_by_deal: dict[int, dict[int, list[tuple[Any, ...]]]] = defaultdict(lambda: defaultdict(list))
    if reopened_deals:
        for entry in CreditEntry.objects.filter(deal_id__in=sorted(reopened_deals)).values_list(
            "deal_id", "won_event_id", "won_at", "won_on", "user_id", "share_percent", "deal_minor", "id"
        ):
            won_by_deal[entry[0]][entry[1]].append(entry)
    for reopen_id, deal_id, at, title in reopens:
        wins: list[list[tuple[Any, ...]]] = [
            shares for shares in won_by_deal.get(deal_id, {}).values() if shares[0][2] <= at
        ]
        if not wins:
            continue
        last: list[tuple[Any, ...]] = max(wins, key=lambda shares: (shares[0][2], shares[0][1]))
        shares = sorted(last, key=lambda entry: entry[7])
        on = local_day(at)
        for _deal, won_event_id, _won_at, won_on, user_id, share, deal_minor, _id in shares:
            if not wanted(user_id) or (user_id, reopen_id) in settled:
                continue
            terms = book.terms_on(user_id, won_on)
            if terms is None or (on - won_on).days > terms.clawback_days:
                continue
            if _target_key(on, kind, closed_keys[user_id]) != period.key:
                continue
            people[user_id].clawbacks.append(
                calc.Clawback(
                    deal_id=deal_id,
                    event_id=reopen_id,
                    won_event_id=won_event_id,
                    on=on,
                    title=title,
                    credit_minor=calc.share_minor(deal_minor, share),
                    commission_minor=0,  # filled in by statement_results from the original line
                    share_percent=share,
                    won_on=won_on,
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


def statement_results(*, inputs: PeriodInputs) -> dict[int, calc.Result]:
    """The computed lines of every person in ``inputs`` (clawbacks negate the line they reverse)."""
    with collection_paused():
        return _statement_results(inputs=inputs)


def _statement_results(*, inputs: PeriodInputs) -> dict[int, calc.Result]:
    results: dict[int, calc.Result] = {}
    originals = _Originals(inputs=inputs)
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

    def __init__(self, *, inputs: PeriodInputs) -> None:
        self.inputs = inputs
        self.periods: dict[str, dict[int, calc.Result]] = {}
        won_ids = sorted(
            {clawback.won_event_id for person in inputs.people.values() for clawback in person.clawbacks}
        )
        self.stored: dict[tuple[int, int], tuple[int, int]] = {}
        for chunk in chunks(won_ids):
            for user_id, event_id, credit, commission in (
                StatementLine.objects.filter(source_event_id__in=chunk, kind=LineKind.CREDIT)
                .exclude(statement__period_key=inputs.period.key)
                .values_list("statement__user_id", "source_event_id", "credit_minor", "commission_minor")
            ):
                self.stored[(user_id, event_id or 0)] = (credit, commission)

    def _computed(self, period: Period) -> dict[int, calc.Result]:
        if period.key not in self.periods:
            original = period_inputs(period=period, book=self.inputs.book, skip_clawbacks=True)
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
                (
                    item
                    for item in (result.lines if result else [])
                    if item.event_id == clawback.won_event_id and item.kind == calc.CREDIT
                ),
                None,
            )
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
