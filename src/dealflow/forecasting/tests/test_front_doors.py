"""The API, the page and the CLI share the selectors and services; these check parsing, access and rendering."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from dealflow.core.errors import ApplicationError
from dealflow.deals.tests.factories import DealFactory, stage_named
from dealflow.forecasting.models import BacktestRun, ForecastCall, ForecastSnapshot, Quota

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 16, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def deals(rep, outsider):
    with time_machine.travel(NOW - dt.timedelta(days=3), tick=False):
        DealFactory(
            owner=rep,
            title="Acme renewal",
            amount=Decimal("1000"),
            stage=stage_named("Proposal"),
            expected_close_on=dt.date(2026, 11, 28),
        )
        DealFactory(
            owner=outsider,
            title="Secret DACH deal",
            amount=Decimal("7777"),
            expected_close_on=dt.date(2026, 11, 20),
        )


@time_machine.travel(NOW, tick=False)
def test_api_forecast_per_persona(client, deals, manager, outsider, team):
    client.force_login(manager)
    body = client.get("/api/v1/forecast/").json()
    assert body["scope"] == f"team:{team.pk}"
    assert body["periods"][0]["weighted"] == 450.0
    assert [deal["title"] for deal in body["deals"]] == ["Acme renewal"]
    client.force_login(outsider)
    assert client.get(f"/api/v1/forecast/?scope=team&id={team.pk}").status_code == 404
    assert "Acme" not in client.get("/api/v1/forecast/").content.decode()
    assert client.get("/api/v1/forecast/?kind=week").status_code == 400


@time_machine.travel(NOW, tick=False)
def test_api_quotas_calls_snapshots_and_backtests(
    client, deals, manager, rep, team, django_capture_on_commit_callbacks
):
    client.force_login(rep)
    payload = {"period": "2026-12", "amount": "5000", "team_id": team.pk}
    assert client.put("/api/v1/forecast/quotas", payload, content_type="application/json").status_code == 403
    assert (
        client.post(
            "/api/v1/forecast/calls",
            {"period": "2026-12", "commit": "100", "best_case": "200"},
            content_type="application/json",
        ).status_code
        == 201
    )
    assert client.post("/api/v1/forecast/snapshots", {}, content_type="application/json").status_code == 403
    client.force_login(manager)
    response = client.put("/api/v1/forecast/quotas", payload, content_type="application/json")
    assert response.status_code == 200 and response.json()["amount_minor"] == 500_000
    adjust = {"period": "2026-12", "commit": "80", "best_case": "90", "team_id": team.pk}
    assert client.post("/api/v1/forecast/calls", adjust, content_type="application/json").status_code == 400
    assert len(client.get("/api/v1/forecast/calls").json()) == 1
    created = client.post("/api/v1/forecast/snapshots", {}, content_type="application/json")
    assert created.status_code == 201
    snapshot_id = client.get("/api/v1/forecast/snapshots").json()[0]["id"]
    detail = client.get(f"/api/v1/forecast/snapshots/{snapshot_id}").json()
    assert [row["stage"] for row in detail["deals"]] == ["Proposal"]
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            "/api/v1/forecast/backtests",
            {"period_from": "2026-08", "period_to": "2026-10"},
            content_type="application/json",
        )
    assert started.status_code == 202
    run = client.get(f"/api/v1/forecast/backtests/{started.json()['id']}").json()
    assert run["status"] == "done" and run["percent"] == 100
    with django_capture_on_commit_callbacks(execute=True):
        default = client.post("/api/v1/forecast/backtests", {}, content_type="application/json")
    assert default.status_code == 202
    assert (default.json()["period_from"], default.json()["period_to"]) == ("2025-11", "2026-10")
    assert client.get("/api/v1/forecast/accuracy").status_code == 200
    assert client.get("/api/v1/forecast/calibration").status_code == 200


@time_machine.travel(NOW, tick=False)
def test_forecast_page_per_persona(client, deals, manager, outsider, team):
    client.force_login(manager)
    page = client.get(reverse("web:forecast"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Acme renewal" in html and "Secret DACH deal" not in html
    assert 'data-plotly="forecast-fan"' in html
    figure = json.loads(html.split('id="forecast-fan" type="application/json">')[1].split("</script>")[0])
    assert figure["data"][0]["x"] == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert "<script>" not in html.split("<main")[1].split("</main>")[0].replace('type="application/json"', "")
    # Calibration, accuracy and the backtest load in a second request for the same scope.
    panels_url = reverse("web:forecast_panels") + f"?kind=month&scope=team&id={team.pk}"
    page = client.get(reverse("web:forecast") + f"?kind=month&scope=team&id={team.pk}").content.decode()
    assert f'hx-get="{panels_url.replace("&", "&amp;")}" hx-trigger="load"' in page
    panels = client.get(panels_url).content.decode()
    assert "Calibration: do the probabilities hold?" in panels and "Accuracy of past forecasts" in panels
    assert "Take a snapshot now" in panels and 'value="/forecast/?kind=month&amp;scope=team' in panels
    client.force_login(outsider)
    assert client.get(reverse("web:forecast") + f"?scope=team&id={team.pk}").status_code == 404
    assert client.get(panels_url).status_code == 404
    assert "Acme" not in client.get(reverse("web:forecast")).content.decode()
    client.logout()
    assert client.get(reverse("web:forecast")).status_code == 302
    assert client.get(panels_url).status_code == 302


@time_machine.travel(NOW, tick=False)
def test_page_forms_record_calls_quotas_snapshots_and_show_backtest_progress(client, deals, manager, team):
    client.force_login(manager)
    client.post(reverse("web:forecast_call"), {"period": "2026-11", "commit": "900", "best_case": "1200"})
    client.post(
        reverse("web:forecast_call"), {"period": "2026-11", "commit": "1", "best_case": "2", "team": team.pk}
    )
    assert ForecastCall.objects.count() == 1  # the adjustment without a note was refused
    client.post(reverse("web:forecast_quota"), {"period": "2026-11", "amount": "3000", "team": team.pk})
    assert Quota.objects.get(team=team).amount_minor == 300_000
    client.post(reverse("web:forecast_snapshot"), {"kind": "month"})
    assert ForecastSnapshot.objects.filter(origin="web").exists()
    html = client.get(reverse("web:forecast")).content.decode()
    assert "data-p-quota" in html
    run = BacktestRun.objects.create(
        period_from="2026-08", period_to="2026-10", status="running", steps_total=10, steps_done=4
    )
    partial = client.get(reverse("web:forecast_backtest_status", args=[run.pk])).content.decode()
    assert 'value="40"' in partial and "every 1s" in partial


@time_machine.travel(NOW, tick=False)
def test_cli_show_snapshot_backtest_and_quota_import(deals, admin_user, manager, team, tmp_path, capsys):
    call_command("forecast", "show", "--period", "2026-12", "--by", "team")
    output = capsys.readouterr().out
    assert output.startswith("2026-12  Company  EUR")
    assert "Benelux" in output and "DACH" in output
    call_command("forecast", "snapshot")
    assert ForecastSnapshot.objects.filter(origin="cli").count() > 0
    call_command("forecast", "backtest", "--from", "2026-08", "--to", "2026-10", "--draws", "200")
    assert "Default method:" in capsys.readouterr().out
    path = tmp_path / "quotas.csv"
    path.write_text("period,team,user,amount\n2026-12,Benelux,,9000\n", encoding="utf-8")
    call_command("forecast", "quotas", str(path))
    assert Quota.objects.get(team=team, period_key="2026-12").amount_minor == 900_000
    with pytest.raises(ApplicationError):
        call_command("forecast", "show", "--period", "2028-01")


@time_machine.travel(NOW, tick=False)
def test_cli_backtest_needs_no_arguments_and_prints_json(deals, capsys):
    call_command("forecast", "backtest", "--format", "json", "--draws", "200")
    result = json.loads(capsys.readouterr().out)
    assert (result["period_from"], result["period_to"]) == ("2025-11", "2026-10")  # the last 12 full months
    # Deals created three days ago: no past week to score, and the result says so.
    assert (result["scored"], result["default_method"], result["by_horizon"]) == (False, "dealflow", {})
    assert BacktestRun.objects.get().period_from == "2025-11"


def test_cli_forecast_has_help_for_every_option():
    from dealflow.cli.management.commands.forecast import Command

    parser = Command().create_parser("dealflow", "forecast")
    actions = next(action for action in parser._actions if action.dest == "action")
    for name, subparser in actions.choices.items():
        for action in subparser._actions:
            if action.dest != "help":
                assert action.help, f"forecast {name} {action.option_strings or action.dest} has no help"


@time_machine.travel(NOW, tick=False)
def test_nothing_of_another_teams_deals_reaches_an_outsider_or_a_rep_who_may_not_see_the_team(
    client, deals, rep, rep2, manager, outsider, team
):
    """Reasons quote company-wide learned rates (counts, percentages), never another team's deals."""
    from dealflow.forecasting import services

    DealFactory(
        owner=rep2,
        title="Rep2 Globex expansion",
        amount=Decimal("4321"),
        expected_close_on=dt.date(2026, 11, 25),
    )
    services.snapshot_take(origin="test", draws=200)
    services.call_submit(by=rep, period="2026-11", commit="900", best_case="1000", note="Acme signs Friday")
    services.quota_set(by=manager, period="2026-11", amount="5000", user=rep)
    secrets = (
        "Acme",
        "Rep2 Globex",
        "rep2",
        "Rita",
        "Benelux",
        "1,000",
        "4,321",
        "4321",
        "Acme signs Friday",
    )

    client.force_login(outsider)
    own = client.get("/api/v1/forecast/").json()
    assert [deal["title"] for deal in own["deals"]] == ["Secret DACH deal"]
    assert (
        own["periods"][0]["pipeline"] + own["periods"][0]["best_case"] + own["periods"][0]["commit"] == 7777
    )
    responses = [
        client.get("/api/v1/forecast/"),
        client.get("/api/v1/forecast/snapshots"),
        client.get("/api/v1/forecast/calls"),
        client.get("/api/v1/forecast/quotas"),
        client.get("/api/v1/forecast/accuracy"),
        client.get("/api/v1/forecast/calibration"),
        client.get(reverse("web:forecast")),
    ]
    for response in responses:
        assert response.status_code == 200
        text = response.content.decode()
        assert not [secret for secret in secrets if secret in text], response.request["PATH_INFO"]
    benelux = ForecastSnapshot.objects.filter(team=team).first()
    assert client.get(f"/api/v1/forecast/snapshots/{benelux.pk}").status_code == 404
    assert client.get(f"/api/v1/forecast/?scope=rep&id={rep.pk}").status_code == 404

    # A rep of a team that does not share deals sees their own deals only, and not the team's scope.
    assert not team.reps_see_team_deals
    client.force_login(rep)
    mine = client.get("/api/v1/forecast/").json()
    assert mine["scope"] == f"rep:{rep.pk}"
    assert [deal["title"] for deal in mine["deals"]] == ["Acme renewal"]
    assert client.get(f"/api/v1/forecast/?scope=team&id={team.pk}").status_code == 404
    assert client.get(f"/api/v1/forecast/?scope=rep&id={rep2.pk}").status_code == 404
    assert "Rep2 Globex" not in client.get(reverse("web:forecast")).content.decode()


