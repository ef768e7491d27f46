"""Leads through the lead services, as the source system had them (statuses are facts there)."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from django.utils.translation import gettext as _

from dealflow.contacts.models import Organization, Person
from dealflow.deals.models import (
    Lead,
    LeadSource,
    LeadStatus,
)
from dealflow.deals.services import (
    lead_create,
)
from dealflow.deals.services.sourced import (
    lead_status_set_from_source,
    lead_update_from_source,
    leads_convert_from_source,
)
from dealflow.importers.fields import Entity
from dealflow.importers.references import Ref
from dealflow.importers.writing.contacts import ContactsPart


class LeadsPart(ContactsPart):
    def lead_conversion_times(self) -> dict[Ref, dt.datetime]:
        if self.plan.stream is not None:
            return self.plan.stream.conversions
        created = {spec.key: spec.created_at for spec in self.plan.deals_create}
        return {
            lead: created[deal_key] for lead, deal_key in self.plan.lead_conversions if deal_key in created
        }

    def leads(self) -> None:
        converted = self.lead_conversion_times()
        for operation in self.plan.leads:
            values = self.record_values(operation)
            if operation.existing is None:

                def create(operation=operation, values=values) -> None:
                    status = values["status"]
                    lead = self._lead_create(values)
                    closed_at = converted.get(operation.key)
                    if closed_at is not None:
                        status = LeadStatus.CONVERTED
                    self._lead_finish(lead, status, closed_at, values)
                    self.ids[operation.key] = lead.pk

                if self.guarded(operation.sheet, operation.line, create):
                    self.count(self.result.created, Entity.LEADS.value)
            else:
                if self.guarded(
                    operation.sheet,
                    operation.line,
                    partial(self._lead_update, operation.existing, values),
                ):
                    self.count(self.result.updated, Entity.LEADS.value)
            self.tick(label=_("Leads"))
        self.convert_existing_leads(converted)

    def _lead_create(self, values: dict[str, Any]) -> Lead:
        qualification = {
            name: values[name]
            for name in ("has_budget", "has_authority", "has_need", "has_timeline")
            if name in values
        }
        lead = lead_create(
            title=values["title"],
            source=LeadSource.objects.get(pk=values["source"]),
            owner=values["owner"],
            by=self.by,
            organization=Organization.objects.get(pk=values["organization"])
            if values.get("organization")
            else None,
            person=Person.objects.get(pk=values["person"]) if values.get("person") else None,
            at=values["created_at"],
            external_source=self.source if values.get("external_id") else "",
            external_id=values.get("external_id", ""),
            **qualification,
        )
        return lead

    def _lead_finish(
        self, lead: Lead, status: str, closed_at: dt.datetime | None, values: dict[str, Any]
    ) -> None:
        """Imports carry the source system's lead status as a fact; the lead services only move forward."""
        lead_status_set_from_source(
            lead=lead,
            status=status,
            closed_at=closed_at,
            disqualified_reason=values.get("disqualified_reason", ""),
        )

    def _lead_update(self, lead: Lead, values: dict[str, Any]) -> None:
        lead_update_from_source(lead=lead, values=values)

    def convert_existing_leads(self, converted: dict[Ref, dt.datetime]) -> None:
        leads_convert_from_source(
            converted={lead: closed_at for lead, closed_at in converted.items() if isinstance(lead, int)}
        )
