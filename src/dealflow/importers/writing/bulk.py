"""Many new leads and deals through the bulk writer (``dealflow.deals.bulk``), a chunk of the plan at a time."""

from __future__ import annotations

import datetime as dt
import sys
from array import array
from functools import partial

from django.utils.translation import gettext as _

from dealflow.core.errors import ApplicationError
from dealflow.deals import bulk
from dealflow.deals.models import (
    Deal,
    Lead,
    LeadStatus,
)
from dealflow.directory.services import search_index_bulk_loaded
from dealflow.importers.fields import Entity
from dealflow.importers.planning import (
    ActivityOp,
    DealCreate,
)
from dealflow.importers.references import Ref
from dealflow.importers.writing.base import BULK_CHUNK, DEFER_INDEXES_FROM, ORIGIN
from dealflow.importers.writing.deals import DealsPart


class BulkPart(DealsPart):
    def _bulk_steps(self, spec: DealCreate, by_id: int) -> list[bulk.Step]:
        steps: list[bulk.Step] = []
        for step in spec.steps:
            if step.kind == "move":
                steps.append(bulk.Move(at=step.at, stage_id=self.id(step.stage), by_id=by_id, origin=ORIGIN))
            elif step.kind == "won":
                steps.append(bulk.Won(at=step.at, by_id=by_id, origin=ORIGIN, schedule_follow_up=False))
            elif step.kind == "lost":
                steps.append(
                    bulk.Lost(at=step.at, reason_id=self.ref(step.reason), by_id=by_id, origin=ORIGIN)
                )
            elif step.kind == "reopen":
                steps.append(
                    bulk.Reopen(at=step.at, stage_id=self.ref(step.stage), by_id=by_id, origin=ORIGIN)
                )
            elif step.kind == "update":
                steps.append(
                    bulk.Update(at=step.at, changes=dict(step.changes or {}), by_id=by_id, origin=ORIGIN)
                )
        for activity in spec.activities:
            steps.append(bulk.LogActivity(self._bulk_activity(activity)))
        return steps

    def _bulk_activity(
        self, operation: ActivityOp, leads: dict[Ref, bulk.BulkLead] | None = None
    ) -> bulk.BulkActivity:
        values = operation.values
        owner = self.user(values["owner"])
        assert owner is not None
        lead_ref = values.get("lead")
        lead = (leads or {}).get(lead_ref) if isinstance(lead_ref, str) else None
        return bulk.BulkActivity(
            kind=values["kind"],
            subject=values["subject"],
            owner_id=owner.pk,
            at=values["at"],
            notes=values.get("notes", ""),
            due_at=values.get("due_at"),
            done_at=values.get("done_at"),
            person_id=self.ref(values.get("person")),
            lead=lead,
            lead_id=self.ref(lead_ref) if lead is None else None,
            origin=ORIGIN,
            external_source=self.source if values.get("external_id") else "",
            external_id=values.get("external_id", ""),
        )

    def bulk_leads_and_deals(self) -> None:
        converted = self.lead_conversion_times()
        new_leads: dict[str, bulk.BulkLead] = {}
        lead_specs: list[bulk.BulkLead] = []
        for operation in self.plan.leads:
            values = self.record_values(operation)
            if operation.existing is not None:
                if self.guarded(
                    operation.sheet,
                    operation.line,
                    partial(self._lead_update, operation.existing, values),
                ):
                    self.count(self.result.updated, Entity.LEADS.value)
                continue
            status = values["status"]
            closed_at = converted.get(operation.key)
            if closed_at is not None:
                status = LeadStatus.CONVERTED
            if status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED):
                closed_at = closed_at or values["created_at"]
            owner = values["owner"]
            new_lead = bulk.BulkLead(
                title=values["title"],
                source_id=values["source"],
                owner_id=owner.pk,
                created_at=values["created_at"],
                status=str(status),
                organization_id=values.get("organization"),
                person_id=values.get("person"),
                has_budget=values.get("has_budget", False),
                has_authority=values.get("has_authority", False),
                has_need=values.get("has_need", False),
                has_timeline=values.get("has_timeline", False),
                disqualified_reason=values.get("disqualified_reason", ""),
                qualified_at=values["created_at"] if status == LeadStatus.QUALIFIED else None,
                closed_at=closed_at if status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED) else None,
                external_source=self.source if values.get("external_id") else "",
                external_id=values.get("external_id", ""),
            )
            new_leads[operation.key] = new_lead
            lead_specs.append(new_lead)
        # Moving in: a big first import into a database without deals builds the secondary indexes once
        # at the end (the bulk writer's defer_indexes) instead of row by row; nobody reads those tables yet.
        # On PostgreSQL the foreign keys go aside too and come back with one validating join per key instead
        # of a trigger per row (most of the time of a 100,000-deal import); a bad reference still fails the
        # whole import, as the deferred checks did at the end.
        has_deals = Deal.objects.exists()
        defer = self.plan.deals_create_count >= DEFER_INDEXES_FROM and not has_deals
        # Into a database with deals, the writer works out the analytics rows (DealFact, StayFact, monthly
        # totals) of the deals it writes during the replay, so closing does not rebuild those tables from
        # every deal in the database. Into an empty one, the rebuild in SQL covers only the new deals and
        # was faster (docs/benchmarks.md, "Import").
        writer = bulk.BulkWriter(defer_indexes=defer, defer_foreign_keys=defer, derived_rows=has_deals)
        bulk_deal_ids: array[int] = array("q")
        with_product: list[tuple[int, Ref, dt.datetime]] = []  # (deal id, product, at)
        try:
            if lead_specs:
                self._bulk_write(writer, leads=lead_specs, deals=[], label=_("Leads"))
                for key, lead in new_leads.items():
                    assert lead.id is not None  # set by the writer
                    self.ids[key] = lead.id
                self.count(self.result.created, Entity.LEADS.value, len(lead_specs))
            # A chunk of the plan at a time (a streamed plan reads them back from disk), BULK_CHUNK deals a write.
            for specs in self.plan.deal_create_chunks():
                for start in range(0, len(specs), BULK_CHUNK):
                    chunk = self._bulk_deals(specs[start : start + BULK_CHUNK], new_leads)
                    writer.users_activated(self.to_deactivate)  # owners made active for the import
                    written = self._bulk_write(writer, leads=[], deals=chunk, label=_("Deals"))
                    for spec, bulk_deal in written:
                        assert bulk_deal.id is not None
                        if self.plan.stream is None:
                            self.ids[spec.key] = bulk_deal.id  # activities of other sheets may refer to it
                        bulk_deal_ids.append(bulk_deal.id)
                        if spec.product is not None:
                            with_product.append((bulk_deal.id, spec.product, spec.created_at))
                        self.count(self.result.created, Entity.DEALS.value)
                        if spec.activities:
                            self.count(self.result.created, Entity.ACTIVITIES.value, len(spec.activities))
                del specs
            self.phase(_("Indexes and analytics tables"))
            timings = self.result.timings
            timings.update({f"writes: {name}": value for name, value in writer.write_seconds.items()})
            # Deferred indexes, derived tables, statistics; then, with the load's settings still on, the
            # search entries (the bulk writer bypasses the services that keep the search index).
            writer.close(
                timings=timings,
                finishing=partial(
                    search_index_bulk_loaded,
                    deal_ids=list(bulk_deal_ids),
                    lead_ids=[lead.id for lead in new_leads.values() if lead.id is not None]
                    if lead_specs
                    else [],
                    indexes_after=defer,  # into an idle database: the entries' indexes once, like the deals'
                ),
            )
        except BaseException:
            writer.__exit__(*sys.exc_info())
            raise
        self.convert_existing_leads(converted)
        for deal_id, product, at in with_product:
            self.product_line(Deal.objects.get(pk=deal_id), product, at)

    def _bulk_deals(
        self, specs: list[DealCreate], new_leads: dict[str, bulk.BulkLead]
    ) -> list[tuple[DealCreate, bulk.BulkDeal]]:
        """The bulk writer's view of some planned deals (ids resolved, leads attached, steps built)."""
        existing_leads: dict[int, bulk.BulkLead] = {}
        wanted = {self.ref(spec.lead) for spec in specs if isinstance(spec.lead, int)}
        for lead_row in Lead.objects.filter(pk__in=[pk for pk in wanted if pk]):
            existing_leads[lead_row.pk] = bulk.BulkLead(
                title=lead_row.title,
                source_id=lead_row.source_id,
                owner_id=lead_row.owner_id,
                created_at=lead_row.created_at,
                id=lead_row.pk,
            )
        deals: list[tuple[DealCreate, bulk.BulkDeal]] = []
        by_id = self.by.pk  # once: a model's pk is a property that looks up its meta
        for spec in specs:
            owner = self.user(spec.owner)
            assert owner is not None
            lead: bulk.BulkLead | None = (
                new_leads.get(spec.lead)
                if isinstance(spec.lead, str)
                else existing_leads.get(spec.lead)
                if spec.lead
                else None
            )
            bulk_deal = bulk.BulkDeal(
                title=spec.title,
                owner_id=owner.pk,
                pipeline_id=self.id(spec.pipeline),
                stage_id=self.id(spec.stage),
                created_at=spec.created_at,
                amount_minor=spec.amount_minor,
                currency=spec.currency,
                expected_close_on=spec.expected_close_on,
                organization_id=self.ref(spec.organization),
                person_id=self.ref(spec.person),
                source_id=self.ref(spec.source),
                lead=lead,
                probability_override=spec.probability_override,
                forecast_category_override=spec.forecast_category_override,
                next_step=spec.next_step,
                by_id=by_id,
                origin=ORIGIN,
                external_source=self.source if spec.external_id else "",
                external_id=spec.external_id,
                steps=[],
            )
            deals.append((spec, bulk_deal))
        for spec, bulk_deal in deals:
            bulk_deal.steps = self._bulk_steps(spec, by_id)
        return deals

    def _bulk_write(self, writer: bulk.BulkWriter, *, leads, deals, label: str) -> list:
        """One bulk write (a savepoint); a refused chunk is retried deal by deal to name the row at fault."""
        try:
            writer.write(leads=leads, deals=[bulk_deal for _spec, bulk_deal in deals])
        except ApplicationError as error:
            if len(deals) <= 1:
                spec = deals[0][0] if deals else None
                self.reject(spec.sheet if spec else "", spec.line if spec else 0, error)
                return []
            written = []
            for item in deals:
                written.extend(self._bulk_write(writer, leads=[], deals=[item], label=label))
            return written
        self.tick(len(leads) + len(deals), label)
        return deals
