"""The API and the CLI give the numbers of the selectors (the worked example), with errors as the house
style says: 400 with the field in the API, a red line and exit status 2 in the CLI."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command

from dealflow.accounts.services import token_create
from dealflow.core.errors import ApplicationError

pytestmark = pytest.mark.django_db


def _get(client, user, path: str, **params):
    _, secret = token_create(user=user, name="metrics")
    return client.get(f"/api/v1/metrics/{path}", params, HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_the_api_summary_gives_the_worked_example(client, example, manager):
    response = _get(client, manager, "summary", period="2026-Q3")
    assert response.status_code == 200
    body = response.json()
    assert body["current"]["win_rate"]["rate"] == 0.75
    assert body["current"]["deal_size"]["mean"] == "6833.33"
    assert body["current"]["deal_size"]["median"] == "6000.00"
    assert body["current"]["velocity"]["per_day"] == "89.91"
    assert body["current"]["velocity"]["contributions"]["win_rate"] == "27.58"
    assert body["previous"]["period"] == "2026-Q2"
    assert body["changes"]["win_rate"] == 0.25
    assert body["forecast_accuracy"]["available"] is False
    assert body["forecast_accuracy"]["message"] == "No forecast snapshot exists for this period yet."


def test_the_api_filters_and_breakdowns(client, example, manager, rep):
    mine = _get(client, manager, "summary", period="2026-Q3", owner=rep.pk).json()
    assert (mine["current"]["win_rate"]["won"], mine["current"]["win_rate"]["lost"]) == (2, 1)
    rows = _get(client, manager, "breakdown", period="2026-Q3", by="owner", order="-velocity").json()
    assert [(row["won"], row["velocity"]) for row in rows] == [(1, "64.29"), (2, "0.00")]
    funnel = _get(client, manager, "funnel", period="2026-Q3").json()
    assert [step["count"] for step in funnel["steps"]] == [4, 2, 4, 3, 3, 2, 2, 2]
    proposal = funnel["steps"][4]["stage_id"]
    deals = _get(client, manager, "funnel/deals", period="2026-Q3", stage=proposal).json()
    assert sorted(deal["title"] for deal in deals) == sorted([example["A"].title, "C", example["B"].title])
    stages = {row["name"]: row for row in _get(client, manager, "stages", period="2026-Q3").json()}
    assert (stages["Proposal"]["median_days"], stages["Proposal"]["p80_days"]) == (15, 30)
    flow = _get(client, manager, "flow", period="2026-Q3").json()
    assert sum(link["count"] for link in flow["links"]) == 15
    attention = _get(client, manager, "attention", period="2026-Q3").json()
    assert (attention["stale"], attention["slipped"]) == (1, 1)
    trends = _get(client, manager, "trends", period="2026-Q3", months=3).json()
    assert [point["month"] for point in trends] == ["2026-07", "2026-08", "2026-09"]
    board = _get(client, manager, "dashboard", period="2026-Q3", by="team").json()
    assert board["summary"]["current"]["win_rate"]["won"] == 3
    assert [row["label"] for row in board["breakdown"]] == ["Benelux"]


def test_the_api_refuses_bad_filters_and_strangers(client, example, manager):
    bad = _get(client, manager, "summary", period="someday")
    assert bad.status_code == 400 and bad.json()["field"] == "period"
    assert _get(client, manager, "breakdown", by="planet").json()["field"] == "by"
    assert _get(client, manager, "summary", source="nowhere").json()["field"] == "source"
    assert client.get("/api/v1/metrics/summary").status_code == 401


def test_the_cli_prints_the_summary_as_a_table_json_and_csv(example, manager):
    out = io.StringIO()
    call_command("metrics", "--period", "2026-Q3", "--user", "manager", stdout=out)
    table = out.getvalue()
    assert "win_rate" in table and "0.75" in table and "89.91" in table and "2026-Q2" in table

    out = io.StringIO()
    call_command("metrics", "--period", "2026-Q3", "--user", "manager", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["summary"]["current"]["deal_size"]["median"] == "6000.00"

    out = io.StringIO()
    call_command(
        "metrics", "--period", "2026-Q3", "--by", "owner", "--format", "csv", "--user", "manager", stdout=out
    )
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][:6] == ["owner", "leads", "lead_conversion", "won", "lost", "win_rate"]
    assert [row[3] for row in rows[1:]] == ["2", "1"]


def test_the_cli_shows_the_funnel_and_the_stages(example, manager):
    out = io.StringIO()
    call_command("metrics", "--period", "2026-Q3", "--show", "funnel", "--user", "manager", stdout=out)
    assert "Needs analysis" in out.getvalue() and "34500.00" in out.getvalue()
    out = io.StringIO()
    call_command(
        "metrics",
        "--period",
        "2026-Q3",
        "--show",
        "stages",
        "--user",
        "manager",
        "--format",
        "csv",
        stdout=out,
    )
    rows = {row[0]: row for row in csv.reader(io.StringIO(out.getvalue()))}
    assert rows["Qualification"][1:4] == ["4", "5", ""]


def test_the_cli_names_the_field_at_fault(example, manager):
    with pytest.raises(ApplicationError) as error:
        call_command("metrics", "--period", "2026-Q7", "--user", "manager", stdout=io.StringIO())
    assert error.value.field == "period"


def test_the_cli_exits_2_with_one_red_line(example, manager, capsys):
    from dealflow.cli.management.commands.metrics import Command

    with pytest.raises(SystemExit) as exit_status:
        Command().run_from_argv(["dealflow", "metrics", "--period", "soon", "--user", "manager"])
    assert exit_status.value.code == 2
    assert "Unknown period" in capsys.readouterr().err
