"""Reads for the two boards: the stage board (a column per open stage) and the forecast board (a column per
expected-close month).

Each board costs a fixed number of queries whatever the number of deals:

1. column totals: one GROUP BY (column, currency) over the whole column in SQL (count, amount, amount x
   probability), then a conversion of each currency's sum to the base currency in Python with exact
   Decimals (a handful of rows); one more query reads the exchange rates;
2. the first ``per_column`` cards of every column: one query with ROW_NUMBER() OVER (PARTITION BY column)
   picks their ids, one more reads those cards with owner, organization and stage;
3. the next-activity state of those cards: one GROUP BY over their open activities.

Currency choice: open deals are valued at the *latest* rate of their currency (the newest ``valid_from`` on
or before today, else the earliest known rate, like ``exchange_rate_on``), because an open deal has no
close date yet and the board answers "what is this column worth today". Closed deals keep the rate of
their close date (``Deal.amount_base_minor``); the board shows no closed deals. Conversion is linear, so
converting a currency's column sum equals converting each deal and adding (to within a minor unit of
rounding). Deals in a currency without any rate are left out of the converted totals and reported in
``ColumnSummary.missing_currencies``, so the page can say so instead of showing a wrong number.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Case, Count, Expression, F, Min, Q, QuerySet, Sum, Value, When
from django.db.models.expressions import OrderBy, Window
from django.db.models.functions import Coalesce, RowNumber
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from dealflow.accounts.models import User
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.parameters import integer_parameter
from dealflow.core.periods import Period, parse_period
from dealflow.deals.models import Activity, Deal, DealStatus, Pipeline, Stage, StageKind
from dealflow.deals.rates import base_currency, rate_table
from dealflow.deals.selectors import DealFilters, deal_visible_q

# Seven columns of 50 cards were 228 KB of HTML for an admin at 20,000 deals (issue #19: at most 200 KB);
# 25 each keep the first answer light, and "Load more" (on click or scrolled into view) brings 25 more.
CARDS_PER_COLUMN = 25
# The forecast board has up to nine columns (earlier, six months, later, no date): 20 cards each keep the
# first answer under 200 KB of HTML at any size (issue #19: 365 KB with 50); "Load more" brings the rest,
# and each column's header counts all of its deals.
FORECAST_CARDS_PER_COLUMN = 20
FORECAST_MONTHS = 6  # the current month and the five after it each get a column


class ActivityState:
    OVERDUE = "overdue"
    TODAY = "today"
    PLANNED = "planned"
    NONE = "none"


@dataclass
class ColumnSummary:
    count: int = 0
    amount_base_minor: int = 0
    weighted_base_minor: int = 0
    missing_currencies: list[str] = field(default_factory=list)


@dataclass
class BoardCard:
    deal: Deal
    days_in_stage: int
    is_rotting: bool
    is_past_close: bool
    activity_state: str
    next_activity_at: dt.datetime | None


@dataclass
class BoardColumn:
    key: str  # stage id, or a month key such as "2026-11"; used in element ids and URLs
    title: str
    summary: ColumnSummary
    cards: list[BoardCard]
    has_more: bool
    cursor: str = ""  # pass as ``after`` to load the next cards
    stage: Stage | None = None
    period: Period | None = None
    is_drop_target: bool = True


@dataclass
class Board:
    pipeline: Pipeline | None
    columns: list[BoardColumn]
    base_currency: str
    total: ColumnSummary
    closing_stages: dict[str, Stage] = field(default_factory=dict)  # "won"/"lost" -> the pipeline's stage


# --- shared pieces -------------------------------------------------------------------------------------


def _open_deals_for_user(*, user: User, filters: DealFilters) -> QuerySet[Deal]:
    deals = Deal.objects.filter(deal_visible_q(user=user), status=DealStatus.OPEN)
    return filters.apply(deals, user=user)


def _weighted_minor() -> Expression:
    return F("amount_minor") * Coalesce("probability_override", "stage__probability")


def _summaries(deals: QuerySet[Deal], key: Expression | str, *, day: dt.date) -> dict[str, ColumnSummary]:
    """Totals per column over the whole column (not just the cards shown), in the base currency."""
    rows = list(
        deals.annotate(column=_expression(key))
        .values("column", "currency")
        .annotate(count=Count("*"), amount=Sum("amount_minor"), weighted=Sum(_weighted_minor()))
        .order_by()
    )
    rates = rate_table(currencies={row["currency"] for row in rows})
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    weighted: dict[str, Decimal] = defaultdict(Decimal)
    summaries: dict[str, ColumnSummary] = defaultdict(ColumnSummary)
    for row in rows:
        column = str(row["column"])
        summary = summaries[column]
        summary.count += row["count"]
        if not rates.has(row["currency"]):
            summary.missing_currencies.append(row["currency"])
            continue
        factor = rates.factor(row["currency"], day)
        amounts[column] += Decimal(row["amount"] or 0) * factor
        weighted[column] += Decimal(row["weighted"] or 0) * factor / 100
    for column, summary in summaries.items():
        summary.amount_base_minor = int(amounts[column].quantize(Decimal(1), rounding=ROUND_HALF_UP))
        summary.weighted_base_minor = int(weighted[column].quantize(Decimal(1), rounding=ROUND_HALF_UP))
        summary.missing_currencies.sort()
    return dict(summaries)


def _expression(key: Expression | str) -> Expression | F:
    return F(key) if isinstance(key, str) else key


def _total(summaries: Iterable[ColumnSummary]) -> ColumnSummary:
    total = ColumnSummary()
    missing: set[str] = set()
    for summary in summaries:
        total.count += summary.count
        total.amount_base_minor += summary.amount_base_minor
        total.weighted_base_minor += summary.weighted_base_minor
        missing.update(summary.missing_currencies)
    total.missing_currencies = sorted(missing)
    return total


def _card_queryset(deals: QuerySet[Deal]) -> QuerySet[Deal]:
    return deals.select_related("owner", "organization", "stage").only(
        "id",
        "title",
        "version",
        "amount_minor",
        "currency",
        "expected_close_on",
        "stage_entered_at",
        "stage_id",
        "pipeline_id",
        "probability_override",
        "owner__id",
        "owner__username",
        "owner__first_name",
        "owner__last_name",
        "organization__id",
        "organization__name",
        "stage__id",
        "stage__name",
        "stage__rotting_days",
        "stage__probability",
        "stage__pipeline_id",
        "stage__kind",
    )


def _first_cards(
    deals: QuerySet[Deal],
    key: Expression | str,
    *,
    order: Sequence[str],
    per_column: int,
    counts: dict[str, int] | None = None,
) -> dict[str, list[Deal]]:
    """The first ``per_column + 1`` deals of each column (the extra one says "there is more").

    When the columns' ``counts`` (from the summaries) show every column fits, that is all the deals: one
    plain ordered query (a rep's own board). Otherwise two queries: ROW_NUMBER() over narrow rows (id,
    column) picks the ids, then the cards are read with their joins for those ids only; ranking the joined,
    wide rows of every deal was twice as slow.
    """
    ordering = _ordering(order)
    cards: dict[str, list[Deal]] = defaultdict(list)
    if isinstance(key, str) and counts is not None and all(n <= per_column + 1 for n in counts.values()):
        for deal in _card_queryset(deals).order_by(*ordering):
            cards[str(getattr(deal, key))].append(deal)
        return cards
    ranked = list(
        deals.annotate(
            column=_expression(key),
            position=Window(RowNumber(), partition_by=[_expression(key)], order_by=ordering),
        )
        .filter(position__lte=per_column + 1)
        .order_by("column", "position")
        .values_list("pk", "column")
    )
    by_id = _card_queryset(Deal.objects.all()).in_bulk([pk for pk, _column in ranked]) if ranked else {}
    for pk, column in ranked:
        cards[str(column)].append(by_id[pk])
    return cards


def _ordering(order: Sequence[str]) -> list[OrderBy]:
    return [F(name[1:]).desc() if name.startswith("-") else F(name).asc(nulls_last=True) for name in order]


def _first_cards_by_column(
    deals: QuerySet[Deal], columns: dict[str, Q], *, order: Sequence[str], per_column: int
) -> dict[str, list[Deal]]:
    """The first ``per_column + 1`` deals of each column given by its condition: one ordered LIMIT query per
    column (each an index range scan when the order follows an index, as the forecast board's close dates
    do), then the cards of those ids with their joins. At 1M deals on PostgreSQL the ROW_NUMBER() of
    ``_first_cards`` over the 77,000 open deals took 100 ms; nine LIMIT queries take under 1 ms each."""
    ordering = _ordering(order)
    ids = {
        column: list(
            deals.filter(condition).order_by(*ordering).values_list("pk", flat=True)[: per_column + 1]
        )
        for column, condition in columns.items()
    }
    wanted = [pk for pks in ids.values() for pk in pks]
    by_id = _card_queryset(Deal.objects.all()).in_bulk(wanted) if wanted else {}
    return {column: [by_id[pk] for pk in pks] for column, pks in ids.items() if pks}


def _activity_states(deals: Sequence[Deal], *, now: dt.datetime) -> dict[int, tuple[str, dt.datetime | None]]:
    """Next-activity state of each deal from its open activities (one query for all the cards)."""
    if not deals:
        return {}
    rows = (
        Activity.objects.filter(deal_id__in=[deal.pk for deal in deals], done_at__isnull=True)
        .values("deal_id")
        .annotate(next_due=Min("due_at"), open=Count("*"))
        .order_by()
    )
    today = clock.today()
    states: dict[int, tuple[str, dt.datetime | None]] = {}
    for row in rows:
        next_due = row["next_due"]
        if next_due is None:
            state = ActivityState.PLANNED  # open activities without a due date
        elif _local_date(next_due) < today:
            state = ActivityState.OVERDUE
        elif _local_date(next_due) == today:
            state = ActivityState.TODAY
        else:
            state = ActivityState.PLANNED
        states[row["deal_id"]] = (state, next_due)
    return states


def _local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()


def _cards(
    deals: Sequence[Deal], *, now: dt.datetime, states: dict[int, tuple[str, dt.datetime | None]]
) -> list[BoardCard]:
    today = _local_date(now)
    result = []
    for deal in deals:
        days = max(0, (now - deal.stage_entered_at).days)
        rotting_days = deal.stage.rotting_days
        state, next_at = states.get(deal.pk, (ActivityState.NONE, None))
        result.append(
            BoardCard(
                deal=deal,
                days_in_stage=days,
                is_rotting=bool(rotting_days) and days > rotting_days,
                is_past_close=deal.expected_close_on is not None and deal.expected_close_on < today,
                activity_state=state,
                next_activity_at=next_at,
            )
        )
    return result


def _split(deals: list[Deal], per_column: int) -> tuple[list[Deal], bool]:
    return deals[:per_column], len(deals) > per_column


# --- keyset cursors for "load more" -------------------------------------------------------------------


def _cursor(deal: Deal, order: Sequence[str]) -> str:
    values = []
    for name in order:
        value = getattr(deal, name.lstrip("-"))
        values.append(
            "" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
        )
    return "_".join(values)


def _after_q(cursor: str, order: Sequence[str]) -> Q:
    """Rows after ``cursor`` in ``order`` (keyset pagination: a card moved meanwhile is never shown twice)."""
    parts = cursor.split("_")
    malformed = ApplicationError(
        _("after is not a cursor this board gave out; reload the board."), field="after"
    )
    if len(parts) != len(order) or not cursor.isascii():
        raise malformed
    values: list[Any] = []
    for name, raw in zip(order, parts, strict=True):
        field_name = name.lstrip("-")
        try:
            if raw == "":
                values.append(None)
            elif field_name == "id":
                values.append(integer_parameter({"after": raw}, "after", minimum=1))
            elif field_name == "stage_entered_at":
                values.append(dt.datetime.fromisoformat(raw))
            else:
                values.append(dt.date.fromisoformat(raw))
        except (ValueError, ApplicationError) as error:
            raise malformed from error
    condition = Q()
    equal = Q()
    for name, value in zip(order, values, strict=True):
        field_name = name.lstrip("-")
        if value is None:  # nulls sort last: after a null only nulls with a greater key follow
            step = Q()
        elif name.startswith("-"):
            step = Q(**{f"{field_name}__lt": value})
        else:
            step = Q(**{f"{field_name}__gt": value}) | Q(**{f"{field_name}__isnull": True})
        condition |= equal & step if step else Q(pk__in=[])
        equal &= Q(**{f"{field_name}__isnull": True}) if value is None else Q(**{field_name: value})
    return condition


# --- the stage board ------------------------------------------------------------------------------------

STAGE_ORDER = ("-stage_entered_at", "-id")  # newest arrivals first, so a moved card lands on top


def board_stages(*, pipeline: Pipeline) -> list[Stage]:
    """The open, active stages of a pipeline, in order, and its won/lost stages."""
    return list(Stage.objects.filter(pipeline=pipeline, is_active=True).order_by("order", "id"))


def board_for_user(
    *, user: User, pipeline: Pipeline, filters: DealFilters, per_column: int = CARDS_PER_COLUMN
) -> Board:
    """The stage board of ``pipeline`` as ``user`` sees it: totals over whole columns, first cards of each."""
    stages = board_stages(pipeline=pipeline)
    open_stages = [stage for stage in stages if stage.kind == StageKind.OPEN]
    closing = {stage.kind: stage for stage in stages if stage.kind != StageKind.OPEN}
    deals = _open_deals_for_user(user=user, filters=filters).filter(pipeline=pipeline)
    now = clock.now()
    summaries = _summaries(deals, "stage_id", day=clock.today())
    first = _first_cards(
        deals,
        "stage_id",
        order=STAGE_ORDER,
        per_column=per_column,
        counts={column: summary.count for column, summary in summaries.items()},
    )
    shown = {key: _split(cards, per_column) for key, cards in first.items()}
    states = _activity_states([deal for cards, _more in shown.values() for deal in cards], now=now)
    columns = []
    for stage in open_stages:
        cards, has_more = shown.get(str(stage.pk), ([], False))
        columns.append(
            BoardColumn(
                key=str(stage.pk),
                title=stage.name,
                summary=summaries.get(str(stage.pk), ColumnSummary()),
                cards=_cards(cards, now=now, states=states),
                has_more=has_more,
                cursor=_cursor(cards[-1], STAGE_ORDER) if has_more else "",
                stage=stage,
            )
        )
    return Board(
        pipeline=pipeline,
        columns=columns,
        base_currency=base_currency(),
        total=_total(column.summary for column in columns),
        closing_stages=closing,
    )


def board_column_for_user(
    *,
    user: User,
    stage: Stage,
    filters: DealFilters,
    after: str = "",
    per_column: int = CARDS_PER_COLUMN,
) -> BoardColumn:
    """One column of the stage board: its totals and the cards after ``after`` ("load more");
    ``per_column=0`` reads the totals only (a header after a move)."""
    deals = _open_deals_for_user(user=user, filters=filters).filter(stage=stage)
    summary = _summaries(deals, "stage_id", day=clock.today()).get(str(stage.pk), ColumnSummary())
    if after:
        deals = deals.filter(_after_q(after, STAGE_ORDER))
    page = list(_order(_card_queryset(deals), STAGE_ORDER)[: per_column + 1]) if per_column > 0 else []
    cards, has_more = _split(page, per_column)
    now = clock.now()
    return BoardColumn(
        key=str(stage.pk),
        title=stage.name,
        summary=summary,
        cards=_cards(cards, now=now, states=_activity_states(cards, now=now)),
        has_more=has_more,
        cursor=_cursor(cards[-1], STAGE_ORDER) if has_more else "",
        stage=stage,
    )


def board_column_summary_for_user(*, user: User, stage: Stage, filters: DealFilters) -> ColumnSummary:
    """The header totals of one stage column (after a move)."""
    deals = _open_deals_for_user(user=user, filters=filters).filter(stage=stage)
    return _summaries(deals, "stage_id", day=clock.today()).get(str(stage.pk), ColumnSummary())


def board_card_for_user(*, user: User, deal: Deal) -> BoardCard:
    """One card, as the board shows it (after a move)."""
    fresh = _card_queryset(Deal.objects.filter(deal_visible_q(user=user), pk=deal.pk)).get()
    now = clock.now()
    return _cards([fresh], now=now, states=_activity_states([fresh], now=now))[0]


def _order(deals: QuerySet[Deal], order: Sequence[str]) -> QuerySet[Deal]:
    return deals.order_by(
        *[F(name[1:]).desc() if name.startswith("-") else F(name).asc(nulls_last=True) for name in order]
    )


# --- the forecast board: columns by expected-close month --------------------------------------------------

FORECAST_ORDER = ("expected_close_on", "id")
EARLIER = "earlier"
LATER = "later"
NO_DATE = "none"


def forecast_months(*, today: dt.date, count: int = FORECAST_MONTHS) -> list[Period]:
    first = parse_period(f"{today.year:04d}-{today.month:02d}")
    months = [first]
    while len(months) < count:
        months.append(months[-1].next())
    return months


def _month_key(months: Sequence[Period]) -> Case:
    """Which forecast column a deal falls in, by date comparisons only (no date functions in SQL)."""
    whens = [When(expected_close_on__isnull=True, then=Value(NO_DATE))]
    whens.append(When(expected_close_on__lt=months[0].start, then=Value(EARLIER)))
    whens += [When(expected_close_on__lt=month.end, then=Value(month.key)) for month in months]
    return Case(*whens, default=Value(LATER))


def forecast_board_for_user(
    *,
    user: User,
    filters: DealFilters,
    pipeline: Pipeline | None = None,
    per_column: int = FORECAST_CARDS_PER_COLUMN,
) -> Board:
    """Open deals in columns by expected-close month: earlier, this month and the next five, later, no date."""
    today = clock.today()
    months = forecast_months(today=today)
    deals = _open_deals_for_user(user=user, filters=filters)
    if pipeline is not None:
        deals = deals.filter(pipeline=pipeline)
    key = _month_key(months)
    now = clock.now()
    summaries = _summaries(deals, key, day=today)
    first = _first_cards_by_column(
        deals,
        {
            column: _forecast_column_q(column, months)
            for column, summary in summaries.items()
            if summary.count
        },
        order=FORECAST_ORDER,
        per_column=per_column,
    )
    shown = {column: _split(cards, per_column) for column, cards in first.items()}
    states = _activity_states([deal for cards, _more in shown.values() for deal in cards], now=now)
    specs: list[tuple[str, Period | None, bool]] = [(EARLIER, None, False)]
    specs += [(month.key, month, True) for month in months]
    specs += [(LATER, None, False), (NO_DATE, None, False)]
    columns = []
    for column_key, period, droppable in specs:
        cards, has_more = shown.get(column_key, ([], False))
        summary = summaries.get(column_key, ColumnSummary())
        if not droppable and not summary.count:
            continue  # "earlier", "later" and "no date" appear only when they hold deals
        columns.append(
            BoardColumn(
                key=column_key,
                title=column_key,
                summary=summary,
                cards=_cards(cards, now=now, states=states),
                has_more=has_more,
                cursor=_cursor(cards[-1], FORECAST_ORDER) if has_more else "",
                period=period,
                is_drop_target=droppable,
            )
        )
    return Board(
        pipeline=pipeline,
        columns=columns,
        base_currency=base_currency(),
        total=_total(column.summary for column in columns),
    )


def forecast_column_for_user(
    *,
    user: User,
    column_key: str,
    filters: DealFilters,
    pipeline: Pipeline | None = None,
    after: str = "",
    per_column: int = CARDS_PER_COLUMN,
) -> BoardColumn:
    """One column of the forecast board (for "load more" and for the header after a move)."""
    today = clock.today()
    months = forecast_months(today=today)
    deals = _open_deals_for_user(user=user, filters=filters)
    if pipeline is not None:
        deals = deals.filter(pipeline=pipeline)
    deals = deals.filter(_forecast_column_q(column_key, months))
    summary = _summaries(deals, _month_key(months), day=today).get(column_key, ColumnSummary())
    if after:
        deals = deals.filter(_after_q(after, FORECAST_ORDER))
    page = list(_order(_card_queryset(deals), FORECAST_ORDER)[: per_column + 1]) if per_column > 0 else []
    cards, has_more = _split(page, per_column)
    now = clock.now()
    period = next((month for month in months if month.key == column_key), None)
    return BoardColumn(
        key=column_key,
        title=column_key,
        summary=summary,
        cards=_cards(cards, now=now, states=_activity_states(cards, now=now)),
        has_more=has_more,
        cursor=_cursor(cards[-1], FORECAST_ORDER) if has_more else "",
        period=period,
        is_drop_target=period is not None,
    )


def _forecast_column_q(column_key: str, months: Sequence[Period]) -> Q:
    if column_key == NO_DATE:
        return Q(expected_close_on__isnull=True)
    if column_key == EARLIER:
        return Q(expected_close_on__lt=months[0].start)
    if column_key == LATER:
        return Q(expected_close_on__gte=months[-1].end)
    month = next((month for month in months if month.key == column_key), None)
    if month is None:
        raise Http404("No such forecast column.")
    return Q(expected_close_on__gte=month.start, expected_close_on__lt=month.end)


def forecast_column_key(*, expected_close_on: dt.date | None, today: dt.date | None = None) -> str:
    """The forecast column a close date belongs in."""
    months = forecast_months(today=today or clock.today())
    if expected_close_on is None:
        return NO_DATE
    if expected_close_on < months[0].start:
        return EARLIER
    for month in months:
        if expected_close_on < month.end:
            return month.key
    return LATER


def forecast_close_date_in(*, month: Period, current: dt.date | None) -> dt.date:
    """Where a card dropped on ``month`` lands: the same day of the month (clamped), or the month's last day."""
    last_day = month.end - dt.timedelta(days=1)
    if current is None:
        return last_day
    return min(month.start.replace(day=1) + dt.timedelta(days=current.day - 1), last_day)
