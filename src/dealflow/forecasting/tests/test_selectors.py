from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.http import Http404
from django.utils import timezone, translation

from dealflow.core.periods import parse_period
from dealflow.deals import services as deal_services
from dealflow.deals.tests.factories import DealFactory, stage_named
from dealflow.forecasting import selectors, services
from dealflow.forecasting.models import ForecastSnapshot, ScopeKind, SnapshotDeal
from dealflow.forecasting.selectors.accuracy import _actual_minor
from dealflow.forecasting.selectors.scopes import scope_resolve_for_user

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 16, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def two_deals(rep):
    with time_machine.travel(NOW - dt.timedelta(days=3), tick=False):
        DealFactory(
            owner=rep,
            amount=Decimal("1000"),
            stage=stage_named("Proposal"),
            expected_close_on=dt.date(2026, 11, 28),
        )
        DealFactory(
            owner=rep,
            amount=Decimal("2000"),
            stage=stage_named("Closing"),
            expected_close_on=dt.date(2026, 12, 5),
        )


@time_machine.travel(NOW, tick=False)
def test_cold_start_forecast_uses_configured_probabilities_hand_worked(two_deals, rep, manager):
    view = selectors.forecast_for_user(user=manager)
    assert view.scope.kind == ScopeKind.TEAM
    assert view.level == "L0"
    november, december = view.periods[0], view.periods[1]
    assert november.period.key == "2026-11"
    assert november.weighted == 450.0  # 1000 x 45 %
    assert december.weighted == 1700.0  # 2000 x 85 %
    assert november.best_case == 1000.0 and december.commit == 2000.0
    # Monte Carlo mean within three standard errors of sum(p x amount)
    assert abs(november.mean - 450.0) < 3 * november.standard_error
    assert abs(december.mean - 1700.0) < 3 * december.standard_error
    assert [deal.source for deal in view.deals] == ["configured", "configured"]
    assert view.deals[0].reason.startswith("Configured probability of Proposal (45 %)")
    assert "Counted in 2026-11 because its close date falls in it." in view.deals[0].reason
    assert "Not counted in 2026-11" in view.deals[1].reason


@time_machine.travel(NOW, tick=False)
def test_scopes_follow_the_personas(two_deals, rep, manager, outsider, team, other_team, admin_user):
    assert selectors.forecast_for_user(user=rep).scope.kind == ScopeKind.REP
    assert selectors.forecast_for_user(user=admin_user).scope.kind == ScopeKind.COMPANY
    with pytest.raises(Http404):
        selectors.forecast_for_user(user=outsider, scope_kind="team", scope_id=team.pk)
    with pytest.raises(Http404):
        selectors.forecast_for_user(user=outsider, scope_kind="rep", scope_id=rep.pk)
    with pytest.raises(Http404):
        selectors.forecast_for_user(user=rep, scope_kind="company")
    outsider_view = selectors.forecast_for_user(user=outsider)
    assert outsider_view.open_deals == 0 and outsider_view.periods[0].weighted == 0


@time_machine.travel(NOW, tick=False)
def test_forecast_query_count_does_not_grow_with_deals(
    two_deals, manager, rep, django_assert_max_num_queries
):
    selectors.forecast_for_user(user=manager)  # computes and stores the day's fit
    with django_assert_max_num_queries(5):  # kept: the access check, the version and the kept forecast
        selectors.forecast_for_user(user=manager)
    for _ in range(5):
        DealFactory(owner=rep, amount=Decimal("10"), expected_close_on=dt.date(2026, 11, 30))
    # Recomputed: the computation's 16 queries, the access check, the version before and after, the kept
    # forecast read and written.
    with django_assert_max_num_queries(21):
        selectors.forecast_for_user(user=manager)


