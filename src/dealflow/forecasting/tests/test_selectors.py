from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.http import Http404

from dealflow.deals import services as deal_services
from dealflow.deals.tests.factories import DealFactory, stage_named
from dealflow.forecasting import selectors, services
from dealflow.forecasting.models import ForecastSnapshot, ScopeKind

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
    with django_assert_max_num_queries(16):
        selectors.forecast_for_user(user=manager)
    for _ in range(5):
        DealFactory(owner=rep, amount=Decimal("10"), expected_close_on=dt.date(2026, 11, 30))
    with django_assert_max_num_queries(16):
        selectors.forecast_for_user(user=manager)


def test_forecast_accuracy_for_period_hand_worked(admin_user, rep, manager, team):
    with time_machine.travel(dt.datetime(2026, 9, 10, 12, tzinfo=dt.UTC), tick=False):
        for amount in ("600", "400"):
            deal = DealFactory(owner=rep, amount=Decimal(amount))
            deal_services.deal_mark_won(deal=deal, by=rep, schedule_follow_up=False)
        DealFactory(owner=rep, amount=Decimal("5000"))  # still open: not in the actual
    common = {
        "run_key": "hand", "period_key": "2026-09", "period_start": dt.date(2026, 9, 1), "period_end": dt.date(2026, 10, 1),
        "scope_kind": ScopeKind.COMPANY, "method": "dealflow", "level": "L3", "currency": "EUR", "closed_to_date_minor": 0,
        "expected_open_minor": 0, "expected_new_minor": 0, "weighted_minor": 0, "commit_minor": 0, "best_case_minor": 0,
        "pipeline_minor": 0, "p50_minor": 0, "open_deals": 1, "draws": 10, "seed": 1, "origin": "test",
    }  # fmt: skip
    at = dt.datetime(2026, 9, 1, 6, tzinfo=dt.UTC)
    ForecastSnapshot.objects.create(**common, as_of=at, as_of_on=at.date(), created_at=at, mean_minor=90_000,
                                    p10_minor=80_000, p90_minor=95_000, call_commit_minor=110_000)  # fmt: skip
    later = at + dt.timedelta(days=8)
    ForecastSnapshot.objects.create(**common, as_of=later, as_of_on=later.date(), created_at=later,
                                    mean_minor=125_000, p10_minor=90_000, p90_minor=130_000)  # fmt: skip
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
