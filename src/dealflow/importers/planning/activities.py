"""Activities of a file, as operations."""

from __future__ import annotations

from django.utils.translation import gettext as _

from dealflow.core import clock
from dealflow.deals.models import (
    Activity,
    ActivityKind,
    Deal,
    Lead,
)
from dealflow.importers.fields import Entity
from dealflow.importers.parsing import (
    LINE,
    REJECTED,
)
from dealflow.importers.planning.deals import DealsPart
from dealflow.importers.planning.operations import (
    ActivityOp,
)
from dealflow.importers.planning.words import (
    _activity_kind,
    _differs,
)
from dealflow.importers.references import Ref


class ActivitiesPart(DealsPart):
    """Activities, attached to deals of this file or of Dealflow."""

    # activities

    def build_activities(self) -> None:
        rows = [row for _parsed, row in self.rows(Entity.ACTIVITIES)]
        if not rows:
            return
        existing = self.existing(Activity, [row["external_id"] for row in rows if row.get("external_id")])
        deal_ids = sorted({row["deal_id"] for row in rows if row.get("deal_id")} - set(self.deal_by_id))
        for external_id, found in self.existing(Deal, deal_ids).items():
            self.deal_by_id[external_id] = found.pk
        lead_ids = sorted({row["lead_id"] for row in rows if row.get("lead_id")} - set(self.lead_by_id))
        for external_id, lead in self.existing(Lead, lead_ids).items():
            self.lead_by_id[external_id] = lead.pk
        _persons_by_id, persons_by_email = self.load_persons(rows)
        counts = self.plan.counts[Entity.ACTIVITIES]
        now = clock.now()
        for parsed, row in self.rows(Entity.ACTIVITIES):
            subject = (row.get("subject") or "").strip()
            if not subject:
                self.error(parsed, row, "subject", "", _("An activity needs a subject."))
            kind = _activity_kind(row.get("kind"))
            if kind is None:
                self.warn(
                    parsed, row, "kind", row.get("kind"), _("Unknown activity type; imported as a task.")
                )
                kind = ActivityKind.TASK.value
            done_at = row.get("done_at")
            if done_at is None and row.get("is_done"):
                done_at = row.get("due_at") or now
            deal: Ref | None = None
            if row.get("deal_id"):
                deal = self.deal_by_id.get(row["deal_id"])
                if deal is None:
                    self.error(
                        parsed,
                        row,
                        "deal_id",
                        row["deal_id"],
                        _("No deal has this id, in this file or in Dealflow."),
                    )
            lead = self.lead_by_id.get(row["lead_id"]) if row.get("lead_id") else None
            person = None
            if row.get("person_email"):
                person = self.person_by_email.get(row["person_email"]) or (
                    persons_by_email[row["person_email"]].pk
                    if row["person_email"] in persons_by_email
                    else None
                )
            values = {
                "subject": subject[:200],
                "kind": kind,
                "notes": str(row.get("notes", "")),
                "due_at": row.get("due_at"),
                "done_at": done_at,
                "owner": self.owner(parsed, row),
                "lead": lead,
                "person": person,
                "at": done_at or row.get("due_at") or now,
            }
            if row.get(REJECTED) or row.get("_waiting"):
                continue
            record = existing.get(row.get("external_id", ""))
            key = (
                f"activity:id:{row['external_id']}"
                if row.get("external_id")
                else f"activity:line:{parsed.name}:{row[LINE]}"
            )
            if record is not None:
                compare = {
                    name: values[name] for name in ("subject", "kind", "notes", "due_at", "done_at", "owner")
                }
                if _differs(record, compare):
                    self.plan.activities.append(
                        ActivityOp(parsed.name, row[LINE], key, compare, deal, record)
                    )
                    counts.update += 1
                else:
                    counts.skip += 1
                continue
            values["external_id"] = row.get("external_id", "")
            operation = ActivityOp(parsed.name, row[LINE], key, values, deal)
            if isinstance(deal, str) and deal in self.deal_rows:
                self.deal_rows[deal].activities.append(operation)
            else:
                self.plan.activities.append(operation)
            counts.create += 1
