"""Reads built on the statement calculation: a rep's earnings so far, the next tier, what-if per open
deal, leaderboards and contest progress. Nothing here writes (GUIDE.md: selectors)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.http import Http404

from dealflow.accounts.models import Membership, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.commissions import calculations as calc
from dealflow.commissions import selectors
from dealflow.commissions.models import (
    CommissionPlan,
    CommissionPreference,
    Contest,
    CreditEntry,
    DealSplit,
    DealType,
    LeaderboardVisibility,
    Measure,
    Statement,
)
from dealflow.core.periods import Period, period_containing
from dealflow.deals.models import Activity, Deal, DealStatus
from dealflow.forecasting.models import Quota


@dataclass
class Earnings:
    period: Period
    result: calc.Result
    terms: calc.PlanTerms | None
    next_tier: calc.NextTier | None
    adjustment_minor: int
    statement: Statement | None
    inputs: selectors.PeriodInputs = field(repr=False)

    @property
    def total_minor(self) -> int:
        return self.result.commission_minor + self.adjustment_minor


def earnings_for_user(*, user: User, today: dt.date, period: Period | None = None) -> Earnings:
    """This period so far (computed now, like a draft), and what the next tier takes."""
    book = selectors.plan_book()
    plan_id = book.plan_id_on(user.pk, today)
    kind = book.period_kinds.get(plan_id, "quarter") if plan_id is not None else "quarter"
    period = period or period_containing(today, kind=kind)
    inputs = selectors.period_inputs(period=period, user_ids={user.pk}, book=book)
    result = selectors.statement_results(inputs=inputs)[user.pk]
    terms = book.terms_on(user.pk, min(today, period.end - dt.timedelta(days=1)))
    statement = Statement.objects.filter(user=user, period_key=period.key).first()
    if statement is not None and not statement.is_draft:
        result = calc.Result(
            lines=[],
            credit_minor=statement.credit_minor,
            quota_minor=statement.quota_minor,
            attainment_percent=statement.attainment_percent,
        )
        result.lines.append(calc.Line("credit", statement.commission_minor))
    upcoming = (
        calc.next_tier(terms, credit_minor=result.credit_minor, quota_minor=result.quota_minor)
        if terms
        else None
    )
    return Earnings(
        period=period,
        result=result,
        terms=terms,
        next_tier=upcoming,
        adjustment_minor=statement.adjustment_minor if statement else 0,
        statement=statement,
        inputs=inputs,
    )


def what_if_for_deals(
    *, user: User, deals: list[Deal], today: dt.date, earnings: Earnings | None = None
) -> dict[int, int]:
    """For each open deal: how much winning it today would add to the user's commission this period
    (the user's share under the deal's current split, else all of it when the user owns it). ``earnings``:
    the user's ``earnings_for_user(today=today)`` when the caller has it already."""
    open_deals = [deal for deal in deals if deal.status == DealStatus.OPEN]
    if not open_deals:
        return {}
    earnings = earnings or earnings_for_user(user=user, today=today)
    person = earnings.inputs.people.get(user.pk, selectors.PersonInputs())
    rates = selectors.RateBook()
    splits: dict[int, Decimal] = {}
    split_deals: set[int] = set()
    for deal_id, user_id, split_share in DealSplit.objects.filter(
        deal_id__in=[deal.pk for deal in open_deals], valid_to__isnull=True
    ).values_list("deal_id", "user_id", "share_percent"):
        split_deals.add(deal_id)
        if user_id == user.pk:
            splits[deal_id] = split_share
    terms = earnings.inputs.book.terms_on(user.pk, today)
    # Product rates and product SPIFFs read the deal's current lines, as a statement does when it is won.
    history = selectors.deal_history(deal_ids=[deal.pk for deal in open_deals], with_products=True)
    without = calc.compute_statement(
        credits=person.credits,
        clawbacks=[],
        quota_minor=person.quota_minor,
        period_terms=person.period_terms or terms,
    )
    answers: dict[int, int] = {}
    for deal in open_deals:
        share: Decimal | None = (
            splits.get(deal.pk)
            if deal.pk in split_deals
            else (calc.HUNDRED if deal.owner_id == user.pk else None)
        )
        if share is None:
            continue
        deal_minor = rates.to_base(deal.amount_minor, deal.currency, today)
        credit_minor = calc.round_minor(Decimal(deal_minor) * share / calc.HUNDRED)
        credit = calc.Credit(
            deal_id=deal.pk,
            event_id=10**18,  # after every real event of today
            won_on=today,
            title=deal.title,
            credit_minor=credit_minor,
            share_percent=share,
            deal_minor=deal_minor,
            pipeline_id=deal.pipeline_id,
            deal_type=DealType.UPSELL if deal.parent_id else DealType.NEW,
            product_credit=history.product_credit(deal.pk, credit_minor),
        )
        result = calc.compute_statement(
            credits=[*person.credits, (credit, terms)],
            clawbacks=[],
            quota_minor=person.quota_minor,
            period_terms=person.period_terms or terms,
        )
        answers[deal.pk] = result.commission_minor - without.commission_minor
    return answers


