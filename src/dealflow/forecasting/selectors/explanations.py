"""Why each deal has its probability, in words: the Forecast page's per-deal explanations."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.utils.translation import gettext as _

from dealflow.core.formatting import format_number
from dealflow.forecasting import calculations as calc
from dealflow.forecasting.selectors.scopes import EXPLAINED_DEALS, _major


@dataclass
class DealExplanation:
    deal_id: int
    title: str
    owner: str
    stage: str
    age_days: int
    amount: float
    expected_close_on: dt.date | None
    category: str
    configured: float
    p_win: float
    p_period: float
    expected_value: float
    source: str
    reason: str


def deal_reason(
    *,
    fit_result: calc.Fit,
    stage: int,
    stage_name: str,
    age_days: float,
    level: str,
    overridden: float | None,
    p_period: float,
    in_period: bool,
    period_key: str,
    trend: float = 1.0,
) -> str:
    """Why a deal has its probability, in words. ``trend``: the recent-exit factor applied (Dealflow's
    method; ``calculations.stage_trend``), named when it moves the probability by 5 % or more."""
    bucket = int(calc.age_bucket(np.array([age_days]))[0])
    if overridden is not None and not np.isnan(overridden):
        text = _("The owner set the win probability to %(p)d %%.") % {"p": round(100 * overridden)}
    elif level == "L0":
        text = _(
            "Configured probability of %(stage)s (%(p)d %%): fewer than %(n)d deals closed in the last 24 months to learn from."
        ) % {"stage": stage_name, "p": round(100 * fit_result.configured[stage]), "n": calc.L1_MIN_CLOSED}
    elif level == "L1":
        text = _(
            "Deals that reached %(stage)s were won %(p)d %% of the time (%(n)d closed deals, last 24 months)."
        ) % {
            "stage": stage_name,
            "p": round(100 * fit_result.learned[stage]),
            "n": fit_result.stage_count[stage],
        }
    else:
        text = _(
            "Deals in %(stage)s for %(age)s days have been won %(p)d %% of the time (%(n)d deals, last 24 months)."
        ) % {
            "stage": stage_name,
            "age": calc.AGE_LABELS[bucket],
            "p": round(100 * fit_result.aged[stage][bucket]),
            "n": fit_result.aged_count[stage][bucket],
        }
    if abs(trend - 1) >= 0.05 and (overridden is None or np.isnan(overridden)):
        text += " " + _(
            "Times %(factor)s for the recent trend: in the last 6 weeks deals got through %(stage)s and the "
            "stages after it without being lost %(factor)s times as often as over 24 months."
        ) % {"factor": format_number(trend, 2), "stage": stage_name}
    if level == "L3":
        text += " " + _(
            "Won inside %(period)s: %(p)d %%, learned from past weekly pipelines (stage, age, close date %(flag)s the period)."
        ) % {"period": period_key, "p": round(100 * p_period), "flag": _("in") if in_period else _("outside")}
    elif in_period:
        text += " " + _("Counted in %(period)s because its close date falls in it.") % {"period": period_key}
    else:
        text += " " + _("Not counted in %(period)s: its close date falls outside it.") % {
            "period": period_key
        }
    return text


def _explain(rows, states, prediction, fit_result, stage_names, period, currency) -> list[DealExplanation]:
    expected = states.amount * prediction.p_period[:, 0]
    order = np.argsort(-expected, kind="stable")[:EXPLAINED_DEALS]
    in_period = states.close_on != calc.NO_DATE
    in_period &= states.close_on < period.end.toordinal()
    result = []
    for index in order.tolist():
        row = rows[index]
        stage = int(states.stage[index])
        result.append(
            DealExplanation(
                deal_id=row[0],
                title=row[9],
                owner=row[10],
                stage=stage_names[stage],
                age_days=int(states.age_days[index]),
                amount=_major(states.amount[index], currency) or 0.0,
                expected_close_on=dt.date.fromordinal(row[6]) if row[6] != calc.NO_DATE else None,
                category=calc.CATEGORIES[int(states.category[index])] if states.category[index] >= 0 else "",
                configured=float(fit_result.configured[stage]),
                p_win=float(prediction.p_win[index]),
                p_period=float(prediction.p_period[index, 0]),
                expected_value=_major(expected[index], currency) or 0.0,
                source=prediction.source[index],
                reason=deal_reason(
                    fit_result=fit_result,
                    stage=stage,
                    stage_name=stage_names[stage],
                    age_days=float(states.age_days[index]),
                    level=prediction.level,
                    overridden=float(states.probability_override[index]),
                    p_period=float(prediction.p_period[index, 0]),
                    in_period=bool(in_period[index]),
                    period_key=period.key,
                    trend=float(fit_result.stage_trend[stage])
                    if prediction.method == "dealflow" and fit_result.stage_trend
                    else 1.0,
                ),
            )
        )
    return result
