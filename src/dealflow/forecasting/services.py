"""Writes of the forecast: quotas, calls, immutable snapshots and backtest runs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from dealflow.accounts.models import Membership, Team, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.accounts.services import audit_record
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.core.money import to_minor
from dealflow.core.periods import Period, parse_period, period_containing
from dealflow.deals.selectors import base_currency, user_check_can_write
from dealflow.forecasting import calculations as calc
from dealflow.forecasting import engine, live
from dealflow.forecasting.models import (
    BacktestRun,
    BacktestStatus,
    CalibrationSample,
    CallKind,
    ForecastCall,
    ForecastSnapshot,
    Quota,
    ScopeKind,
    SnapshotDeal,
)
from dealflow.forecasting.selectors import DRAWS, SEED, TargetBook, method_choice, period_kind_check


def _period(value: str | Period) -> Period:
    period = parse_period(value) if isinstance(value, str) else value
    if period.kind not in ("month", "quarter"):
        raise ApplicationError("Quotas and calls are per month or per quarter.", field="period")
    return period


def _can_manage_user(by: User, target: User) -> bool:
    access = user_access_scope(user=by)
    if access.is_admin:
        return True
    return Membership.objects.filter(user=target, team_id__in=access.managed_team_ids).exists()


def _can_manage_team(by: User, team: Team) -> bool:
    access = user_access_scope(user=by)
    return access.is_admin or team.pk in access.managed_team_ids


# -------------------------------------------------------------------------------------------- quotas
@transaction.atomic
def quota_set(
    *,
    by: User,
    period: str | Period,
    amount: Decimal | int | str,
    team: Team | None = None,
    user: User | None = None,
) -> Quota:
    """Set (or replace) the quota of a team or a rep for a period; managers of the team and admins only."""
    period = _period(period)
    if (team is None) == (user is None):
        raise ApplicationError("A quota belongs to one team or one rep.", field="team")
    if team is not None and not _can_manage_team(by, team):
        raise PermissionDeniedError("Only the team's manager or an admin may set its quota.", field="team")
    if user is not None and not _can_manage_user(by, user):
        raise PermissionDeniedError("Only the rep's manager or an admin may set a rep's quota.", field="user")
    currency = base_currency()
    amount_minor = to_minor(amount, currency)
    quota, created = Quota.objects.update_or_create(
        period_key=period.key,
        team=team,
        user=user,
        defaults={
            "period_start": period.start,
            "period_end": period.end,
            "amount_minor": amount_minor,
            "currency": currency,
            "set_by": by,
        },
    )
    audit_record(
        actor=by,
        action="forecast.quota_set",
        target=f"{'team:' + str(team.pk) if team else 'rep:' + str(user.pk if user else '')} {period.key}",
        detail={"amount_minor": amount_minor, "created": created},
    )
    return quota


@transaction.atomic
def quota_import_csv(*, by: User, text: str) -> int:
    """Import quotas from CSV with columns period, team, user, amount (team or user per row); all or nothing."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    required = {"period", "amount"}
    if not reader.fieldnames or not required <= {name.strip().lower() for name in reader.fieldnames}:
        raise ApplicationError("The CSV needs the columns period, team, user and amount.", field="file")
    count = 0
    for line, row in enumerate(reader, start=2):
        row = {(key or "").strip().lower(): (value or "").strip() for key, value in row.items()}
        try:
            team = user = None
            if row.get("team"):
                team = Team.objects.filter(name__iexact=row["team"]).first()
                if team is None:
                    raise ApplicationError(f"There is no team {row['team']!r}.", field="team")
            if row.get("user"):
                user = User.objects.filter(username__iexact=row["user"]).first()
                if user is None:
                    raise ApplicationError(f"There is no user {row['user']!r}.", field="user")
            quota_set(by=by, period=row.get("period", ""), amount=row.get("amount", ""), team=team, user=user)
        except ApplicationError as error:
            raise ApplicationError(f"Line {line}: {error.message}", field=error.field) from error
        count += 1
    return count


# --------------------------------------------------------------------------------------------- calls
def _call_amounts(commit, best_case) -> tuple[int, int, str]:
    currency = base_currency()
    commit_minor = to_minor(commit, currency, field="commit")
    best_minor = to_minor(best_case, currency, field="best_case")
    if best_minor < commit_minor:
        raise ApplicationError("Best case cannot be below commit.", field="best_case")
    return commit_minor, best_minor, currency