def board_what_if_for_user(*, user: User, today: dt.date) -> dict[int, int]:
    """The what-if of every open deal that would credit the user (owned, or split with them now), for the
    board cards; empty unless the user switched the board what-if on."""
    if not selectors.preference_for(user=user).is_board_what_if_on:
        return {}
    split_deals = DealSplit.objects.filter(user=user, valid_to__isnull=True).values("deal_id")
    deals = list(
        Deal.objects.filter(Q(owner=user) | Q(pk__in=split_deals), status=DealStatus.OPEN).only(
            "pk", "title", "status", "owner_id", "amount_minor", "currency", "pipeline_id", "parent_id"
        )
    )
    return what_if_for_deals(user=user, deals=deals, today=today)


# ------------------------------------------------------------------------------------ leaderboards
@dataclass
class BoardRow:
    user_id: int
    name: str
    value: Decimal | int | None
    rank: int = 0
    is_me: bool = False


def _measure_values(
    *, measure: str, start: dt.date, end: dt.date, user_ids: set[int]
) -> dict[int, Decimal | int | None]:
    """Each person's value of ``measure`` between ``start`` and ``end`` (exclusive)."""
    if measure == Measure.ACTIVITIES:
        counts = dict(
            Activity.objects.filter(
                selectors.users_with_activity_q(start, end), owner_id__in=sorted(user_ids)
            )
            .values_list("owner_id")
            .annotate(count=Count("id"))
            .values_list("owner_id", "count")
        )
        return {user_id: counts.get(user_id, 0) for user_id in user_ids}
    if measure == Measure.DATA_QUALITY:
        from dealflow.reviews import calculations as review_calc

        rows = Deal.objects.filter(owner_id__in=sorted(user_ids), status=DealStatus.OPEN).values_list(
            "owner_id", "amount_minor", "expected_close_on", "next_step"
        )
        quality = review_calc.data_quality(
            (
                review_calc.QualityRow(owner, amount, close_on, bool(step))
                for owner, amount, close_on, step in rows
            ),
            as_of_on=min(end - dt.timedelta(days=1), dt.date.today()),
        )
        shares = {
            row.owner_id: (Decimal(row.clean) * 100 / Decimal(row.open_deals)).quantize(Decimal("0.1"))
            for row in quality
            if row.open_deals
        }
        return {user_id: shares.get(user_id) for user_id in user_ids}
    # Won revenue and attainment are each person's credits of the days, as a preview reads them (approvals
    # ignored, no clawbacks): one GROUP BY over the kept credits.
    credits = CreditEntry.objects.filter(won_on__gte=start, won_on__lt=end)
    if len(user_ids) <= selectors.CHUNK:
        credits = credits.filter(user_id__in=sorted(user_ids))
    credit = dict(
        credits.order_by()
        .values_list("user_id")
        .annotate(total=Sum("credit_minor"))
        .values_list("user_id", "total")
    )
    if measure == Measure.WON_REVENUE:
        return {user_id: credit.get(user_id, 0) for user_id in user_ids}
    period = _as_key_period(
        Period(f"{start.isoformat()}..{(end - dt.timedelta(days=1)).isoformat()}", start, end)
    )
    quotas = Quota.objects.filter(period_key=period.key, user_id__isnull=False)
    if len(user_ids) <= selectors.CHUNK:
        quotas = quotas.filter(user_id__in=sorted(user_ids))
    quota_of = dict(quotas.values_list("user_id", "amount_minor"))
    return {
        user_id: calc.attainment_of(credit.get(user_id, 0), quota_of.get(user_id)) for user_id in user_ids
    }


def _as_key_period(period: Period) -> Period:
    """A calendar month or quarter keeps its key (for quotas); any other range is a custom period."""
    for kind in ("month", "quarter"):
        candidate = period_containing(period.start, kind=kind)
        if candidate.start == period.start and candidate.end == period.end:
            return candidate
    return period


def _ranked(values: dict[int, Decimal | int | None], names: dict[int, str], me: int) -> list[BoardRow]:
    rows = [
        BoardRow(user_id, names.get(user_id, str(user_id)), value, is_me=user_id == me)
        for user_id, value in values.items()
    ]
    rows.sort(key=lambda row: (row.value is None, -(row.value or 0), row.name))
    rank = 0
    previous: object = object()
    for position, row in enumerate(rows, start=1):
        if row.value != previous:
            rank = position
            previous = row.value
        row.rank = rank if row.value is not None else 0
    return rows