def test_forecast_accuracy_for_period_hand_worked(admin_user, rep, manager, team):
    with time_machine.travel(dt.datetime(2026, 9, 10, 12, tzinfo=dt.UTC), tick=False):
        for amount in ("600", "400"):
            deal = DealFactory(owner=rep, amount=Decimal(amount))
            deal_services.deal_mark_won(deal=deal, by=rep, schedule_follow_up=False)
        DealFactory(owner=rep, amount=Decimal("5000"))  # still open: not in the actual
    common = {
        "run_key": "hand",
        "period_key": "2026-09",
        "period_start": dt.date(2026, 9, 1),
        "period_end": dt.date(2026, 10, 1),
        "scope_kind": ScopeKind.COMPANY,
        "method": "dealflow",
        "level": "L3",
        "currency": "EUR",
        "closed_to_date_minor": 0,
        "expected_open_minor": 0,
        "expected_new_minor": 0,
        "weighted_minor": 0,
        "commit_minor": 0,
        "best_case_minor": 0,
        "pipeline_minor": 0,
        "p50_minor": 0,
        "open_deals": 1,
        "draws": 10,
        "seed": 1,
        "origin": "test",
    }
    at = dt.datetime(2026, 9, 1, 6, tzinfo=dt.UTC)
    ForecastSnapshot.objects.create(
        **common,
        as_of=at,
        as_of_on=at.date(),
        created_at=at,
        mean_minor=90_000,
        p10_minor=80_000,
        p90_minor=95_000,
        call_commit_minor=110_000,
    )
    later = at + dt.timedelta(days=8)
    ForecastSnapshot.objects.create(
        **common,
        as_of=later,
        as_of_on=later.date(),
        created_at=later,
        mean_minor=125_000,
        p10_minor=90_000,
        p90_minor=130_000,
    )
    with time_machine.travel(dt.datetime(2026, 11, 1, tzinfo=dt.UTC), tick=False):
        result = selectors.forecast_accuracy_for_period(user=admin_user, period="2026-09")
        assert result.actual == 1000.0 and result.forecast == 900.0
        assert result.accuracy == pytest.approx(0.9)  # 1 - |1000 - 900| / 1000
        assert result.covered is False  # 1000 > P90 950
        assert result.call_accuracy == pytest.approx(0.9)  # 1 - |1000 - 1100| / 1000
        week1 = selectors.forecast_accuracy_for_period(user=admin_user, period="2026-09", week=1)
        assert week1.accuracy == pytest.approx(0.75) and week1.covered is True
        table = selectors.forecast_accuracy_table_for_user(user=admin_user)
        assert [row["week"] for row in table.by_week] == [0, 1]
        assert table.by_week[0]["wape"] == pytest.approx(0.1)
        assert table.by_week[1]["bias"] == pytest.approx(0.25)
        assert table.by_week[0]["call_bias"] == pytest.approx(0.1)
        assert selectors.forecast_accuracy_for_period(user=admin_user, period="2026-08") is None
        # The actual of whole months comes from the monthly totals, of any other range from the deals.
        company = scope_resolve_for_user(user=admin_user, kind=None, scope_id=None)
        actual = {
            key: _actual_minor(user=admin_user, scope=company, period=parse_period(key))
            for key in ("2026-09", "2026-Q3", "2026-09-01..2026-09-09", "2026-09-10..2026-09-20")
        }
        assert actual == {
            "2026-09": 100_000,
            "2026-Q3": 100_000,
            "2026-09-01..2026-09-09": 0,
            "2026-09-10..2026-09-20": 100_000,
        }
        with pytest.raises(Http404):
            selectors.forecast_accuracy_for_period(user=manager, period="2026-09", scope_kind="company")


def test_calibration_compares_configured_and_model_with_outcomes(pipeline_history, manager):
    from django.utils import timezone

    services.snapshot_take(origin="test", at=timezone.now() - dt.timedelta(days=60), draws=200)
    result = selectors.forecast_calibration_for_user(user=manager)
    assert result["stages"], "deals seen 60 days ago have closed since"
    first = result["stages"][0]
    assert first.stage == "Qualification"
    assert 0 <= first.observed <= 1 and first.count > 0
    assert result["model"].brier >= 0


