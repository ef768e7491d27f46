"""Reference data admins manage: pipelines, stages, lost reasons, exchange rates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction

from dealflow.accounts.models import User
from dealflow.accounts.services import audit_record
from dealflow.core.errors import ApplicationError
from dealflow.core.money import normalize_currency
from dealflow.deals.models import (
    ExchangeRate,
    ForecastCategory,
    LeadSource,
    LostReason,
    Pipeline,
    Stage,
    StageKind,
)
from dealflow.deals.services.listeners import rates_changed


def _audit(by: User | None, action: str, target: Any, detail: dict[str, Any] | None = None) -> None:
    """Settings changes go to the audit log (who changed which setting, and to what)."""
    label = f"{type(target).__name__.lower()}:{target.pk}" if hasattr(target, "pk") else str(target)
    audit_record(actor=by, action=action, target=label, detail=_json_safe(detail or {}))


def _json_safe(detail: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value if isinstance(value, (str, int, bool, type(None))) else str(value)
        for key, value in detail.items()
    }


def _name(value: Any, *, field: str = "name") -> str:
    text = str(value or "").strip()
    if not text:
        raise ApplicationError("A name is required.", field=field)
    return text[:120]


@transaction.atomic
def pipeline_create(*, name: str, with_default_stages: bool = True, by: User | None = None) -> Pipeline:
    """Create a pipeline; by default with open stages and the Won and Lost stages."""
    text = _name(name)
    if Pipeline.objects.filter(name__iexact=text).exists():
        raise ApplicationError("A pipeline with this name exists.", field="name")
    pipeline = Pipeline.objects.create(name=text, order=Pipeline.objects.count())
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
    _audit(by, "settings.pipeline_created", pipeline, {"name": pipeline.name})
    return pipeline


@transaction.atomic
def pipeline_deactivate(*, pipeline: Pipeline, by: User | None = None) -> Pipeline:
    """Retire a pipeline that holds no open deal; its deals and history stay."""
    if pipeline.deals.filter(status="open").exists():
        raise ApplicationError("Close or move the open deals of this pipeline first.", field="pipeline")
    if pipeline.is_default:
        raise ApplicationError("Make another pipeline the default first.", field="is_default")
    pipeline.is_active = False
    pipeline.save(update_fields=["is_active", "updated_at"])
    _audit(by, "settings.pipeline_retired", pipeline, {"name": pipeline.name})
    return pipeline


@transaction.atomic
def pipeline_update(*, pipeline: Pipeline, data: dict[str, Any], by: User | None = None) -> Pipeline:
    """Rename, reorder, activate or make a pipeline the default."""
    for name, value in data.items():
        if name == "name":
            value = _name(value)
        elif name == "order":
            value = _whole_number(value, field="order", minimum=0)
        elif name in {"is_active", "is_default"}:
            value = _flag(value, field=name)
        else:
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
        setattr(pipeline, name, value)
    if "is_active" in data and not pipeline.is_active:
        if pipeline.deals.filter(status="open").exists():
            raise ApplicationError("Close or move the open deals of this pipeline first.", field="is_active")
        if pipeline.is_default:
            raise ApplicationError("The default pipeline cannot be deactivated.", field="is_active")
    if data.get("is_default"):
        Pipeline.objects.exclude(pk=pipeline.pk).update(is_default=False)
    try:
        with transaction.atomic():
            pipeline.save()
    except IntegrityError as error:
        raise ApplicationError("A pipeline with this name exists.", field="name") from error
    _audit(by, "settings.pipeline_changed", pipeline, data)
    return pipeline


_MAX_SMALL_NUMBER = 2**31 - 1  # what a PositiveIntegerField holds on PostgreSQL


def _whole_number(value: Any, *, field: str, minimum: int | None = None) -> int:
    if isinstance(value, bool):
        raise ApplicationError(f"{field} must be a whole number.", field=field)
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise ApplicationError(f"{field} must be a whole number.", field=field) from error
    if minimum is not None and not minimum <= number <= _MAX_SMALL_NUMBER:
        raise ApplicationError(f"{field} must be from {minimum} to {_MAX_SMALL_NUMBER}.", field=field)
    return number


def _flag(value: Any, *, field: str) -> bool:
    if not isinstance(value, bool):
        raise ApplicationError(f"{field} must be true or false.", field=field)
    return value


_OPEN_FORECAST_CATEGORIES = {
    ForecastCategory.PIPELINE,
    ForecastCategory.BEST_CASE,
    ForecastCategory.COMMIT,
    ForecastCategory.OMITTED,
}


def _stage_values(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name == "name":
            values[name] = _name(value)
        elif name == "probability":
            probability = _whole_number(value, field="probability")
            if not 0 <= probability <= 100:
                raise ApplicationError("Probability must be from 0 to 100.", field="probability")
            values[name] = probability
        elif name == "rotting_days":
            values[name] = _whole_number(value, field="rotting_days", minimum=0)
        elif name == "forecast_category":
            # "closed" belongs to the Won and Lost stages; an open stage forecasts as one of the others.
            if value not in _OPEN_FORECAST_CATEGORIES:
                raise ApplicationError(
                    "Forecast category must be pipeline, best_case, commit or omitted.",
                    field="forecast_category",
                )
            values[name] = value
        elif name == "order":
            values[name] = _whole_number(value, field="order", minimum=0)
        elif name == "definition_of_done":
            values[name] = str(value or "")
        else:
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
    return values


@transaction.atomic
def stage_create(*, pipeline: Pipeline, name: str, by: User | None = None, **data: Any) -> Stage:
    """Add an open stage after the pipeline's last open stage."""
    values = _stage_values({"name": name, **data})
    if pipeline.stages.filter(name__iexact=values["name"], is_active=True).exists():
        raise ApplicationError("This pipeline has a stage with this name.", field="name")
    if "order" not in values:
        last = pipeline.stages.filter(kind=StageKind.OPEN).order_by("-order").first()
        values["order"] = (last.order + 1) if last else 0
    stage = Stage.objects.create(pipeline=pipeline, kind=StageKind.OPEN, **values)
    _keep_closed_stages_last(pipeline)
    _audit(by, "settings.stage_created", stage, {"pipeline": pipeline.name, **values})
    return stage