def leaderboard_for_user(
    *, user: User, measure: str, period: Period, team_id: int | None = None
) -> list[BoardRow]:
    """The leaderboard the user may see: company or team per the setting, without the people who opted out
    (each still sees their own row). Off: admins only; 404 for others."""
    if measure not in Measure.values:
        from dealflow.core.errors import ApplicationError

        raise ApplicationError(
            "Measure must be won_revenue, attainment, activities or data_quality.", field="measure"
        )
    visibility = selectors.settings_get().leaderboard_visibility
    scope = user_access_scope(user=user)
    if visibility == LeaderboardVisibility.OFF and not scope.is_admin:
        raise Http404("Leaderboards are switched off.")
    members = Membership.objects.all()
    my_teams = set(Membership.objects.filter(user=user).values_list("team_id", flat=True))
    if visibility == LeaderboardVisibility.TEAM and not scope.sees_everything:
        if team_id is not None and team_id not in my_teams:
            raise Http404("No such team.")
        members = members.filter(team_id__in=[team_id] if team_id else sorted(my_teams))
    elif team_id is not None:
        members = members.filter(team_id=team_id)
    user_ids = set(members.filter(user__is_active=True).values_list("user_id", flat=True)) | {user.pk}
    opted_out = set(
        CommissionPreference.objects.filter(is_leaderboard_opt_out=True).values_list("user_id", flat=True)
    )
    user_ids = {user_id for user_id in user_ids if user_id not in opted_out or user_id == user.pk}
    names = {
        row.pk: row.display_name
        for row in User.objects.filter(pk__in=sorted(user_ids)).only(
            "pk", "username", "first_name", "last_name"
        )
    }
    values = _measure_values(measure=measure, start=period.start, end=period.end, user_ids=user_ids)
    return _ranked(values, names, user.pk)


# ---------------------------------------------------------------------------------------- contests
@dataclass
class ContestRow:
    key: int
    name: str
    value: Decimal | int | None
    share_percent: Decimal | None
    has_reached: bool
    rank: int = 0


def contest_list_for_user(*, user: User) -> list[Contest]:
    scope = user_access_scope(user=user)
    contests = Contest.objects.select_related("team")
    if scope.sees_everything:
        return list(contests)
    my_teams = list(Membership.objects.filter(user=user).values_list("team_id", flat=True))
    return list(contests.filter(Q(team__isnull=True) | Q(team_id__in=my_teams)))


def contest_get_for_user(*, contest_id: int, user: User) -> Contest:
    for contest in contest_list_for_user(user=user):
        if contest.pk == contest_id:
            return contest
    raise Http404("No such contest.")


def contest_progress(*, contest: Contest) -> list[ContestRow]:
    """Each participant's (or team's) value over the contest's days, its share of the target, ranked."""
    members = Membership.objects.filter(user__is_active=True)
    if contest.team_id:
        members = members.filter(team_id=contest.team_id)
    pairs = list(members.values_list("team_id", "team__name", "user_id"))
    user_ids = {user_id for _team, _name, user_id in pairs}
    values = _measure_values(
        measure=contest.measure,
        start=contest.starts_on,
        end=contest.ends_on + dt.timedelta(days=1),
        user_ids=user_ids,
    )
    names: dict[int, str]
    if contest.is_for_teams:
        grouped: dict[int, Decimal | int | None] = {}
        names = {}
        for team_id, team_name, user_id in pairs:
            names[team_id] = team_name
            value = values.get(user_id)
            if value is not None:
                grouped[team_id] = (grouped.get(team_id) or 0) + value
            else:
                grouped.setdefault(team_id, None)
        values = grouped
    else:
        names = {row.pk: row.display_name for row in User.objects.filter(pk__in=sorted(user_ids))}
    rows = []
    for key, value in values.items():
        share = (
            (Decimal(value) * 100 / Decimal(contest.target)).quantize(Decimal("0.1"))
            if value is not None
            else None
        )
        rows.append(
            ContestRow(
                key, names.get(key, str(key)), value, share, value is not None and value >= contest.target
            )
        )
    rows.sort(key=lambda row: (row.value is None, -(row.value or 0), row.name))
    for position, row in enumerate(rows, start=1):
        row.rank = position
    return rows


# ------------------------------------------------------------------------------------ plan preview
@dataclass
class PreviewRow:
    user_id: int
    name: str
    credit_minor: int
    attainment_percent: Decimal | None
    actual_minor: int | None  # the stored statement's rule commission, when there is one
    preview_minor: int


def plan_preview(*, plan: CommissionPlan, period: Period) -> list[PreviewRow]:
    """What the people credited in ``period`` would have earned under ``plan`` (its rules applied to every
    credit; clawbacks and adjustments left out), next to what their statements say."""
    terms = selectors.plan_terms(plan=plan)
    inputs = selectors.period_inputs(period=period, skip_clawbacks=True, as_if_open=True)
    people = {user_id: person for user_id, person in inputs.people.items() if person.credits}
    actual = dict(
        Statement.objects.filter(period_key=period.key, user_id__in=sorted(people)).values_list(
            "user_id", "commission_minor"
        )
    )
    names = {row.pk: row.display_name for row in User.objects.filter(pk__in=sorted(people))}
    rows = []
    for user_id, person in people.items():
        result = calc.compute_statement(
            credits=[(credit, terms) for credit, _terms in person.credits],
            quota_minor=person.quota_minor,
            period_terms=terms,
        )
        rows.append(
            PreviewRow(
                user_id,
                names.get(user_id, str(user_id)),
                result.credit_minor,
                result.attainment_percent,
                actual.get(user_id),
                result.commission_minor,
            )
        )
    return sorted(rows, key=lambda row: row.name)