def test_page_uses_yesterdays_fit_until_the_hourly_job_fits_today(two_deals, manager):
    from dealflow.forecasting import tasks
    from dealflow.forecasting.models import ForecastFit

    with time_machine.travel(NOW, tick=False):
        assert selectors.forecast_for_user(user=manager).fitted_on == dt.date(2026, 11, 16)
    next_day = NOW + dt.timedelta(days=1)
    with time_machine.travel(next_day, tick=False):
        view = selectors.forecast_for_user(user=manager)
        assert view.fitted_on == dt.date(2026, 11, 16)  # no request waits for a refit
        assert ForecastFit.objects.filter(as_of_on=dt.date(2026, 11, 17)).count() == 0
        assert tasks.fit_warm.call() == 2  # month and quarter
        assert tasks.fit_warm.call() == 0  # already there
        assert selectors.forecast_for_user(user=manager).fitted_on == dt.date(2026, 11, 17)
    with time_machine.travel(NOW + dt.timedelta(days=4), tick=False):
        # Older than STALE_FIT_DAYS: computed on the spot.
        assert selectors.forecast_for_user(user=manager).fitted_on == dt.date(2026, 11, 20)


def test_calibration_hand_worked_once_per_deal_and_stage_and_only_visible_deals(
    rep, manager, outsider, django_assert_max_num_queries
):
    from dealflow.deals.tests.factories import lost_reason
    from dealflow.forecasting.models import CalibrationSample

    proposal, closing = stage_named("Proposal"), stage_named("Closing")
    with time_machine.travel(NOW - dt.timedelta(days=2), tick=False):
        won_a, lost_b, won_c = (DealFactory(owner=rep) for _ in range(3))
        hidden = DealFactory(owner=outsider)  # another team's: never counted for the manager
        for deal in (won_a, won_c, hidden):
            deal_services.deal_mark_won(deal=deal, by=deal.owner, schedule_follow_up=False)
        deal_services.deal_mark_lost(deal=lost_b, reason=lost_reason(), by=rep)
        open_deal = DealFactory(owner=rep)  # not closed: no outcome yet
    seen = NOW - dt.timedelta(days=30)
    for deal, stage, configured, p_win in [
        (won_a, proposal, 0.45, 0.8),
        (lost_b, proposal, 0.45, 0.3),
        (won_c, closing, 0.85, 0.9),
        (hidden, proposal, 0.45, 0.1),
        (open_deal, proposal, 0.45, 0.5),
    ]:
        CalibrationSample.objects.create(
            deal=deal, stage=stage, as_of=seen, configured_probability=configured, p_win=p_win
        )
    with time_machine.travel(NOW, tick=False):
        result = selectors.forecast_calibration_for_user(user=manager)
        assert [row.stage for row in result["stages"]] == ["Proposal", "Closing"]
        first, second = result["stages"]
        assert (first.count, second.count) == (2, 1)
        assert first.observed == 0.5 and first.predicted == pytest.approx(0.55)  # (0.8 + 0.3) / 2
        assert first.configured == pytest.approx(0.45)
        assert first.brier_model == pytest.approx(0.065)  # (0.2^2 + 0.3^2) / 2
        assert first.brier_configured == pytest.approx(0.2525)  # (0.55^2 + 0.45^2) / 2
        # Skill against the base rate of all three (2/3): reference ((1/3)^2 + (2/3)^2) / 2 = 5/18
        assert first.skill_model == pytest.approx(1 - 0.065 / (5 / 18))
        assert first.ece_model == pytest.approx(0.25)  # bins 0.8 (gap 0.2) and 0.3 (gap 0.3), half each
        assert result["model"].brier == pytest.approx((0.04 + 0.09 + 0.01) / 3)
        assert result["configured"].brier == pytest.approx((0.55**2 + 0.45**2 + 0.15**2) / 3)
        assert [row.count for row in selectors.forecast_calibration_for_user(user=outsider)["stages"]] == [1]
        assert selectors.forecast_calibration_for_user(user=manager, since=NOW.date())["stages"] == []
        # Kept for the day: a deal closed today counts from tomorrow, and the table is not recomputed.
        deal_services.deal_mark_won(deal=open_deal, by=rep, schedule_follow_up=False)
        with django_assert_max_num_queries(3):  # access scope, memberships, the stored table
            assert selectors.forecast_calibration_for_user(user=manager)["stages"][0].count == 2
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        assert selectors.forecast_calibration_for_user(user=manager)["stages"][0].count == 3


