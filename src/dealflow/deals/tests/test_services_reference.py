"""Pipelines, stages, lost reasons and exchange rates (admin settings)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dealflow.core.errors import ApplicationError
from dealflow.deals import services
from dealflow.deals.models import ExchangeRate, Pipeline, Stage
from dealflow.deals.selectors import exchange_rate_on
from dealflow.deals.tests.factories import DealFactory, default_pipeline, stage_named


def stage_names(pipeline: Pipeline) -> list[str]:
    return list(pipeline.stages.filter(is_active=True).order_by("order", "id").values_list("name", flat=True))


@pytest.mark.django_db
def test_the_default_pipeline_comes_from_the_data_migration():
    pipeline = default_pipeline()
    assert pipeline.is_default
    assert stage_names(pipeline) == [
        "Qualification",
        "Needs analysis",
        "Proposal",
        "Negotiation",
        "Closing",
        "Won",
        "Lost",
    ]
    assert all(stage.definition_of_done for stage in pipeline.stages.all())


@pytest.mark.django_db
def test_a_new_stage_goes_after_the_last_open_stage_and_won_and_lost_stay_last():
    pipeline = default_pipeline()
    services.stage_create(pipeline=pipeline, name="Legal review", probability=90, forecast_category="commit")
    assert stage_names(pipeline)[-3:] == ["Legal review", "Won", "Lost"]
    with pytest.raises(ApplicationError) as error:
        services.stage_create(pipeline=pipeline, name="legal review")
    assert error.value.field == "name"


@pytest.mark.django_db
def test_reordering_names_every_open_stage_once():
    pipeline = services.pipeline_create(name="Renewals")
    first, second, third = pipeline.stages.filter(kind="open").order_by("order")
    with pytest.raises(ApplicationError):
        services.stage_reorder(pipeline=pipeline, stage_ids=[first.pk, second.pk])
    services.stage_reorder(pipeline=pipeline, stage_ids=[third.pk, first.pk, second.pk])
    assert stage_names(pipeline) == ["Negotiation", "Qualification", "Proposal", "Won", "Lost"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"probability": 101}, "probability"),
        ({"probability": "many"}, "probability"),
        ({"rotting_days": -1}, "rotting_days"),
        ({"forecast_category": "closed"}, "forecast_category"),
        ({"name": ""}, "name"),
        ({"kind": "won"}, "kind"),
    ],
)
def test_stage_settings_are_checked(data, field):
    with pytest.raises(ApplicationError) as error:
        services.stage_update(stage=stage_named("Proposal"), data=data)
    assert error.value.field == field


@pytest.mark.django_db
def test_won_and_lost_keep_their_probability():
    with pytest.raises(ApplicationError):
        services.stage_update(stage=stage_named("Won"), data={"probability": 50})
    services.stage_update(stage=stage_named("Won"), data={"name": "Signed"})
    assert Stage.objects.get(pipeline=default_pipeline(), kind="won").name == "Signed"


@pytest.mark.django_db
def test_a_stage_or_pipeline_with_open_deals_is_not_retired(rep):
    pipeline = services.pipeline_create(name="Renewals")
    deal = DealFactory(owner=rep, pipeline=pipeline)
    with pytest.raises(ApplicationError):
        services.stage_deactivate(stage=deal.stage)
    with pytest.raises(ApplicationError):
        services.pipeline_deactivate(pipeline=pipeline)
    with pytest.raises(ApplicationError):
        services.pipeline_update(pipeline=pipeline, data={"is_active": False})
    with pytest.raises(ApplicationError):
        services.stage_deactivate(stage=stage_named("Won", pipeline))
    with pytest.raises(ApplicationError):
        services.pipeline_deactivate(pipeline=default_pipeline())
    services.deal_mark_won(deal=deal, by=rep)
    services.pipeline_deactivate(pipeline=pipeline)
    assert not Pipeline.objects.get(pk=pipeline.pk).is_active


@pytest.mark.django_db
def test_one_default_pipeline():
    pipeline = services.pipeline_create(name="Renewals")
    services.pipeline_update(pipeline=pipeline, data={"is_default": True})
    assert list(Pipeline.objects.filter(is_default=True)) == [pipeline]
    with pytest.raises(ApplicationError) as error:
        services.pipeline_create(name="renewals")
    assert error.value.field == "name"


@pytest.mark.django_db
def test_lost_reasons_are_unique_by_name():
    with pytest.raises(ApplicationError):
        services.lost_reason_create(name="price")
    reason = services.lost_reason_create(name="Security review failed")
    with pytest.raises(ApplicationError):
        services.lost_reason_update(reason=reason, data={"name": "PRICE"})


@pytest.mark.django_db
def test_exchange_rates_apply_from_their_day_and_replace_that_days_rate():
    services.exchange_rate_set(currency="usd", rate="0.90", valid_from=dt.date(2026, 1, 1))
    services.exchange_rate_set(currency="USD", rate="0.80", valid_from=dt.date(2026, 7, 1))
    services.exchange_rate_set(currency="USD", rate="0.85", valid_from=dt.date(2026, 7, 1))
    assert ExchangeRate.objects.filter(currency="USD").count() == 2
    assert exchange_rate_on(currency="USD", day=dt.date(2026, 6, 30)) == Decimal("0.9")
    assert exchange_rate_on(currency="USD", day=dt.date(2026, 7, 1)) == Decimal("0.85")
    assert exchange_rate_on(currency="USD", day=dt.date(2025, 1, 1)) == Decimal("0.9")  # earliest known
    assert exchange_rate_on(currency="EUR", day=dt.date(2026, 1, 1)) == 1
    for rate in ("0", "-1", "abc", "NaN"):
        with pytest.raises(ApplicationError) as error:
            services.exchange_rate_set(currency="USD", rate=rate, valid_from=dt.date(2026, 1, 1))
        assert error.value.field == "rate"
