"""Settings every pipeline reads: pipelines, stages, lost reasons, lead sources, exchange rates.

Everybody signed in reads them; only admins change them (``settings_check_admin``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Query, Router, Schema, Status

from dealflow.api.base import ApiRequest, paginate
from dealflow.api.schemas import Id, PageOut, PageQuery, SmallNumber, decimal_text
from dealflow.deals.models import ExchangeRate
from dealflow.deals.selectors import (
    exchange_rate_get,
    exchange_rate_list,
    lead_source_list,
    lost_reason_get,
    lost_reason_list,
    pipeline_get,
    pipeline_list,
    settings_check_admin,
    stage_get,
    stage_list,
)
from dealflow.deals.services import (
    exchange_rate_delete,
    exchange_rate_set,
    lost_reason_create,
    lost_reason_update,
    pipeline_create,
    pipeline_deactivate,
    pipeline_update,
    stage_create,
    stage_deactivate,
    stage_reorder,
    stage_update,
)

router = Router(tags=["Settings"])


class StageOut(Schema):
    id: int
    pipeline_id: Id
    name: str
    order: int
    kind: str
    probability: int
    rotting_days: int
    forecast_category: str
    definition_of_done: str
    is_active: bool


class PipelineOut(Schema):
    id: int
    name: str
    order: int
    is_default: bool
    is_active: bool
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(pipeline) -> list:
        return [stage for stage in pipeline.stages.all() if stage.is_active]


class PipelineIn(Schema):
    name: str
    with_default_stages: bool = True


class PipelineUpdateIn(Schema):
    name: str | None = None
    order: SmallNumber | None = None
    is_active: bool | None = None
    is_default: bool | None = None


class StageIn(Schema):
    pipeline_id: Id
    name: str
    probability: int = 10
    rotting_days: SmallNumber = 30
    forecast_category: str = "pipeline"
    definition_of_done: str = ""
    order: SmallNumber | None = None


class StageUpdateIn(Schema):
    name: str | None = None
    probability: int | None = None
    rotting_days: SmallNumber | None = None
    forecast_category: str | None = None
    definition_of_done: str | None = None
    order: SmallNumber | None = None


class StageOrderIn(Schema):
    stage_ids: list[Id]


class StageQuery(Schema):
    pipeline: Id | None = None
    include_inactive: bool = False


class LostReasonOut(Schema):
    id: int
    name: str
    order: int
    is_active: bool


class LostReasonIn(Schema):
    name: str


class LostReasonUpdateIn(Schema):
    name: str | None = None
    order: SmallNumber | None = None
    is_active: bool | None = None


class LeadSourceOut(Schema):
    key: str
    name: str


class ExchangeRateOut(Schema):
    id: int
    currency: str
    rate: str
    valid_from: dt.date

    @staticmethod
    def resolve_rate(exchange_rate: ExchangeRate) -> str | None:
        return decimal_text(exchange_rate.rate)


class ExchangeRateIn(Schema):
    currency: str
    rate: Decimal
    valid_from: dt.date


class ExchangeRateQuery(PageQuery):
    currency: str | None = None


@router.get("/pipelines", response=list[PipelineOut])
def list_pipelines(request: ApiRequest, include_inactive: bool = False):
    """Pipelines with their active stages, in board order."""
    return pipeline_list(include_inactive=include_inactive).prefetch_related("stages")


@router.post("/pipelines", response={201: PipelineOut})
def create_pipeline(request: ApiRequest, payload: PipelineIn):
    """Create a pipeline (admins), by default with three open stages plus Won and Lost."""
    settings_check_admin(user=request.user)
    return Status(
        201,
        pipeline_create(name=payload.name, with_default_stages=payload.with_default_stages, by=request.user),
    )


@router.get("/pipelines/{pipeline_id}", response=PipelineOut)
def get_pipeline(request: ApiRequest, pipeline_id: Id):
    return pipeline_get(pipeline_id=pipeline_id)


@router.patch("/pipelines/{pipeline_id}", response=PipelineOut)
def update_pipeline(request: ApiRequest, pipeline_id: Id, payload: PipelineUpdateIn):
    """Rename, reorder, (de)activate or make a pipeline the default (admins)."""
    settings_check_admin(user=request.user)
    pipeline = pipeline_get(pipeline_id=pipeline_id)
    return pipeline_update(pipeline=pipeline, data=payload.dict(exclude_unset=True), by=request.user)


@router.delete("/pipelines/{pipeline_id}", response=PipelineOut)
def delete_pipeline(request: ApiRequest, pipeline_id: Id):
    """Retire a pipeline without open deals (admins); its history stays."""
    settings_check_admin(user=request.user)
    return pipeline_deactivate(pipeline=pipeline_get(pipeline_id=pipeline_id), by=request.user)


@router.post("/pipelines/{pipeline_id}/stage-order", response=PipelineOut)
def reorder_stages(request: ApiRequest, pipeline_id: Id, payload: StageOrderIn):
    """Put the pipeline's open stages in the given order (admins)."""
    settings_check_admin(user=request.user)
    pipeline = pipeline_get(pipeline_id=pipeline_id)
    stage_reorder(pipeline=pipeline, stage_ids=payload.stage_ids, by=request.user)
    return pipeline