def _keep_closed_stages_last(pipeline: Pipeline) -> None:
    # Won and Lost sort after every open stage, so a stage appended at the end never lands between them.
    last_open = pipeline.stages.filter(kind=StageKind.OPEN).order_by("-order").first()
    floor = (last_open.order + 1) if last_open else 0
    for offset, stage in enumerate(pipeline.stages.exclude(kind=StageKind.OPEN).order_by("order", "id")):
        if stage.order < floor + offset:
            Stage.objects.filter(pk=stage.pk).update(order=floor + offset)


@transaction.atomic
def stage_update(*, stage: Stage, data: dict[str, Any], by: User | None = None) -> Stage:
    """Rename a stage or change its probability, rotting days, category or definition of done."""
    values = _stage_values(data)
    if stage.is_closed and set(values) - {"name", "definition_of_done"}:
        raise ApplicationError(
            "Only the name and definition of done of the Won and Lost stages can change.",
            field=sorted(set(values) - {"name", "definition_of_done"})[0],
        )
    for name, value in values.items():
        setattr(stage, name, value)
    stage.save()
    if "order" in values:
        _keep_closed_stages_last(stage.pipeline)
    _audit(by, "settings.stage_changed", stage, values)
    return stage


@transaction.atomic
def stage_reorder(*, pipeline: Pipeline, stage_ids: list[int], by: User | None = None) -> None:
    """Put the pipeline's open stages in the given order."""
    open_ids = set(pipeline.stages.filter(kind=StageKind.OPEN).values_list("id", flat=True))
    if set(stage_ids) != open_ids or len(stage_ids) != len(open_ids):
        raise ApplicationError("Give every open stage of the pipeline exactly once.", field="stage_ids")
    for order, stage_id in enumerate(stage_ids):
        Stage.objects.filter(pk=stage_id).update(order=order)
    _keep_closed_stages_last(pipeline)
    _audit(by, "settings.stages_reordered", pipeline, {"stage_ids": ",".join(map(str, stage_ids))})


