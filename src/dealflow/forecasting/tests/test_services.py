from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.deals import services as deal_services
from dealflow.deals.models import Deal, DealStatus
from dealflow.deals.tests.factories import DealFactory, stage_named
from dealflow.forecasting import services
from dealflow.forecasting.models import BacktestStatus, ForecastSnapshot, Quota, ScopeKind, SnapshotDeal
from dealflow.forecasting.selectors import TargetBook

pytestmark = pytest.mark.django_db

FIELDS = ["mean_minor", "p10_minor", "p50_minor", "p90_minor", "expected_open_minor", "weighted_minor",
          "closed_to_date_minor", "commit_minor", "open_deals"]  # fmt: skip


def test_snapshot_covers_company_teams_reps_and_every_open_deal(pipeline_history, rep, team):
    snapshots = services.snapshot_take(origin="test", draws=2000)
    kinds = {snapshot.scope_kind for snapshot in snapshots}
    assert kinds == {ScopeKind.COMPANY, ScopeKind.TEAM, ScopeKind.REP}
    assert len({snapshot.period_key for snapshot in snapshots}) == 4
    open_count = Deal.objects.filter(status=DealStatus.OPEN).count()
    assert SnapshotDeal.objects.filter(run_key=snapshots[0].run_key).count() == open_count
    company = next(s for s in snapshots if s.scope_kind == ScopeKind.COMPANY)
    assert company.open_deals == open_count
    assert company.p10_minor <= company.p50_minor <= company.p90_minor


def test_snapshots_cannot_be_changed(pipeline_history):
    snapshot = services.snapshot_take(origin="test", draws=500)[0]
    snapshot.mean_minor += 1
    with pytest.raises(ApplicationError):
        snapshot.save()
    with pytest.raises(ApplicationError):
        snapshot.delete()
    for model in (ForecastSnapshot, SnapshotDeal):
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.filter(run_key=snapshot.run_key).update(run_key="edited")
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.filter(run_key=snapshot.run_key).delete()
    assert ForecastSnapshot.objects.filter(
        run_key=snapshot.run_key, mean_minor=snapshot.mean_minor - 1
    ).exists()


def test_a_snapshot_as_of_t_ignores_everything_recorded_after_t(pipeline_history, rep):
    moment = timezone.now() - dt.timedelta(days=20)
    before = {
        (s.period_key, s.scope_kind, s.team_id, s.owner_id): s
        for s in services.snapshot_take(origin="test", at=moment, draws=2000)
    }
    # Later events: a move, a win, a close-date change and a brand-new deal.
    open_deals = list(Deal.objects.filter(status=DealStatus.OPEN).select_related("stage").order_by("id")[:3])
    deal_services.deal_mark_won(deal=open_deals[0], by=rep, schedule_follow_up=False)
    deal_services.deal_update(
        deal=open_deals[1],
        by=rep,
        data={"expected_close_on": dt.date(2030, 1, 1), "amount": Decimal("999999")},
    )
    DealFactory(owner=rep, amount=Decimal("50000"), stage=stage_named("Closing"))
    after = services.snapshot_take(origin="test", at=moment, draws=2000)
    for snapshot in after:
        old = before[(snapshot.period_key, snapshot.scope_kind, snapshot.team_id, snapshot.owner_id)]
        assert [getattr(snapshot, name) for name in FIELDS] == [getattr(old, name) for name in FIELDS]


def test_quotas_are_set_by_managers_and_imported_all_or_nothing(
    manager, rep, rep2, team, outsider, other_team
):
    quota = services.quota_set(by=manager, period="2026-12", amount="100000", team=team)
    assert quota.amount_minor == 10_000_000
    services.quota_set(by=manager, period="2026-12", amount="120000", team=team)  # replaces
    assert Quota.objects.get(team=team, period_key="2026-12").amount_minor == 12_000_000
    with pytest.raises(PermissionDeniedError):
        services.quota_set(by=rep, period="2026-12", amount="1", user=rep)
    with pytest.raises(PermissionDeniedError):
        services.quota_set(by=manager, period="2026-12", amount="1", team=other_team)
    text = "period,team,user,amount\n2027-01,Benelux,,90000\n2027-01,,rep,40000\n2027-01,,rep2,oops\n"
    with pytest.raises(ApplicationError, match="Line 4"):
        services.quota_import_csv(by=manager, text=text)
    assert not Quota.objects.filter(period_key="2027-01").exists()
    assert services.quota_import_csv(by=manager, text=text.replace("oops", "45000")) == 3


