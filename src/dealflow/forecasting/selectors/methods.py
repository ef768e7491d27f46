"""The default forecast method per horizon, chosen by the latest backtest, and the reason the page shows."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from dealflow.core.formatting import format_number, format_percent
from dealflow.forecasting import calculations as calc
from dealflow.forecasting import calibration, live
from dealflow.forecasting.models import BacktestRun, BacktestStatus, Method


@dataclass
class MethodChoice:
    """The method the page uses this period and later, why, and the corrections the backtest measured."""

    method: str
    later_method: str
    reason: str
    calibration: dict | None  # ``calibration.current_corrections`` of the latest backtest
    coverage: float | None  # measured P10-P90 coverage of the default this period
    calibrated: bool


def _method_label(method: str) -> str:
    return str(Method(method).label) if method in Method.values else method


def method_choice() -> MethodChoice:
    """The default method per horizon and why: the lowest error on the latest backtest of this company's
    own data among every method, baselines (run-rate, last year, weighted pipeline) and the blend included."""
    run = BacktestRun.objects.filter(status=BacktestStatus.DONE).order_by("-finished_at", "-id").first()
    if run is None or not run.result.get("scored") or "by_horizon" not in run.result:
        return MethodChoice(
            Method.DEALFLOW,
            Method.DEALFLOW,
            _(
                "No backtest has been run yet, so Dealflow's own method is used: win rates within the period "
                "learned from weekly pipeline states, plus a run-rate for deals not yet created. Its range is "
                "uncalibrated and wide: what is still open, plus or minus half, wider where the simulation says so."
            ),
            None,
            None,
            False,
        )
    result = run.result
    first, later = live.choice_methods(result)
    entry = result["by_horizon"]["0"]
    score = entry["scores"][first]
    reason = _(
        "%(method)s had the lowest error on your own data this period: WAPE %(wape)s over %(count)s forecasts"
    ) % {
        "method": _method_label(first),
        "wape": format_percent(score["wape"], 1),
        "count": format_number(score["count"]),
    }
    baseline = entry.get("best_baseline")
    if baseline and baseline != first:
        baseline_wape = entry["scores"][baseline]["wape"]
        reason += _(", %(points)s points better than the best baseline (%(baseline)s, WAPE %(wape)s).") % {
            "points": format_number(100 * (baseline_wape - score["wape"]), 1),
            "baseline": _method_label(baseline),
            "wape": format_percent(baseline_wape, 1),
        }
    elif baseline:
        models = {
            method: value
            for method, value in entry["scores"].items()
            if method not in calibration.BASELINES and value["wape"] is not None
        }
        best_model = min(models, key=lambda method: models[method]["wape"]) if models else None
        if best_model:
            reason += _("; it is a baseline: the best model, %(model)s, lost to it by %(points)s points.") % {
                "model": _method_label(best_model),
                "points": format_number(100 * (models[best_model]["wape"] - score["wape"]), 1),
            }
        else:
            reason += "."
    coverage = score.get("coverage")
    if coverage is not None:
        reason += " " + _(
            "Ranges calibrated from its own backtest errors: P10-P90 held the actual in %(coverage)s of %(count)s forecasts."
        ) % {
            "coverage": format_percent(coverage),
            "count": format_number(score.get("calibrated", 0)),
        }
    else:
        reason += " " + _("Too little history to calibrate its range yet: it is uncalibrated and wider.")
    if later != first:
        reason += " " + _("Later periods: %(method)s, the lowest error next period.") % {
            "method": _method_label(later)
        }
    later_score = result["by_horizon"].get("1", {}).get("scores", {}).get(later, {})
    if later_score.get("coverage") is not None and later_score.get("wape") is not None:
        # Next period's forecasts are calibrated from their own backtest errors, and hold differently.
        reason += " " + _(
            "Next period: WAPE %(wape)s, bias %(bias)s; P10-P90 held the actual in %(coverage)s of "
            "%(count)s forecasts."
        ) % {
            "wape": format_percent(later_score["wape"], 1),
            "bias": format_percent(later_score["bias"], 1),
            "coverage": format_percent(later_score["coverage"]),
            "count": format_number(later_score.get("calibrated", 0)),
        }
    reason += " " + _("Backtest of %(start)s to %(end)s.") % {"start": run.period_from, "end": run.period_to}
    return MethodChoice(first, later, reason, result.get("calibration"), coverage, coverage is not None)


def method_default() -> tuple[str, str]:
    """The per-deal model behind this period's default and why (``method_choice``): the default itself
    when it is dealflow, learned or configured; Dealflow's when it is a baseline or the blend (neither has
    per-deal probabilities). Pipeline reviews use it for their deal rows."""
    choice = method_choice()
    model = choice.method if choice.method in calc.MODEL_METHODS else Method.DEALFLOW
    return model, choice.reason
