"""Deals through the deal services one at a time (few new deals, changes to existing ones), and activities."""

from __future__ import annotations

import datetime as dt
import itertools
from functools import partial
from typing import Any

from django.utils.translation import gettext as _

from dealflow.contacts.models import Organization, Person
from dealflow.core import clock
from dealflow.core.money import from_minor
from dealflow.deals.models import (
    Activity,
    Deal,
    Lead,
    LeadSource,
    LostReason,
    Stage,
)
from dealflow.deals.services import (
    activity_create,
    deal_create,
    deal_lines_set,
    deal_mark_lost,
    deal_mark_won,
    deal_move_to_stage,
    deal_reopen,
    deal_update,
)
from dealflow.deals.services.sourced import (
    activity_source_set,
    activity_update_from_source,
)
from dealflow.importers.fields import Entity
from dealflow.importers.planning import (
    ActivityOp,
    DealChange,
    DealCreate,
    DealStep,
)
from dealflow.importers.references import Ref
from dealflow.importers.writing.base import ORIGIN
from dealflow.importers.writing.leads import LeadsPart
from dealflow.products.models import Product


class DealsPart(LeadsPart):
    def deals(self) -> None:
        stages = {stage.pk: stage for stage in Stage.objects.all()}
        reasons = {reason.pk: reason for reason in LostReason.objects.all()}
        for spec in itertools.chain.from_iterable(self.plan.deal_create_chunks()):

            def create(spec: DealCreate = spec) -> None:
                owner = self.user(spec.owner)
                assert owner is not None
                stage = stages[self.id(spec.stage)]
                lead_id = self.ref(spec.lead)
                deal = deal_create(
                    title=spec.title,
                    owner=owner,
                    by=self.by,
                    pipeline=stage.pipeline,
                    stage=stage,
                    amount=from_minor(spec.amount_minor, spec.currency),
                    currency=spec.currency,
                    expected_close_on=spec.expected_close_on,
                    organization=Organization.objects.get(pk=self.id(spec.organization))
                    if spec.organization is not None
                    else None,
                    person=Person.objects.get(pk=self.id(spec.person)) if spec.person is not None else None,
                    source=LeadSource.objects.get(pk=self.id(spec.source))
                    if spec.source is not None
                    else None,
                    lead=Lead.objects.get(pk=lead_id) if lead_id else None,
                    probability_override=spec.probability_override,
                    forecast_category_override=spec.forecast_category_override,
                    next_step=spec.next_step,
                    at=spec.created_at,
                    origin=ORIGIN,
                    external_source=self.source if spec.external_id else "",
                    external_id=spec.external_id,
                )
                self.ids[spec.key] = deal.pk
                if spec.product is not None:
                    self.product_line(deal, spec.product, spec.created_at)
                for step in spec.steps:
                    self.apply_step(deal, step, stages, reasons)
                for activity in spec.activities:
                    self.activity_create(activity, deal)

            if self.guarded(spec.sheet, spec.line, create):
                self.count(self.result.created, Entity.DEALS.value)
                if spec.activities:
                    self.count(self.result.created, Entity.ACTIVITIES.value, len(spec.activities))
            self.tick(label=_("Deals"))

    def product_line(self, deal: Deal, product: Ref, at: dt.datetime) -> None:
        """The product column as the deal's one line item, priced at the deal's amount."""
        deal_lines_set(
            deal=deal,
            lines=[
                {
                    "product": Product.objects.get(pk=self.id(product)),
                    "quantity": 1,
                    "unit_price": str(from_minor(deal.amount_minor, deal.currency)),
                }
            ],
            by=self.by,
            at=at,
            origin=ORIGIN,
        )

    def apply_step(
        self, deal: Deal, step: DealStep, stages: dict[int, Stage], reasons: dict[int, LostReason]
    ) -> None:
        if step.kind == "move":
            deal_move_to_stage(
                deal=deal, stage=stages[self.id(step.stage)], by=self.by, at=step.at, origin=ORIGIN
            )
        elif step.kind == "won":
            deal_mark_won(deal=deal, by=self.by, at=step.at, origin=ORIGIN, schedule_follow_up=False)
        elif step.kind == "lost":
            deal_mark_lost(
                deal=deal, reason=reasons.get(self.id(step.reason)), by=self.by, at=step.at, origin=ORIGIN
            )
        elif step.kind == "reopen":
            stage_id = self.ref(step.stage)
            deal_reopen(
                deal=deal, by=self.by, stage=stages[stage_id] if stage_id else None, at=step.at, origin=ORIGIN
            )
        elif step.kind == "update":
            data: dict[str, Any] = {}
            changes = step.changes or {}
            if "amount_minor" in changes:
                data["amount"] = from_minor(changes["amount_minor"], changes.get("currency", deal.currency))
            if "currency" in changes:
                data["currency"] = changes["currency"]
            if "expected_close_on" in changes:
                data["expected_close_on"] = changes["expected_close_on"]
            deal_update(deal=deal, by=self.by, data=data, at=step.at, origin=ORIGIN)

    def deal_changes(self) -> None:
        if not self.plan.deals_change_count:
            return
        stages = {stage.pk: stage for stage in Stage.objects.all()}
        reasons = {reason.pk: reason for reason in LostReason.objects.all()}
        for change in itertools.chain.from_iterable(self.plan.deal_change_chunks()):

            def apply(change: DealChange = change) -> None:
                deal = Deal.objects.select_related("stage", "pipeline").get(pk=change.deal.pk)
                data: dict[str, Any] = {}
                product = change.data.get("product")
                for name, value in change.data.items():
                    if name == "product":
                        continue
                    if name == "amount_minor":
                        data["amount"] = from_minor(value, change.data.get("currency", deal.currency))
                    elif name == "owner":
                        data["owner"] = self.user(value)
                    elif name == "organization":
                        data["organization"] = Organization.objects.get(pk=self.id(value))
                    elif name == "person":
                        data["person"] = Person.objects.get(pk=self.id(value))
                    elif name == "source":
                        data["source"] = LeadSource.objects.get(pk=self.id(value))
                    else:
                        data[name] = value
                if data:
                    deal_update(deal=deal, by=self.by, data=data, origin=ORIGIN)
                if product is not None:
                    self.product_line(deal, product, clock.now())
                for step in change.steps:
                    self.apply_step(deal, step, stages, reasons)

            if self.guarded(change.sheet, change.line, apply):
                self.count(self.result.updated, Entity.DEALS.value)
            self.tick(label=_("Deals"))

    def activity_create(self, operation: ActivityOp, deal: Deal | None) -> Activity:
        values = operation.values
        lead_id = self.ref(values.get("lead"))
        person_id = self.ref(values.get("person"))
        activity = activity_create(
            owner=self.user_required(values["owner"]),
            subject=values["subject"],
            kind=values["kind"],
            by=self.by,
            deal=deal,
            lead=Lead.objects.get(pk=lead_id) if lead_id else None,
            person=Person.objects.get(pk=person_id) if person_id else None,
            notes=values.get("notes", ""),
            due_at=values.get("due_at"),
            done_at=values.get("done_at"),
            at=values["at"],
            origin=ORIGIN,
        )
        if values.get("external_id"):
            activity_source_set(
                activity=activity, external_source=self.source, external_id=values["external_id"]
            )
        return activity

    def activities(self) -> None:
        for operation in self.plan.activities:
            if operation.existing is not None:

                def update(operation: ActivityOp = operation) -> None:
                    assert operation.existing is not None
                    activity_update_from_source(
                        activity=operation.existing,
                        values={
                            name: self.user(value) if name == "owner" else value
                            for name, value in operation.values.items()
                        },
                    )

                if self.guarded(operation.sheet, operation.line, update):
                    self.count(self.result.updated, Entity.ACTIVITIES.value)
            else:
                deal_id = self.ref(operation.deal)
                deal = Deal.objects.get(pk=deal_id) if deal_id else None
                if self.guarded(
                    operation.sheet,
                    operation.line,
                    partial(self.activity_create, operation, deal),
                ):
                    self.count(self.result.created, Entity.ACTIVITIES.value)
            self.tick(label=_("Activities"))
