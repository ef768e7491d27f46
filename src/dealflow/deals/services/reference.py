"""Reference data admins manage: pipelines, stages, lost reasons, exchange rates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction

from dealflow.core.errors import ApplicationError
from dealflow.core.money import normalize_currency
from dealflow.deals.models import ExchangeRate, ForecastCategory, LostReason, Pipeline, Stage, StageKind


def _name(value: Any, *, field: str = "name") -> str:
    text = str(value or "").strip()
    if not text:
        raise ApplicationError("A name is required.", field=field)
    return text[:120]


@transaction.atomic
def pipeline_create(*, name: str, with_default_stages: bool = True) -> Pipeline:
    """Create a pipeline; by default with open stages and the Won and Lost stages."""
    if Pipeline.objects.filter(name__iexact=str(name).strip()).exists():
        raise ApplicationError("A pipeline with this name exists.", field="name")
    pipeline = Pipeline.objects.create(name=_name(name), order=Pipeline.objects.count())
    if with_default_stages:
        for order, (stage_name, probability, category) in enumerate(
            [("Qualification", 10, "pipeline"), ("Proposal", 40, "best_case"), ("Negotiation", 70, "commit")]
        ):
            Stage.objects.create(
                pipeline=pipeline,
                name=stage_name,
                order=order,
                probability=probability,
                forecast_category=category,
            )
        Stage.objects.create(
            pipeline=pipeline,
            name="Won",
            order=100,
            kind=StageKind.WON,
            probability=100,
            forecast_category=ForecastCategory.CLOSED,
            rotting_days=0,
        )
        Stage.objects.create(
            pipeline=pipeline,
            name="Lost",
            order=101,
            kind=StageKind.LOST,
            probability=0,
            forecast_category=ForecastCategory.CLOSED,
            rotting_days=0,
        )
    return pipeline


@transaction.atomic
def pipeline_update(*, pipeline: Pipeline, data: dict[str, Any]) -> Pipeline:
    """Rename, reorder, activate or make a pipeline the default."""
    for name, value in data.items():
        if name == "name":
            value = _name(value)
        elif name not in {"order", "is_active", "is_default"}:
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
        setattr(pipeline, name, value)
    if data.get("is_default"):
        Pipeline.objects.exclude(pk=pipeline.pk).update(is_default=False)
    try:
        with transaction.atomic():
            pipeline.save()
    except IntegrityError as error:
        raise ApplicationError("A pipeline with this name exists.", field="name") from error
    return pipeline


def _stage_values(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name == "name":
            values[name] = _name(value)
        elif name == "probability":
            if value is None or not 0 <= int(value) <= 100:
                raise ApplicationError("Probability must be from 0 to 100.", field="probability")
            values[name] = int(value)
        elif name == "rotting_days":
            if value is None or int(value) < 0:
                raise ApplicationError("Rotting days cannot be negative.", field="rotting_days")
            values[name] = int(value)
        elif name == "forecast_category":
            if value not in ForecastCategory.values:
                raise ApplicationError("Unknown forecast category.", field="forecast_category")
            values[name] = value
        elif name in {"definition_of_done", "order"}:
            values[name] = value
        else:
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
    return values


@transaction.atomic
def stage_create(*, pipeline: Pipeline, name: str, **data: Any) -> Stage:
    """Add an open stage after the pipeline's last open stage."""
    values = _stage_values({"name": name, **data})
    if "order" not in values:
        last = pipeline.stages.filter(kind=StageKind.OPEN).order_by("-order").first()
        values["order"] = (last.order + 1) if last else 0
    return Stage.objects.create(pipeline=pipeline, kind=StageKind.OPEN, **values)


@transaction.atomic
def stage_update(*, stage: Stage, data: dict[str, Any]) -> Stage:
    """Rename a stage or change its probability, rotting days, category or definition of done."""
    for name, value in _stage_values(data).items():
        setattr(stage, name, value)
    stage.save()
    return stage


@transaction.atomic
def stage_reorder(*, pipeline: Pipeline, stage_ids: list[int]) -> None:
    """Put the pipeline's open stages in the given order."""
    open_ids = set(pipeline.stages.filter(kind=StageKind.OPEN).values_list("id", flat=True))
    if set(stage_ids) != open_ids or len(stage_ids) != len(open_ids):
        raise ApplicationError("Give every open stage of the pipeline exactly once.", field="stage_ids")
    for order, stage_id in enumerate(stage_ids):
        Stage.objects.filter(pk=stage_id).update(order=order)


@transaction.atomic
def stage_deactivate(*, stage: Stage) -> Stage:
    """Retire an open stage that holds no open deal; its history stays."""
    if stage.is_closed:
        raise ApplicationError("The Won and Lost stages cannot be removed.", field="stage")
    if stage.deals.filter(status="open").exists():
        raise ApplicationError("Move the open deals out of this stage first.", field="stage")
    stage.is_active = False
    stage.save(update_fields=["is_active", "updated_at"])
    return stage


@transaction.atomic
def lost_reason_create(*, name: str) -> LostReason:
    """Add a lost reason to the managed list."""
    text = _name(name)
    if LostReason.objects.filter(name__iexact=text).exists():
        raise ApplicationError("This lost reason exists.", field="name")
    return LostReason.objects.create(name=text, order=LostReason.objects.count())


@transaction.atomic
def lost_reason_update(*, reason: LostReason, data: dict[str, Any]) -> LostReason:
    """Rename, reorder or retire a lost reason."""
    for name, value in data.items():
        if name not in {"name", "is_active", "order"}:
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
        setattr(reason, name, _name(value) if name == "name" else value)
    reason.save()
    return reason


@transaction.atomic
def exchange_rate_set(*, currency: str, rate: Decimal | str, valid_from: dt.date) -> ExchangeRate:
    """Set the rate of a currency to the base currency from a day on (replaces that day's rate)."""
    code = normalize_currency(currency)
    try:
        value = Decimal(str(rate))
    except (InvalidOperation, ValueError) as error:
        raise ApplicationError("The rate must be a number.", field="rate") from error
    if not value.is_finite() or value <= 0 or value >= Decimal("1e9"):
        raise ApplicationError("The rate must be a positive number.", field="rate")
    exchange_rate, _ = ExchangeRate.objects.update_or_create(
        currency=code, valid_from=valid_from, defaults={"rate": value}
    )
    return exchange_rate