def test_calls_roll_up_and_a_manager_adjustment_needs_a_note(manager, rep, rep2, team):
    services.call_submit(by=rep, period="2026-12", commit="100", best_case="150")
    services.call_submit(by=rep, period="2026-12", commit="110", best_case="160")  # the newest counts
    services.call_submit(by=rep2, period="2026-12", commit="50", best_case="60")
    book = TargetBook(["2026-12"])
    assert book.team("2026-12", team.pk).call_commit == 16_000
    with pytest.raises(ApplicationError, match="note"):
        services.call_adjust(by=manager, team=team, period="2026-12", commit="140", best_case="200", note="")
    with pytest.raises(PermissionDeniedError):
        services.call_adjust(by=rep, team=team, period="2026-12", commit="140", best_case="200", note="x")
    with pytest.raises(ApplicationError, match="Best case"):
        services.call_submit(by=rep, period="2026-12", commit="100", best_case="50")
    services.call_adjust(
        by=manager, team=team, period="2026-12", commit="140", best_case="200", note="Acme slips"
    )
    assert TargetBook(["2026-12"]).team("2026-12", team.pk).call_commit == 14_000


def test_backtest_records_progress_and_a_table(pipeline_history):
    today = timezone.localdate()
    start = (today.replace(day=1) - dt.timedelta(days=70)).strftime("%Y-%m")
    end = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    run = services.backtest_create(by=None, period_from=start, period_to=end)
    steps = []
    run = services.backtest_execute(run=run, draws=300, progress=lambda done, total: steps.append(done))
    assert run.status == BacktestStatus.DONE
    assert run.steps_done == run.steps_total == len(steps) > 0
    methods = {"dealflow", "learned", "configured", "run_rate", "last_year", "blend"}
    assert set(run.result["overall"]) == methods
    overall = run.result["overall"]
    default = run.result["default_method"]
    assert overall[default]["wape"] == min(row["wape"] for row in overall.values())  # never a loser
    assert set(run.result["calibration"]["corrections"]["0"]) == methods
    # stored with the noise figures of each score (how much of a bias or coverage miss chance explains)
    later = run.result["by_horizon"]["1"]
    stored = later["scores"][later["default"]]
    assert {"periods", "bias_se", "bias_chance", "coverage_chance"} <= set(stored)
    assert stored["periods"] >= 1
    with pytest.raises(ApplicationError):
        services.backtest_create(by=None, period_from="2030-01", period_to="2030-03")


def test_demo_seed_gives_quotas_calls_and_six_scored_months(pipeline_history, admin_user):
    from dealflow.demo import forecasting as demo_forecasting
    from dealflow.forecasting import selectors
    from dealflow.forecasting.models import BacktestRun, ForecastCall

    today = timezone.localdate()
    demo_forecasting.seed(seed=1, today=today)
    assert Quota.objects.exists() and ForecastCall.objects.exists()
    table = selectors.forecast_accuracy_table_for_user(user=admin_user)
    assert len({row.period for row in table.rows}) >= 6
    assert BacktestRun.objects.get().status == BacktestStatus.DONE
    # The dashboard's accuracy tile (last full quarter by default) has data on the demo.
    from dealflow.metrics.selectors import MetricFilters, forecast_accuracy_for_user

    tile = forecast_accuracy_for_user(
        user=admin_user, filters=MetricFilters.from_mapping({}), lookup=selectors.forecast_accuracy_for_period
    )
    assert tile.available and tile.forecast > 0