@transaction.atomic
def call_submit(
    *,
    by: User,
    period: str | Period,
    commit: Decimal | int | str,
    best_case: Decimal | int | str,
    user: User | None = None,
    note: str = "",
) -> ForecastCall:
    """Record a rep's call for a period (their own, or one of their team's reps for a manager); kept with its time."""
    user_check_can_write(user=by)  # an analyst reads forecasts but makes no call
    period = _period(period)
    user = user or by
    if user.pk != by.pk and not _can_manage_user(by, user):
        raise PermissionDeniedError(
            "You may submit your own call, or your team's as its manager.", field="user"
        )
    commit_minor, best_minor, currency = _call_amounts(commit, best_case)
    return ForecastCall.objects.create(
        period_key=period.key,
        period_start=period.start,
        period_end=period.end,
        kind=CallKind.REP,
        user=user,
        commit_minor=commit_minor,
        best_case_minor=best_minor,
        currency=currency,
        note=(note or "")[:500],
        submitted_by=by,
    )


@transaction.atomic
def call_adjust(
    *,
    by: User,
    team: Team,
    period: str | Period,
    commit: Decimal | int | str,
    best_case: Decimal | int | str,
    note: str,
) -> ForecastCall:
    """A manager's adjustment of the team's call, with the reason; it replaces the sum of the reps' calls."""
    period = _period(period)
    if not _can_manage_team(by, team):
        raise PermissionDeniedError("Only the team's manager or an admin may adjust its call.", field="team")
    if not (note or "").strip():
        raise ApplicationError("Say why you adjust the call: a note is required.", field="note")
    commit_minor, best_minor, currency = _call_amounts(commit, best_case)
    return ForecastCall.objects.create(
        period_key=period.key,
        period_start=period.start,
        period_end=period.end,
        kind=CallKind.ADJUSTMENT,
        team=team,
        commit_minor=commit_minor,
        best_case_minor=best_minor,
        currency=currency,
        note=note.strip()[:500],
        submitted_by=by,
    )


# ----------------------------------------------------------------------------------------- snapshots
@dataclass
class SnapshotContext:
    """History, calendar and weekly panel loaded once, for taking many as-of snapshots (demo, backfill)."""

    history: calc.History
    calendar: calc.Calendar
    panel: calc.Panel
    kind: str

    @classmethod
    def load(cls, *, kind: str = "month") -> SnapshotContext:
        history = engine.history_load()
        calendar = engine.calendar_for_history(history, kind=kind, until=clock.today())
        panel = engine.panel_build(history, calendar, until=engine.moment_of(clock.now()))
        return cls(history=history, calendar=calendar, panel=panel, kind=kind)


def _rows_insert(model, columns: list[str], rows: list[tuple], *, on_conflict: str = "") -> None:
    """Insert rows with executemany: bulk_create prepares every value through its field, which took
    most of a weekly snapshot's time at 18,000 open deals (GUIDE.md: 16-24x slower than executemany)."""
    table = model._meta.db_table
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders}) {on_conflict}"  # noqa: S608 (names from the model)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[start : start + 5000])


_SAMPLE_KEEPS_EARLIEST = (
    "ON CONFLICT (deal_id, stage_id) DO UPDATE SET as_of = excluded.as_of, "
    "configured_probability = excluded.configured_probability, p_win = excluded.p_win "
    "WHERE excluded.as_of < forecasting_calibrationsample.as_of"
)


