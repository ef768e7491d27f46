"""Leads of a file, as operations."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from dealflow.core import clock
from dealflow.deals.models import (
    Lead,
    LeadStatus,
)
from dealflow.importers.fields import Entity
from dealflow.importers.parsing import (
    LINE,
    REJECTED,
)
from dealflow.importers.planning.contacts import ContactsPart
from dealflow.importers.planning.operations import (
    RecordOp,
)
from dealflow.importers.planning.words import (
    _differs,
    _lead_status,
)
from dealflow.importers.references import Ref


class LeadsPart(ContactsPart):
    """Leads, with conversion from the converted flag."""

    # leads

    def build_leads(self) -> None:
        rows = [row for _parsed, row in self.rows(Entity.LEADS)]
        if not rows:
            return
        org_by_id, org_by_name = self.load_organizations(rows)
        _persons_by_id, persons_by_email = self.load_persons(rows)
        existing = self.existing(Lead, [row["external_id"] for row in rows if row.get("external_id")])
        counts = self.plan.counts[Entity.LEADS]
        now = clock.now()
        for parsed, row in self.rows(Entity.LEADS):
            person_name = " ".join(part for part in (row.get("first_name"), row.get("last_name")) if part)
            title = (
                row.get("title") or row.get("organization") or person_name or row.get("email") or ""
            ).strip()
            if not title:
                self.error(parsed, row, "title", "", _("A lead needs a title, a company or a name."))
            status = LeadStatus.NEW.value
            if row.get("status"):
                status = _lead_status(row["status"]) or ""
                if not status:
                    self.error(
                        parsed,
                        row,
                        "status",
                        row["status"],
                        _("Unknown lead status; use new, working, qualified, disqualified or converted."),
                    )
            # Conversion is what the converted flag says; without that column, a converted deal's id says it.
            is_converted = (
                bool(row["is_converted"])
                if row.get("is_converted") is not None
                else bool(row.get("converted_deal_id"))
            )
            if is_converted:
                status = LeadStatus.CONVERTED.value
            elif status == LeadStatus.CONVERTED.value:
                self.warn(
                    parsed,
                    row,
                    "is_converted",
                    "false",
                    _("The status says converted but the converted flag says no; imported as qualified."),
                )
                status = LeadStatus.QUALIFIED.value
            created = row.get("created_at")
            if created is None:
                created = self.undated_created(parsed, row, [], None, now)
                if created is None:
                    counts.skip += 1
                    continue
            values: dict[str, Any] = {
                "title": title[:200],
                "status": status,
                "owner": self.owner(parsed, row),
                "source": self.names.source(row.get("source")) or self.names.default_source(),
                "created_at": created,
                "disqualified_reason": str(row.get("disqualified_reason", ""))[:300],
            }
            for key in ("has_budget", "has_authority", "has_need", "has_timeline"):
                if key in row:
                    values[key] = bool(row[key])
            if row.get("organization_id") or row.get("organization"):
                values["organization"] = self.organization_ref(parsed, row, org_by_id, org_by_name)
            if row.get("email") or person_name:
                values["person"] = self.person_from_row(parsed, row, values, {}, persons_by_email)
            if row.get(REJECTED):
                continue
            record = existing.get(row.get("external_id", ""))
            key = (
                f"lead:id:{row['external_id']}"
                if row.get("external_id")
                else f"lead:line:{parsed.name}:{row[LINE]}"
            )
            if record is not None:
                ref: Ref = record.pk
                compare = {name: value for name, value in values.items() if name != "created_at"}
                if _differs(record, compare):
                    self.plan.leads.append(RecordOp(parsed.name, row[LINE], key, compare, record))
                    counts.update += 1
                else:
                    counts.skip += 1
                self.lead_created[ref] = record.created_at
            else:
                ref = key
                values["external_id"] = row.get("external_id", "")
                self.plan.leads.append(RecordOp(parsed.name, row[LINE], key, values))
                self.lead_created[ref] = values["created_at"]
                counts.create += 1
            if row.get("external_id"):
                self.lead_by_id[row["external_id"]] = ref
            if row.get("converted_deal_id") and is_converted:
                self.lead_by_deal[row["converted_deal_id"]] = ref