@time_machine.travel(NOW, tick=False)
def test_page_lists_the_first_quotas_with_their_count(client, deals, manager, team, monkeypatch):
    from dealflow.web.views import forecast as view

    client.force_login(manager)
    for period, amount in (("2026-11", "3000"), ("2026-12", "4000"), ("2027-01", "5000")):
        client.post(reverse("web:forecast_quota"), {"period": period, "amount": amount, "team": team.pk})
    assert Quota.objects.count() == 3
    monkeypatch.setattr(view, "QUOTAS_SHOWN", 2)
    html = client.get(reverse("web:forecast")).content.decode()
    assert 'data-quota-count="3"' in html and "The first 2 of 3 quotas" in html
    monkeypatch.setattr(view, "QUOTAS_SHOWN", 3)
    assert "data-quota-count" not in client.get(reverse("web:forecast")).content.decode()


def test_a_forecast_kept_from_before_a_change_says_so_on_the_page_and_in_the_api(
    client, deals, manager, rep, monkeypatch
):
    from types import SimpleNamespace

    from django.utils import translation

    from dealflow.forecasting import tasks
    from dealflow.forecasting.selectors import forecast as module

    monkeypatch.setattr(module, "VIEW_STALE_MIN_OPEN", 1)  # one open deal counts as a large scope
    asked: list[dict] = []
    monkeypatch.setattr(
        tasks, "forecast_refresh", SimpleNamespace(enqueue=lambda **kwargs: asked.append(kwargs))
    )
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("web:forecast")).content.decode()
        assert "data-computed-at" in page and "data-changed-since" not in page
        assert client.get("/api/v1/forecast/").json()["changed_since"] is False
        DealFactory(owner=rep, amount=Decimal("50"), expected_close_on=dt.date(2026, 11, 29))
    with time_machine.travel(NOW + dt.timedelta(seconds=30), tick=False):
        page = client.get(reverse("web:forecast")).content.decode()
        assert "Computed at 13:00." in page  # NOW in Amsterdam: the kept forecast's own time
        assert "a new forecast is being computed" in page and "data-changed-since" in page
        body = client.get("/api/v1/forecast/").json()
        assert (body["changed_since"], body["open_deals"]) == (True, 1)
    assert len(asked) == 1  # the worker is asked once, whoever reads it meanwhile
    with translation.override("nl"):
        assert translation.gettext(
            "Deals or targets have changed since, or it is over ten minutes old: a new forecast is being "
            "computed. Reload in a minute to see it."
        ).startswith("Sindsdien zijn deals of doelen gewijzigd")