def test_calibration_sample_is_the_earliest_snapshot_that_saw_the_deal_in_its_stage(pipeline_history):
    from dealflow.forecasting.models import CalibrationSample

    def assert_samples_are_the_first_rows() -> None:
        pairs = set(SnapshotDeal.objects.values_list("deal_id", "stage_id"))
        samples = {
            (deal, stage): as_of
            for deal, stage, as_of in CalibrationSample.objects.values_list("deal_id", "stage_id", "as_of")
        }
        assert set(samples) == pairs and len(samples) == CalibrationSample.objects.count()
        for (deal_id, stage_id), as_of in samples.items():
            first = SnapshotDeal.objects.filter(deal_id=deal_id, stage_id=stage_id).order_by("as_of").first()
            assert first is not None and first.as_of == as_of

    now = timezone.now()
    services.snapshot_take(origin="test", at=now - dt.timedelta(days=10), draws=100)
    assert_samples_are_the_first_rows()
    services.snapshot_take(
        origin="test", at=now - dt.timedelta(days=3), draws=100
    )  # later: kept as they were
    assert_samples_are_the_first_rows()
    earliest = now - dt.timedelta(days=20)
    services.snapshot_take(origin="test", at=earliest, draws=100)  # a backfill dated earlier replaces them
    assert_samples_are_the_first_rows()
    assert (
        CalibrationSample.objects.filter(as_of=earliest).count()
        == SnapshotDeal.objects.filter(as_of=earliest).count()
    )


def _correction(ratio: float, low: float, high: float) -> list[dict]:
    entry = {"ratio": ratio, "low": low, "median": 1.0, "high": high, "points": 20, "calibrated": True}
    return [entry] * 4  # the same for every quarter of the period