def _snapshot_deals_insert(*, run_key, at, history, states, prediction, stage_probability, keys) -> None:
    """One SnapshotDeal row per open deal, and its calibration sample (kept when it is the earliest)."""
    as_of = connection.ops.adapt_datetimefield_value(at)
    json_field = SnapshotDeal._meta.get_field("p_by_period")
    deal_ids = history.deal_ids[states.deal].tolist()
    stage_ids = history.stage_ids[states.stage].tolist()
    configured = stage_probability[states.stage].tolist()
    p_win = np.round(prediction.p_win, 5).tolist()
    p_period = np.round(prediction.p_period, 5).tolist()
    rows, samples = [], []
    for index in range(len(states)):
        close_on = int(states.close_on[index])
        category = int(states.category[index])
        rows.append(
            (
                run_key,
                as_of,
                deal_ids[index],
                int(states.owner[index]),
                stage_ids[index],
                round(float(states.age_days[index]), 2),
                round(float(states.amount[index])),
                connection.ops.adapt_datefield_value(dt.date.fromordinal(close_on))
                if close_on != calc.NO_DATE
                else None,
                calc.CATEGORIES[category] if category >= 0 else "",
                configured[index],
                p_win[index],
                json_field.get_db_prep_save(dict(zip(keys, p_period[index], strict=False)), connection),
                prediction.source[index],
                prediction.level,
            )
        )
        samples.append((deal_ids[index], stage_ids[index], as_of, configured[index], p_win[index]))
    _rows_insert(
        SnapshotDeal,
        [
            "run_key",
            "as_of",
            "deal_id",
            "owner_id_at",
            "stage_id",
            "age_days",
            "amount_minor",
            "expected_close_on",
            "category",
            "configured_probability",
            "p_win",
            "p_by_period",
            "source",
            "level",
        ],
        rows,
    )
    _rows_insert(
        CalibrationSample,
        ["deal_id", "stage_id", "as_of", "configured_probability", "p_win"],
        samples,
        on_conflict=_SAMPLE_KEEPS_EARLIEST,
    )


def snapshot_check_can_take(*, user: User) -> None:
    access = user_access_scope(user=user)
    if not (access.is_admin or access.is_manager):
        raise PermissionDeniedError("Only managers and admins take forecast snapshots.", field="user")


