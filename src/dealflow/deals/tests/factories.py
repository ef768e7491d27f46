"""Factories that go through the services, so every deal has its events and spells like a real one."""

from __future__ import annotations

from decimal import Decimal

import factory

from dealflow.accounts.tests.factories import UserFactory
from dealflow.contacts.tests.factories import OrganizationFactory
from dealflow.deals import services
from dealflow.deals.models import Deal, Lead, LeadSource, LostReason, Pipeline, Stage


def default_pipeline() -> Pipeline:
    return Pipeline.objects.get(name="Sales")


def stage_named(name: str, pipeline: Pipeline | None = None) -> Stage:
    return Stage.objects.get(pipeline=pipeline or default_pipeline(), name=name)


def lost_reason(name: str = "Price") -> LostReason:
    return LostReason.objects.get(name=name)


def lead_source(key: str = "website") -> LeadSource:
    return LeadSource.objects.get(key=key)


class DealFactory(factory.Factory):
    """``DealFactory(owner=rep, amount=Decimal("1000"))`` creates an open deal through ``deal_create``."""

    class Meta:
        model = Deal

    title = factory.Faker("catch_phrase")
    owner = factory.SubFactory(UserFactory)
    amount = Decimal("1000.00")
    currency = "EUR"
    organization = factory.SubFactory(OrganizationFactory)

    @classmethod
    def _create(cls, model_class, **kwargs):
        kwargs.setdefault("by", kwargs["owner"])
        return services.deal_create(**kwargs)

    _build = _create


class LeadFactory(factory.Factory):
    class Meta:
        model = Lead

    title = factory.Faker("bs")
    owner = factory.SubFactory(UserFactory)
    source = factory.LazyFunction(lead_source)

    @classmethod
    def _create(cls, model_class, **kwargs):
        return services.lead_create(**kwargs)

    _build = _create