@time_machine.travel(NOW, tick=False)
def test_the_page_uses_the_backtests_default_even_a_baseline_with_its_calibrated_range_hand_worked(
    rep, admin_user
):
    """The latest backtest found the run-rate most accurate; the page uses it, corrected and ranged."""
    from dealflow.forecasting.models import BacktestRun, BacktestStatus

    for month in range(5, 11):  # one 6,000 win in each of May..October 2026
        at = dt.datetime(2026, month, 10, 12, 0, tzinfo=dt.UTC)
        with time_machine.travel(at, tick=False):
            deal = DealFactory(owner=rep, amount=Decimal("6000"), stage=stage_named("Closing"))
            deal_services.deal_mark_won(deal=deal, by=rep, at=at, schedule_follow_up=False)
    scores = {"run_rate": {"wape": 0.10, "count": 40, "coverage": 0.8, "calibrated": 40, "bias": 0.0, "accuracy": 0.9},
              "dealflow": {"wape": 0.15, "count": 40, "coverage": 0.7, "calibrated": 40, "bias": 0.0, "accuracy": 0.85}}  # fmt: skip
    next_scores = {"run_rate": {"wape": 0.125, "count": 36, "coverage": 0.75, "calibrated": 36, "bias": -0.03, "accuracy": 0.8},
                   "dealflow": {"wape": 0.2, "count": 36, "coverage": 0.7, "calibrated": 36, "bias": 0.0, "accuracy": 0.8}}  # fmt: skip
    BacktestRun.objects.create(
        period_from="2025-11",
        period_to="2026-10",
        status=BacktestStatus.DONE,
        finished_at=NOW,
        result={
            "scored": True,
            "default_method": "run_rate",
            "by_horizon": {
                "0": {"default": "run_rate", "best_baseline": "run_rate", "margin": 0.0, "scores": scores},
                "1": {
                    "default": "run_rate",
                    "best_baseline": "run_rate",
                    "margin": 0.0,
                    "scores": next_scores,
                },
            },
            "calibration": {
                "corrections": {
                    "0": {"run_rate": _correction(1.1, 0.8, 1.3)},
                    "1": {"run_rate": _correction(1.0, 0.5, 1.5)},
                },
                "blend_weights": {"0": {"dealflow": 1.0}, "1": {"dealflow": 1.0}},
            },
        },
    )
    view = selectors.forecast_for_user(user=admin_user)
    november, december = view.periods[0], view.periods[1]
    assert (november.method, december.method, view.calibrated) == ("run_rate", "run_rate", True)
    # Run-rate: 6,000 a month. At 12:00 UTC on the 16th (13:00 in Amsterdam) 14 days 11 hours of November's
    # 30 are left: U = 6,000 x 14.4583 / 30 = 2,891.67. Mean 1.1 U = 3,180.83; P10 0.8 U = 2,313.33;
    # P90 1.3 U = 3,759.17.
    assert (november.closed, november.mean, november.p10, november.p90) == (0.0, 3180.83, 2313.33, 3759.17)
    # December: U = 6,000, ratio 1.0, range 0.5-1.5.
    assert (december.mean, december.p10, december.p90) == (6000.0, 3000.0, 9000.0)
    assert view.method_reason.startswith(
        "Run-rate had the lowest error on your own data this period: WAPE 10.0%"
    )
    assert (
        "it is a baseline: the best model, Dealflow (within-period conversion + run-rate), lost to it by 5.0"
        in view.method_reason
    )
    assert "held the actual in 80% of 40 forecasts" in view.method_reason
    assert "Next period: WAPE 12.5%, bias -3.0%; P10-P90 held the actual in 75% of 36 forecasts." in (
        view.method_reason
    )
    with translation.override("nl"):
        dutch = selectors.forecast_for_user(user=admin_user).method_reason
    assert (
        "Volgende periode: WAPE 12,5%, bias -3,0%; P10-P90 bevatte de werkelijke uitkomst in 75% van 36"
        in dutch
    )