@transaction.atomic
def snapshot_take(
    *,
    origin: str,
    by: User | None = None,
    at: dt.datetime | None = None,
    kind: str = "month",
    context: SnapshotContext | None = None,
    draws: int = DRAWS,
    seed: int = SEED,
) -> list[ForecastSnapshot]:
    """Freeze the forecast as of ``at`` (default now) for this period and the next three, for the company,
    every team and every rep, with one row per open deal. Rebuilt from the event log, so a past ``at``
    sees exactly what was known then."""
    period_kind_check(kind)
    if by is not None:
        snapshot_check_can_take(user=by)
    at = at or clock.now()
    if context is None:
        context = SnapshotContext.load(kind=kind)
    history, calendar, panel = context.history, context.calendar, context.panel
    moment = engine.moment_of(at)
    fit_result = calc.fit(history, calendar, panel, moment, horizons=engine.HORIZONS)
    states = calc.states_as_of(history, [moment])
    choice = method_choice()
    methods = [choice.method] + [choice.later_method] * (engine.HORIZONS - 1)
    owners = sorted(
        {int(owner) for owner in states.owner}
        | {int(owner) for points in fit_result.new_points for point in points for owner in point["by_owner"]}
        | {int(owner) for owner in fit_result.owner_bookings}
    )
    leaf_of = {owner: index for index, owner in enumerate(owners)}
    parts = live.components(
        fit_result,
        states,
        calendar,
        moment,
        leaf=np.array([leaf_of[int(owner)] for owner in states.owner], dtype=np.int64),
        leaf_owner_ids=owners,
        horizons=engine.HORIZONS,
        draws=draws,
        seed=seed,
    )
    prediction = parts.prediction
    current = int(calendar.index_of(moment))
    keys = [calendar.keys[current + horizon] for horizon in range(engine.HORIZONS)]
    periods = [parse_period(key) for key in keys]
    closed = calc.bookings_by_owner(history, int(calendar.start_times[current]), moment + 1)
    book = TargetBook(keys, at=at)
    owner_team: dict[int, int] = {}
    for user_id, team_id in Membership.objects.order_by("id").values_list("user_id", "team_id"):
        owner_team.setdefault(user_id, team_id)
    scopes: list[tuple[str, int | None, list[int]]] = [(ScopeKind.COMPANY, None, list(range(len(owners))))]
    for team_id in sorted(set(owner_team.values())):
        scopes.append((ScopeKind.TEAM, team_id, [leaf_of[o] for o in owners if owner_team.get(o) == team_id]))
    for owner in owners:
        scopes.append((ScopeKind.REP, owner, [leaf_of[owner]]))
    stage_probability = np.asarray(fit_result.configured)
    run_key = f"{at:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
    currency = base_currency()
    now = clock.now()
    as_of_on = timezone.localdate(at)
    created = []
    for scope_kind, scope_id, leaves in scopes:
        leaf_owners = {owners[index] for index in leaves}
        in_scope = (
            np.isin(states.owner, list(leaf_owners)) if leaf_owners else np.zeros(len(states), dtype=bool)
        )
        for horizon, period in enumerate(periods):
            closed_minor = sum(closed.get(owner, 0.0) for owner in leaf_owners) if horizon == 0 else 0.0
            if scope_kind == ScopeKind.COMPANY:
                targets = book.company(period.key)
            elif scope_kind == ScopeKind.TEAM:
                targets = book.team(period.key, int(scope_id or 0))
            else:
                targets = book.rep(period.key, int(scope_id or 0))
            summary = live.figures(
                parts,
                leaves=leaves,
                horizon=horizon,
                closed=closed_minor,
                quota=targets.quota,
                method=methods[horizon],
                calibration=choice.calibration,
                company=scope_kind == ScopeKind.COMPANY,
            )
            flags = calc.in_period_flags(
                states.close_on, calendar, np.full(len(states), current + horizon), horizon
            )
            flags &= in_scope
            expected_open = float((states.amount * prediction.p_period[:, horizon] * in_scope).sum())
            created.append(
                ForecastSnapshot(
                    run_key=run_key,
                    as_of=at,
                    as_of_on=as_of_on,
                    period_key=period.key,
                    period_start=period.start,
                    period_end=period.end,
                    scope_kind=scope_kind,
                    team_id=scope_id if scope_kind == ScopeKind.TEAM else None,
                    owner_id=scope_id if scope_kind == ScopeKind.REP else None,
                    method=methods[horizon],
                    level=prediction.level,
                    currency=currency,
                    closed_to_date_minor=round(closed_minor),
                    expected_open_minor=round(expected_open),
                    expected_new_minor=max(0, round(summary.mean - closed_minor - expected_open)),
                    weighted_minor=round(
                        float((states.amount * stage_probability[states.stage] * flags).sum())
                    ),
                    commit_minor=round(float(states.amount[flags & (states.category == 2)].sum())),
                    best_case_minor=round(float(states.amount[flags & (states.category == 1)].sum())),
                    pipeline_minor=round(float(states.amount[flags & (states.category == 0)].sum())),
                    mean_minor=round(summary.mean),
                    p10_minor=round(summary.p10),
                    p50_minor=round(summary.p50),
                    p90_minor=round(summary.p90),
                    quota_minor=targets.quota,
                    p_quota=summary.p_quota,
                    call_commit_minor=targets.call_commit,
                    call_best_case_minor=targets.call_best_case,
                    open_deals=int(in_scope.sum()),
                    draws=draws,
                    seed=seed,
                    origin=origin[:20],
                    created_at=now,
                )
            )
    ForecastSnapshot.objects.bulk_create(created, batch_size=500)
    _snapshot_deals_insert(
        run_key=run_key,
        at=at,
        history=history,
        states=states,
        prediction=prediction,
        stage_probability=stage_probability,
        keys=keys,
    )
    return created


# ----------------------------------------------------------------------------------------- backtests
WARM_UP_MONTHS = 6  # weeks this far before a backtest's range are forecast to calibrate, not scored


def _backtest_range(period_from: str, period_to: str, kind: str) -> tuple[Period, Period]:
    period_kind_check(kind)
    first, last = parse_period(period_from, field="period_from"), parse_period(period_to, field="period_to")
    if first.kind not in ("month", "quarter") or last.kind not in ("month", "quarter"):
        raise ApplicationError("Give months (2024-01) or quarters (2024-Q1).", field="period_from")
    if last.end <= first.start:
        raise ApplicationError("The backtest must end after it starts.", field="period_to")
    if first.start >= clock.today():
        raise ApplicationError("A backtest needs periods in the past.", field="period_from")
    return first, last