@router.get("/stages", response=list[StageOut])
def list_stages(request: ApiRequest, query: Query[StageQuery]):
    return stage_list(pipeline_id=query.pipeline, include_inactive=query.include_inactive)


@router.post("/stages", response={201: StageOut})
def create_stage(request: ApiRequest, payload: StageIn):
    """Add an open stage to a pipeline (admins); without `order` it goes after the last open stage."""
    settings_check_admin(user=request.user)
    pipeline = pipeline_get(pipeline_id=payload.pipeline_id, field="pipeline_id")
    data = payload.dict(exclude={"pipeline_id"}, exclude_none=True)
    return Status(201, stage_create(pipeline=pipeline, by=request.user, **data))


@router.get("/stages/{stage_id}", response=StageOut)
def get_stage(request: ApiRequest, stage_id: Id):
    return stage_get(stage_id=stage_id, field=None)


@router.patch("/stages/{stage_id}", response=StageOut)
def update_stage(request: ApiRequest, stage_id: Id, payload: StageUpdateIn):
    settings_check_admin(user=request.user)
    stage = stage_get(stage_id=stage_id, field=None)
    return stage_update(stage=stage, data=payload.dict(exclude_unset=True), by=request.user)


@router.delete("/stages/{stage_id}", response=StageOut)
def delete_stage(request: ApiRequest, stage_id: Id):
    """Retire an open stage that holds no open deal (admins); its history stays."""
    settings_check_admin(user=request.user)
    return stage_deactivate(stage=stage_get(stage_id=stage_id, field=None), by=request.user)


@router.get("/lost-reasons", response=list[LostReasonOut])
def list_lost_reasons(request: ApiRequest, include_inactive: bool = False):
    return lost_reason_list(include_inactive=include_inactive)


@router.post("/lost-reasons", response={201: LostReasonOut})
def create_lost_reason(request: ApiRequest, payload: LostReasonIn):
    settings_check_admin(user=request.user)
    return Status(201, lost_reason_create(name=payload.name, by=request.user))


@router.patch("/lost-reasons/{reason_id}", response=LostReasonOut)
def update_lost_reason(request: ApiRequest, reason_id: Id, payload: LostReasonUpdateIn):
    """Rename, reorder or retire (`is_active: false`) a lost reason (admins)."""
    settings_check_admin(user=request.user)
    reason = lost_reason_get(reason_id=reason_id, field=None)
    return lost_reason_update(reason=reason, data=payload.dict(exclude_unset=True), by=request.user)


@router.get("/lead-sources", response=list[LeadSourceOut])
def list_lead_sources(request: ApiRequest):
    return lead_source_list()


@router.get("/exchange-rates", response=PageOut[ExchangeRateOut])
def list_exchange_rates(request: ApiRequest, query: Query[ExchangeRateQuery]):
    """Rates to the base currency, newest first per currency."""
    return paginate(exchange_rate_list(currency=query.currency), limit=query.limit, offset=query.offset)


@router.post("/exchange-rates", response={201: ExchangeRateOut})
def set_exchange_rate(request: ApiRequest, payload: ExchangeRateIn):
    """Set a currency's rate from a day on (admins); replaces that day's rate if there is one."""
    settings_check_admin(user=request.user)
    return Status(
        201,
        exchange_rate_set(
            currency=payload.currency, rate=payload.rate, valid_from=payload.valid_from, by=request.user
        ),
    )


@router.delete("/exchange-rates/{rate_id}", response={204: None})
def delete_exchange_rate(request: ApiRequest, rate_id: Id):
    settings_check_admin(user=request.user)
    exchange_rate_delete(exchange_rate=exchange_rate_get(rate_id=rate_id), by=request.user)
    return Status(204, None)