# ----------------------------------------------------------------------------------- the kept view
@time_machine.travel(NOW, tick=False)
def test_the_forecast_is_kept_until_the_data_changes_and_reads_no_deal_meanwhile(
    two_deals, manager, rep, outsider, team
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = selectors.forecast_for_user(user=manager)
    with CaptureQueriesContext(connection) as captured:
        kept = selectors.forecast_for_user(user=manager)
    assert kept.periods[0].mean == first.periods[0].mean and kept.open_deals == 2
    # The access check, the user's scope, one version query and the kept forecast: no deal row is read.
    assert len(captured.captured_queries) <= 5
    assert not any('"deals_deal"."' in query["sql"] for query in captured.captured_queries)
    # Another user never gets it, and the access check still answers 404.
    with pytest.raises(Http404):
        selectors.forecast_for_user(user=outsider, scope_kind="team", scope_id=team.pk)
    # A change through the services writes an event: recomputed at once (a small scope is fast).
    deal = DealFactory(
        owner=rep,
        amount=Decimal("4000"),
        stage=stage_named("Closing"),
        expected_close_on=dt.date(2026, 11, 20),
    )
    changed = selectors.forecast_for_user(user=manager)
    assert changed.open_deals == 3 and changed.periods[0].weighted == 450.0 + 4000 * 0.85
    deal_services.deal_update(deal=deal, by=manager, data={"amount": Decimal("2000")})
    assert selectors.forecast_for_user(user=manager).periods[0].weighted == 450.0 + 2000 * 0.85
    # The trash: the deal leaves the forecast at once.
    from dealflow.deals.services import trash

    trash.deal_delete(deal=deal, by=manager)
    assert selectors.forecast_for_user(user=manager).open_deals == 2


def test_a_large_forecast_is_shown_marked_while_the_worker_recomputes_it(
    two_deals, manager, rep, monkeypatch
):
    from types import SimpleNamespace

    from dealflow.forecasting import tasks
    from dealflow.forecasting.selectors import forecast as module

    monkeypatch.setattr(module, "VIEW_STALE_MIN_OPEN", 2)  # two open deals count as a large scope
    asked: list[dict] = []
    refresh = tasks.forecast_refresh  # the worker's task; the page's enqueue only records here
    monkeypatch.setattr(
        tasks, "forecast_refresh", SimpleNamespace(enqueue=lambda **kwargs: asked.append(kwargs))
    )
    with time_machine.travel(NOW, tick=False):
        first = selectors.forecast_for_user(user=manager)
        assert not first.changed_since
        DealFactory(owner=rep, amount=Decimal("4000"), expected_close_on=dt.date(2026, 11, 20))
    with time_machine.travel(NOW + dt.timedelta(seconds=30), tick=False):
        stale = selectors.forecast_for_user(user=manager)
        assert stale.open_deals == 2 and stale.as_of == first.as_of == NOW and stale.changed_since
        assert selectors.forecast_for_user(user=manager).changed_since  # asked once, not per request
    assert asked == [
        {"user_id": manager.pk, "language": "en", "kind": "month", "scope_kind": None, "scope_id": None,
         "method": None, "draws": selectors.DRAWS, "seed": selectors.SEED}
    ]  # fmt: skip
    # The worker runs it (here by hand): everybody reads the new one, marked fresh.
    with time_machine.travel(NOW + dt.timedelta(seconds=40), tick=False):
        assert refresh.call(**asked[0]) == 3
    with time_machine.travel(NOW + dt.timedelta(seconds=50), tick=False):
        fresh = selectors.forecast_for_user(user=manager)
        assert (fresh.open_deals, fresh.as_of, fresh.changed_since) == (
            3,
            NOW + dt.timedelta(seconds=40),
            False,
        )
    # Another change, and no worker: shown marked (asked again) until two minutes after the ask, then the
    # request computes it itself.
    with time_machine.travel(NOW + dt.timedelta(seconds=60), tick=False):
        DealFactory(owner=rep, amount=Decimal("100"), expected_close_on=dt.date(2026, 11, 20))
    with time_machine.travel(NOW + dt.timedelta(seconds=100), tick=False):
        assert selectors.forecast_for_user(user=manager).changed_since and len(asked) == 2
    with time_machine.travel(NOW + dt.timedelta(seconds=219), tick=False):
        assert selectors.forecast_for_user(user=manager).open_deals == 3 and len(asked) == 2
    with time_machine.travel(NOW + dt.timedelta(seconds=221), tick=False):
        late = selectors.forecast_for_user(user=manager)
        assert (late.open_deals, late.as_of, late.changed_since) == (
            4,
            NOW + dt.timedelta(seconds=221),
            False,
        )
    # Unchanged data: kept up to 10 minutes, then shown marked while the worker recomputes it (the clock
    # moves the forecast too), never silently: it says when it was computed.
    with time_machine.travel(NOW + dt.timedelta(seconds=221 + 599), tick=False):
        kept = selectors.forecast_for_user(user=manager)
        assert (kept.as_of, kept.changed_since) == (NOW + dt.timedelta(seconds=221), False)
    with time_machine.travel(NOW + dt.timedelta(seconds=221 + 601), tick=False):
        aged = selectors.forecast_for_user(user=manager)
        assert (aged.as_of, aged.changed_since, len(asked)) == (NOW + dt.timedelta(seconds=221), True, 3)


def test_a_large_forecast_of_an_earlier_day_is_shown_dated_while_the_worker_recomputes_it(
    two_deals, manager, client, monkeypatch
):
    # The first request of a day answers from yesterday's kept forecast (a large scope, the same month),
    # dated and marked, and asks the worker; a small scope, a new month or no worker within two minutes
    # computes it in the request.
    from types import SimpleNamespace

    from dealflow.forecasting import tasks
    from dealflow.forecasting.selectors import forecast as module

    monkeypatch.setattr(module, "VIEW_STALE_MIN_OPEN", 2)
    asked: list[dict] = []
    monkeypatch.setattr(
        tasks, "forecast_refresh", SimpleNamespace(enqueue=lambda **kwargs: asked.append(kwargs))
    )
    manager.language = "nl"  # a forecast is kept per language too
    manager.save(update_fields=["language"])
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        assert "Berekend om 13:00." in client.get("/forecast/").content.decode()  # NOW in Amsterdam
    next_day = NOW + dt.timedelta(days=1, hours=-3)  # 2026-11-17 09:00
    with time_machine.travel(next_day, tick=False):
        page = client.get("/forecast/").content.decode()
        assert "Berekend op 16-11-2026 om 13:00." in page and "data-changed-since" in page
        with translation.override("nl"):
            earlier = selectors.forecast_for_user(user=manager)
        assert (earlier.as_of, earlier.changed_since, earlier.earlier_day, len(asked)) == (NOW, True, True, 1)
    with time_machine.travel(next_day + dt.timedelta(seconds=121), tick=False), translation.override("nl"):
        computed = selectors.forecast_for_user(user=manager)  # no worker came within two minutes
        assert (computed.as_of, computed.changed_since, computed.earlier_day) == (
            next_day + dt.timedelta(seconds=121),
            False,
            False,
        )
    december = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    with time_machine.travel(december, tick=False), translation.override("nl"):
        first_of_december = selectors.forecast_for_user(user=manager)  # a new month: computed
        assert (first_of_december.as_of, first_of_december.changed_since) == (december, False)
        assert first_of_december.periods[0].period.key == "2026-12"
    assert len(asked) == 1
    monkeypatch.setattr(module, "VIEW_STALE_MIN_OPEN", 3)  # now a small scope: computed on the next day
    with time_machine.travel(december + dt.timedelta(days=1), tick=False), translation.override("nl"):
        small = selectors.forecast_for_user(user=manager)
        assert (small.as_of, small.changed_since, len(asked)) == (december + dt.timedelta(days=1), False, 1)


@time_machine.travel(NOW, tick=False)
def test_one_kept_forecast_serves_everybody_who_may_see_the_scope_with_the_same_numbers(
    two_deals, manager, rep, admin_user, team
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dealflow.forecasting.models import KeptForecast
    from dealflow.forecasting.selectors.forecast import forecast_compute

    computed = forecast_compute(user=manager)
    kept = selectors.forecast_for_user(user=manager)
    assert KeptForecast.objects.count() == 1
    # The admin asks for the same team: read from the kept one, equal to computing it for the admin.
    with CaptureQueriesContext(connection) as captured:
        shared = selectors.forecast_for_user(user=admin_user, scope_kind="team", scope_id=team.pk)
    assert not any('"deals_deal"' in query["sql"] for query in captured.captured_queries)
    own = forecast_compute(user=admin_user, scope_kind="team", scope_id=team.pk)
    for view in (kept, shared, own):
        assert [vars(item) for item in view.periods] == [vars(item) for item in computed.periods]
        assert [vars(item) for item in view.deals] == [vars(item) for item in computed.deals]
        assert view.open_deals == computed.open_deals == 2
    assert KeptForecast.objects.count() == 1


@time_machine.travel(NOW, tick=False)
def test_a_kept_view_is_never_shown_under_rights_the_user_no_longer_has(two_deals, manager, team):
    from dealflow.accounts.models import Membership, Role, User

    assert selectors.forecast_for_user(user=manager).scope.kind == ScopeKind.TEAM
    Membership.objects.filter(user=manager, team=team).update(role=Role.REP)  # no updated_at change
    demoted = User.objects.get(pk=manager.pk)  # a new request: roles read again
    assert selectors.forecast_for_user(user=demoted).scope.kind == ScopeKind.REP