def backtest_default_range(*, kind: str = "month") -> tuple[str, str]:
    """The last 12 full months (or 4 full quarters) before today."""
    period_kind_check(kind)
    last = period_containing(clock.today(), kind=kind).previous()
    first = last
    for _ in range(11 if kind == "month" else 3):
        first = first.previous()
    return first.key, last.key


def backtest_create(
    *, by: User | None, period_from: str | None = None, period_to: str | None = None, kind: str = "month"
) -> BacktestRun:
    """Record a backtest request (managers and admins), ready for ``backtest_execute``; without a range,
    the last 12 full months (``backtest_default_range``)."""
    if not period_from or not period_to:
        default_from, default_to = backtest_default_range(kind=kind)
        period_from, period_to = period_from or default_from, period_to or default_to
    if by is not None:
        access = user_access_scope(user=by)
        if not (access.is_admin or access.is_manager or access.is_analyst):
            raise PermissionDeniedError("Only managers, analysts and admins run backtests.", field="user")
    first, last = _backtest_range(period_from, period_to, kind)
    return BacktestRun.objects.create(
        period_from=first.key, period_to=last.key, period_kind=kind, requested_by=by
    )


def backtest_start(
    *, by: User, period_from: str | None = None, period_to: str | None = None, kind: str = "month"
) -> BacktestRun:
    """Create a backtest and queue it for the worker (the page polls its progress)."""
    from dealflow.forecasting.tasks import backtest_run_task

    run = backtest_create(by=by, period_from=period_from, period_to=period_to, kind=kind)
    transaction.on_commit(lambda: backtest_run_task.enqueue(run_id=run.pk))
    return run


def _progress(run: BacktestRun):
    def report(done: int, total: int) -> None:
        if done == total or done % 4 == 0:
            BacktestRun.objects.filter(pk=run.pk).update(
                steps_done=done, steps_total=total, updated_at=clock.now()
            )

    return report


def backtest_execute(*, run: BacktestRun, draws: int = 2000, seed: int = SEED, progress=None) -> BacktestRun:
    """Run a backtest: rebuild the pipeline weekly from the event log, fit on older data only, score.

    Stores the table (accuracy, WAPE, bias, coverage by lead time per method and baseline) on the run.
    """
    first, last = _backtest_range(run.period_from, run.period_to, run.period_kind)
    BacktestRun.objects.filter(pk=run.pk).update(
        status=BacktestStatus.RUNNING, started_at=clock.now(), updated_at=clock.now()
    )
    try:
        history = engine.history_load()
        calendar = engine.calendar_for_history(history, kind=run.period_kind, until=clock.today())
        now = engine.moment_of(clock.now())
        panel = engine.panel_build(history, calendar, until=now)
        start = engine.moment_of(engine.midnight(first.start))
        end = engine.moment_of(engine.midnight(min(last.end, clock.today())))
        warm_up = first
        for _ in range(WARM_UP_MONTHS if run.period_kind == "month" else WARM_UP_MONTHS // 3):
            warm_up = warm_up.previous()
        warm_start = engine.moment_of(engine.midnight(warm_up.start))
        # Weeks before the range only feed the calibration (their errors), they are not scored.
        points = [index for index, moment in enumerate(panel.times.tolist()) if warm_start <= moment < end]
        BacktestRun.objects.filter(pk=run.pk).update(steps_total=len(points))
        report = _progress(run)

        def both(done: int, total: int) -> None:
            report(done, total)
            if progress is not None:
                progress(done, total)

        rows = calc.backtest(
            history, calendar, panel, points=points, now=now, draws=draws, seed=seed, progress=both
        )
        table = calc.backtest_table(rows, scored_from=start, now=now)
        table["points"] = sum(1 for index in points if panel.times[index] >= start)
        table["warm_up_points"] = len(points) - table["points"]
        table["draws"] = draws
        BacktestRun.objects.filter(pk=run.pk).update(
            status=BacktestStatus.DONE,
            result=engine._json_safe(table),
            steps_done=len(points),
            finished_at=clock.now(),
            updated_at=clock.now(),
        )
    except Exception as error:
        BacktestRun.objects.filter(pk=run.pk).update(
            status=BacktestStatus.FAILED,
            error=str(error)[:2000],
            finished_at=clock.now(),
            updated_at=clock.now(),
        )
        raise
    run.refresh_from_db()
    return run
