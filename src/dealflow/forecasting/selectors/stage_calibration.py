"""Calibration per stage: predicted against observed win rates of deals seen in snapshots."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass

import numpy as np
from django.db.models import Case, Count, F, Sum, Value, When

from dealflow.accounts.models import Membership, User
from dealflow.accounts.selectors import owner_visibility_q, user_access_scope
from dealflow.core import clock
from dealflow.deals.models import DealStatus, Stage
from dealflow.forecasting import calculations as calc
from dealflow.forecasting import engine
from dealflow.forecasting.models import CalibrationSample


# ---------------------------------------------------------------------------------------- calibration
@dataclass
class StageCalibration:
    stage: str
    count: int
    configured: float
    predicted: float
    observed: float
    brier_configured: float
    brier_model: float
    skill_model: float | None
    ece_model: float


def _visibility_key(user: User) -> str:
    """Who the user's deal data comes from, as a short key: "all", or a hash of the visible owner ids."""
    access = user_access_scope(user=user)
    if access.sees_everything:
        return "all"
    owners = {access.user_id} if access.user_id else set()
    owners |= set(
        Membership.objects.filter(team_id__in=access.readable_team_ids).values_list("user_id", flat=True)
    )
    return hashlib.sha1(",".join(map(str, sorted(owners))).encode(), usedforsecurity=False).hexdigest()[:20]


def forecast_calibration_for_user(*, user: User, since: dt.date | None = None) -> dict:
    """Per stage: predicted against observed win rates of deals seen in snapshots that have since closed.

    Each deal counts once per stage: the first snapshot that saw it there (CalibrationSample), when that
    snapshot is no older than ``since`` (default two years). Brier scores for the configured probability
    and for the model, the model's skill against the base rate and its calibration error.

    As of today's midnight (samples and closings before it), computed once a day per set of visible
    owners and kept like the day's fit: one grouped query over every sample, then two small ones a day.
    """
    today = clock.today()
    since = since or today - dt.timedelta(days=730)
    key = f"calibration:{engine.FIT_VERSION}:{since.isoformat()}:{_visibility_key(user)}"
    stored = engine.daily_result_get(key=key)
    if stored is None:
        stored = engine.daily_result_put(
            key=key, value=_calibration_compute(user=user, since=since, today=today)
        )
    return {
        "stages": [StageCalibration(**row) for row in stored["stages"]],
        "model": calc.Calibration(**stored["model"]) if stored["model"] else None,
        "configured": calc.Calibration(**stored["configured"]) if stored["configured"] else None,
        "since": since,
    }


def _calibration_compute(*, user: User, since: dt.date, today: dt.date) -> dict:
    samples = CalibrationSample.objects.filter(
        owner_visibility_q(user=user, owner_field="deal__owner_id"),
        as_of__gte=engine.midnight(since),
        as_of__lt=engine.midnight(today),
        deal__status__in=[DealStatus.WON, DealStatus.LOST],
        deal__closed_on__lt=today,
    )
    # Summed by stage, outcome and both bins; the rows need not be unique per bin to be summed again.
    rows = np.array(
        list(
            samples.annotate(
                won=Case(When(deal__status=DealStatus.WON, then=Value(1)), default=Value(0)),
                model_bin=engine.ProbabilityBin("p_win"),
                configured_bin=engine.ProbabilityBin("configured_probability"),
            )
            .values("stage_id", "won", "model_bin", "configured_bin")
            .annotate(
                count=Count("*"),
                sum_p=Sum("p_win"),
                sum_p2=Sum(F("p_win") * F("p_win")),
                sum_c=Sum("configured_probability"),
                sum_c2=Sum(F("configured_probability") * F("configured_probability")),
            )
            .values_list(
                "stage_id",
                "won",
                "model_bin",
                "configured_bin",
                "count",
                "sum_p",
                "sum_p2",
                "sum_c",
                "sum_c2",
            )
        ),
        dtype=np.float64,
    ).reshape(-1, 9)

    def model(mask=None, base_rate=None) -> calc.Calibration:
        part = rows if mask is None else rows[mask]
        return calc.calibration_from_groups(
            part[:, 2], part[:, 1], part[:, 4], part[:, 5], part[:, 6], base_rate=base_rate
        )

    def configured(mask=None, base_rate=None) -> calc.Calibration:
        part = rows if mask is None else rows[mask]
        return calc.calibration_from_groups(
            part[:, 3], part[:, 1], part[:, 4], part[:, 7], part[:, 8], base_rate=base_rate
        )

    if not len(rows):
        return {"stages": [], "model": None, "configured": None}
    overall_model, overall_configured = model(), configured()
    stage_ids = sorted({int(stage) for stage in rows[:, 0]})
    names = {
        stage_id: (order, name)
        for stage_id, order, name in Stage.objects.filter(pk__in=stage_ids).values_list("id", "order", "name")
    }
    stages = []
    for stage_id in sorted(stage_ids, key=lambda key: names.get(key, (0, ""))):
        in_stage = rows[:, 0] == stage_id
        stage_model = model(in_stage, overall_model.observed)
        stage_configured = configured(in_stage, overall_model.observed)
        stages.append(
            StageCalibration(
                stage=names.get(stage_id, (0, str(stage_id)))[1],
                count=stage_model.count,
                configured=stage_configured.predicted,
                predicted=stage_model.predicted,
                observed=stage_model.observed,
                brier_configured=stage_configured.brier,
                brier_model=stage_model.brier,
                skill_model=stage_model.skill,
                ece_model=stage_model.ece,
            )
        )
    return {
        "stages": [asdict(stage) for stage in stages],
        "model": asdict(overall_model),
        "configured": asdict(overall_configured),
    }