@transaction.atomic
def stage_deactivate(*, stage: Stage, by: User | None = None) -> Stage:
    """Retire an open stage that holds no open deal; its history stays."""
    if stage.is_closed:
        raise ApplicationError("The Won and Lost stages cannot be removed.", field="stage")
    if stage.deals.filter(status="open").exists():
        raise ApplicationError("Move the open deals out of this stage first.", field="stage")
    stage.is_active = False
    stage.save(update_fields=["is_active", "updated_at"])
    _audit(by, "settings.stage_retired", stage, {"name": stage.name})
    return stage


@transaction.atomic
def lost_reason_create(*, name: str, by: User | None = None) -> LostReason:
    """Add a lost reason to the managed list."""
    text = _name(name)
    if LostReason.objects.filter(name__iexact=text).exists():
        raise ApplicationError("This lost reason exists.", field="name")
    reason = LostReason.objects.create(name=text, order=LostReason.objects.count())
    _audit(by, "settings.lost_reason_created", reason, {"name": text})
    return reason


@transaction.atomic
def lost_reason_update(*, reason: LostReason, data: dict[str, Any], by: User | None = None) -> LostReason:
    """Rename, reorder or retire a lost reason."""
    for name, value in data.items():
        if name == "name":
            value = _name(value)
        elif name == "order":
            value = _whole_number(value, field="order", minimum=0)
        elif name == "is_active":
            value = _flag(value, field=name)
        else:
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
        setattr(reason, name, value)
    if "name" in data and LostReason.objects.filter(name__iexact=reason.name).exclude(pk=reason.pk).exists():
        raise ApplicationError("This lost reason exists.", field="name")
    reason.save()
    _audit(by, "settings.lost_reason_changed", reason, data)
    return reason


@transaction.atomic
def exchange_rate_set(
    *, currency: str, rate: Decimal | str, valid_from: dt.date, by: User | None = None
) -> ExchangeRate:
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
    _audit(
        by,
        "settings.exchange_rate_set",
        exchange_rate,
        {"currency": code, "rate": value, "valid_from": valid_from},
    )
    rates_changed(currency=code, valid_from=valid_from)
    return exchange_rate


@transaction.atomic
def exchange_rate_delete(*, exchange_rate: ExchangeRate, by: User | None = None) -> None:
    """Remove a rate; deals closed while it applied keep the base-currency value stored at close."""
    detail = {
        "currency": exchange_rate.currency,
        "rate": exchange_rate.rate,
        "valid_from": exchange_rate.valid_from,
    }
    _audit(by, "settings.exchange_rate_deleted", exchange_rate, detail)
    exchange_rate.delete()
    rates_changed(currency=exchange_rate.currency, valid_from=exchange_rate.valid_from)


@transaction.atomic
def lead_source_create(*, key: str, name: str, by: User | None = None) -> LeadSource:
    """Add a lead source to the managed list (an import adds the sources its file names)."""
    text = _name(name)
    slug = str(key or "").strip()[:40]
    if not slug:
        raise ApplicationError("A lead source needs a key.", field="key")
    if LeadSource.objects.filter(key=slug).exists():
        raise ApplicationError("A lead source with this key exists.", field="key")
    source = LeadSource.objects.create(key=slug, name=text[:80], order=LeadSource.objects.count())
    _audit(by, "settings.lead_source_created", source, {"key": slug, "name": text})
    return source
