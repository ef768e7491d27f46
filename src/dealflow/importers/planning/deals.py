"""Deals of a file (with their history rows), as operations."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from dealflow.core import clock
from dealflow.deals.models import (
    Deal,
    DealEvent,
    ExchangeRate,
    ForecastCategory,
    Lead,
)
from dealflow.importers.fields import Entity
from dealflow.importers.parsing import (
    LINE,
    REJECTED,
    ParsedSheet,
)
from dealflow.importers.planning.base import _chunks
from dealflow.importers.planning.history import HistoryPart
from dealflow.importers.planning.operations import (
    Counts,
    DealCreate,
)
from dealflow.importers.planning.words import (
    _day_start,
    _forecast_category,
)
from dealflow.importers.references import StageInfo, status_word


class DealsPart(HistoryPart):
    """Deals: values, outcome, creation date (undated rows), amounts."""

    # deals

    def build_deals(self) -> None:
        deal_rows = [row for _parsed, row in self.rows(Entity.DEALS)]
        history_rows = [(parsed, row) for parsed, row in self.rows(Entity.HISTORY)]
        if not deal_rows and not history_rows:
            return
        org_by_id, org_by_name = self.load_organizations(deal_rows)
        _persons_by_id, persons_by_email = self.load_persons(deal_rows)
        external_ids = [row["external_id"] for row in deal_rows if row.get("external_id")]
        history_ids = sorted({row["deal_id"] for _parsed, row in history_rows if row.get("deal_id")})
        existing = self.existing(Deal, external_ids + history_ids)
        lead_ids = sorted({row["lead_id"] for row in deal_rows if row.get("lead_id")} - set(self.lead_by_id))
        db_leads = self.existing(Lead, lead_ids)
        for external_id, lead in db_leads.items():
            self.lead_by_id[external_id] = lead.pk
            self.lead_created[lead.pk] = lead.created_at
        rates = set(ExchangeRate.objects.values_list("currency", flat=True)) | {
            str(settings.DEALFLOW["BASE_CURRENCY"])
        }
        last_event: dict[int, dt.datetime] = {}
        if existing:
            for chunk in _chunks([deal.pk for deal in existing.values()]):
                for deal_id, moment in (
                    DealEvent.objects.filter(deal_id__in=chunk)
                    .order_by()
                    .values_list("deal_id", "occurred_at")
                ):
                    if deal_id not in last_event or moment > last_event[deal_id]:
                        last_event[deal_id] = moment
        history: dict[str, list[tuple[ParsedSheet, dict[str, Any]]]] = defaultdict(list)
        deal_ids_in_file = {row.get("external_id") for row in deal_rows if row.get("external_id")}
        for parsed, row in history_rows:
            deal_id = row.get("deal_id")
            if not deal_id:
                self.error(parsed, row, "deal_id", "", _("A history row needs the deal's id."))
                continue
            if deal_id not in deal_ids_in_file and deal_id not in existing:
                self.error(
                    parsed, row, "deal_id", deal_id, _("No deal has this id, in this file or in Dealflow.")
                )
                continue
            if not row.get("occurred_at"):
                if not row.get("_waiting"):
                    self.error(
                        parsed, row, "occurred_at", "", _("A history row needs the date of the change.")
                    )
                continue
            history[deal_id].append((parsed, row))
        counts = self.plan.counts.setdefault(Entity.DEALS, Counts())
        history_counts = self.plan.counts.get(Entity.HISTORY)
        now = clock.now()
        seen = 0
        for parsed, row in self.rows(Entity.DEALS):
            seen += 1
            steps_rows = history.pop(row.get("external_id", ""), []) if row.get("external_id") else []
            record = existing.get(row.get("external_id", "")) if row.get("external_id") else None
            spec = self.deal_values(
                parsed, row, steps_rows, org_by_id, org_by_name, persons_by_email, rates, now, seen
            )
            if spec is None and row.get("_skipped") and not row.get(REJECTED):
                counts.skip += 1
                continue
            if spec is None or row.get(REJECTED) or row.get("_waiting"):
                for history_parsed, history_row in steps_rows:
                    if row.get(REJECTED):
                        self.problems.add(
                            history_parsed.name,
                            history_row,
                            "",
                            "",
                            _("The deal on line %(line)s is rejected.") % {"line": row[LINE]},
                        )
                continue
            if record is None:
                self.plan.deals_create.append(spec)
                self.deal_rows[spec.key] = spec
                counts.create += 1
                if history_counts is not None:
                    history_counts.create += len(steps_rows)
                if row.get("external_id"):
                    self.deal_by_id[row["external_id"]] = spec.key
                lead = spec.lead
                if lead is not None:
                    self.plan.lead_conversions.append((lead, spec.key))
            else:
                change = self.deal_change(parsed, row, record, spec, last_event.get(record.pk))
                if change is None:
                    counts.skip += 1
                    if history_counts is not None:
                        history_counts.skip += len(steps_rows)
                else:
                    self.plan.deals_change.append(change)
                    counts.update += 1
                    if history_counts is not None:
                        added = sum(1 for step in change.steps if step.kind != "update")
                        history_counts.update += added
                        history_counts.skip += max(0, len(steps_rows) - added)
                self.deal_by_id[row["external_id"]] = record.pk
        self.settle_new_stage_overrides()
        # History of deals that exist already and are not in this file's deals sheet.
        for history_id, steps_rows in history.items():
            record = existing.get(history_id)
            if record is None:
                continue
            change = self.history_only_change(record, steps_rows, last_event.get(record.pk))
            if change is not None:
                self.plan.deals_change.append(change)
                if history_counts is not None:
                    history_counts.update += len(change.steps)
                    history_counts.skip += len(steps_rows) - len(change.steps)
            elif history_counts is not None:
                history_counts.skip += len(steps_rows)
            self.deal_by_id[history_id] = record.pk
        for parsed in self.by_entity[Entity.DEALS]:
            if any(row.get("amount_currency") for row in parsed.rows):
                self.sheets_with_signs.add(parsed.name)
        self.deals_dated = self.deals_dated or any(row.get("created_at") for row in deal_rows)
        if self.plan.stream is None:
            self.deal_notices()

    def deal_notices(self) -> None:
        """What the preview says about the deals sheets as a whole (after the last chunk, when streamed)."""
        for parsed in self.by_entity[Entity.DEALS]:
            if "currency" not in parsed.columns.values() and parsed.name not in self.sheets_with_signs:
                self.plan.notices.append(
                    _("%(sheet)s has no currency column: its amounts are in %(currency)s (%(why)s).")
                    % {
                        "sheet": parsed.name,
                        "currency": self.currency_default,
                        "why": _("the currency you chose")
                        if self.plan.options.currency
                        else _("the base currency"),
                    }
                )
        if self.plan.deals_create_count and not self.deals_dated:
            self.plan.notices.append(
                _(
                    "The deals have no creation date; each counts as created at its first history date, its close date or today."
                )
            )

    def deal_values(
        self, parsed, row, steps_rows, org_by_id, org_by_name, persons_by_email, rates, now, seen
    ) -> DealCreate | None:
        """Everything deal_create and the later steps need for one deals row (None if it cannot be built)."""
        title = (row.get("title") or "").strip()
        if not title and row.get("_templated"):
            self.error(
                parsed,
                row,
                "title",
                "",
                _("The title template %(template)s gives an empty title for this row.")
                % {"template": repr(self.plan.options.title_template)},
            )
        elif not title:
            self.error(parsed, row, "title", "", _("A deal needs a title."))
        elif len(title) > 200:
            self.error(parsed, row, "title", title[:40] + "…", _("A title has at most 200 characters."))
        owner = self.owner(parsed, row)
        currency = (row.get("currency") or row.get("amount_currency") or self.currency_default).upper()
        if row.get("currency") and row.get("amount_currency") and row["currency"] != row["amount_currency"]:
            self.error(
                parsed,
                row,
                "amount",
                row.get("amount"),
                _("The amount is in %(sign)s but the currency column says %(code)s.")
                % {"sign": row["amount_currency"], "code": row["currency"]},
            )
        chosen = self.plan.options.currency.upper()
        if (
            chosen
            and not row.get("currency")
            and row.get("amount_currency")
            and row["amount_currency"] != chosen
        ):
            self.error(
                parsed,
                row,
                "amount",
                row.get("amount"),
                _("The amount is in %(sign)s but the import's currency is %(code)s.")
                % {"sign": row["amount_currency"], "code": chosen},
            )
        amount_minor = self.minor(parsed, row, "amount", row.get("amount"), currency)
        pipeline = self.stages.pipeline(row.get("pipeline"), sheet=parsed.name)
        if pipeline is None:
            if row.get("pipeline"):
                row["_waiting"] = True
            else:
                self.error(parsed, row, "pipeline", "", _("There is no active pipeline to import into."))
            return None
        outcome = self.deal_outcome(parsed, row)
        stage_info: StageInfo | None = None
        if row.get("stage"):
            stage_info = self.stages.stage(
                pipeline, row["stage"], sheet=parsed.name, probability=row.get("probability"), seen=seen
            )
            if stage_info is None:
                row["_waiting"] = True
                return None
            if outcome is None and stage_info.kind in ("won", "lost"):
                outcome = stage_info.kind
            elif outcome and stage_info.kind in ("won", "lost") and stage_info.kind != outcome:
                self.warn(
                    parsed,
                    row,
                    "stage",
                    row["stage"],
                    _("The stage says %(stage)s but the status says %(status)s; the status wins.")
                    % {"stage": stage_info.kind, "status": outcome},
                )
        outcome = outcome or "open"
        if outcome == "deleted":
            self.warn(parsed, row, "status", row.get("status"), _("Deleted in the source system; skipped."))
            return None
        history = self.history_steps(pipeline, steps_rows, currency)
        if history is None:
            row["_waiting"] = True
            return None
        created_at = row.get("created_at")
        close_at = (
            row.get("won_at") if outcome == "won" else row.get("lost_at") if outcome == "lost" else None
        )
        close_at = close_at or (row.get("closed_at") if outcome != "open" else None)
        if outcome != "open" and close_at is None and row.get("expected_close_on"):
            close_at = _day_start(
                row["expected_close_on"]
            )  # Salesforce and HubSpot: the close date of a closed deal
        close_from_file = close_at is not None
        if created_at is None:
            created_at = self.undated_created(parsed, row, [step[0] for step in history], close_at, now)
            if created_at is None:
                return None
        if history and history[0][0] < created_at:
            created_at = history[0][0]
        if outcome != "open" and close_at is None:
            close_at = history[-1][0] if history else None
            if close_at is None:
                self.error(parsed, row, "closed_at", "", _("A won or lost deal needs the date it closed."))
                return None
        if close_at is not None and close_at < created_at:
            # Flat exports (Salesforce sample orgs) date every record at the org's creation, after the real
            # close date: the close date is what won-by-month counts, so it wins and the deal starts that day.
            self.warn(
                parsed,
                row,
                "closed_at",
                timezone.localdate(close_at).isoformat(),
                _(
                    "Closes before it was created; the close date wins (won and lost figures count by it), so the deal counts as created on its close date."
                ),
            )
            created_at = close_at
        if outcome != "open" and currency not in rates:
            self.error(
                parsed,
                row,
                "currency",
                currency,
                _(
                    "There is no exchange rate for %(currency)s; add one under Settings > Exchange rates first."
                )
                % {"currency": currency},
            )
        lead = None
        lead_key = row.get("lead_id") or (
            self.lead_by_deal.get(row["external_id"]) if row.get("external_id") else None
        )
        if row.get("lead_id"):
            lead = self.lead_by_id.get(row["lead_id"])
            if lead is None:
                self.warn(
                    parsed,
                    row,
                    "lead_id",
                    row["lead_id"],
                    _("No lead has this id; the deal is imported without its lead."),
                )
        elif lead_key:
            lead = lead_key
        if lead is not None and self.lead_created.get(lead) and self.lead_created[lead] > created_at:
            self.warn(
                parsed,
                row,
                "lead_id",
                row.get("lead_id", ""),
                _("The lead was created after the deal; the lead's date is kept."),
            )
        organization = self.organization_ref(parsed, row, org_by_id, org_by_name)
        values = {"organization": organization}
        person = (
            self.person_from_row(parsed, row, values, {}, persons_by_email)
            if (row.get("person") or row.get("person_email"))
            else None
        )
        source = self.names.source(row.get("source"))
        if owner is None or row.get(REJECTED) or row.get("_waiting"):
            return None
        # The deal is created in the stage its history starts in; without history, in its current
        # stage if open, else in the pipeline's first open stage.
        first_open = self.stages.first_open(pipeline)
        if history:
            start_stage = (
                history[0][1]
                if history[0][1] is not None and history[0][1].kind == "open"
                else (stage_info if stage_info and stage_info.kind == "open" else first_open)
            )
        else:
            start_stage = stage_info if stage_info is not None and stage_info.kind == "open" else first_open
        if start_stage is None:
            self.error(
                parsed,
                row,
                "stage",
                row.get("stage", ""),
                _("The pipeline has no open stage to start the deal in."),
            )
            return None
        final_stage = stage_info if stage_info is not None and stage_info.kind == "open" else None
        probability = row.get("probability")
        probability_override = None
        category_override = ""
        if outcome == "open":
            reference = final_stage or start_stage
            if (
                probability is not None
                and reference.probability is not None
                and probability != reference.probability
            ):
                probability_override = probability
            category = _forecast_category(row.get("forecast_category"))
            if category and category != reference.forecast_category and category != ForecastCategory.CLOSED:
                category_override = category
        first_amount = history[0][2] if history and history[0][2] is not None else amount_minor
        first_close = history[0][3] if history and history[0][3] is not None else row.get("expected_close_on")
        key = (
            f"deal:id:{row['external_id']}"
            if row.get("external_id")
            else f"deal:line:{parsed.name}:{row[LINE]}"
        )
        steps = self.replay(history, start_stage, first_amount, first_close, created_at)
        if outcome != "open" and close_from_file and close_at is not None:
            self.close_on_file_date(parsed, row, steps, close_at)
        last_at = steps[-1].at if steps else created_at
        current = self.current_after(start_stage.ref, steps)
        final_amount = amount_minor if row.get("amount") is not None else None
        self.finish_steps(
            steps,
            current,
            last_at,
            first_amount,
            first_close,
            final_amount,
            row.get("expected_close_on"),
            final_stage,
            outcome,
            close_at,
            pipeline,
            row,
            parsed,
        )
        return DealCreate(
            sheet=parsed.name,
            line=row[LINE],
            key=key,
            title=title[:200],
            owner=owner,
            pipeline=pipeline,
            stage=start_stage.ref,
            created_at=created_at,
            amount_minor=first_amount or 0,
            currency=currency,
            expected_close_on=first_close,
            organization=organization,
            person=person,
            source=source,
            lead=lead,
            probability_override=probability_override,
            forecast_category_override=category_override,
            next_step=str(row.get("next_step", ""))[:200],
            external_id=row.get("external_id", ""),
            steps=steps,
            product=self.names.product(row.get("product")),
            probability_given=probability if outcome == "open" else None,
            category_given=_forecast_category(row.get("forecast_category")) if outcome == "open" else "",
            reference_stage=(final_stage or start_stage).ref if outcome == "open" else None,
        )

    def deal_outcome(self, parsed, row) -> str | None:
        status = row.get("status")
        if status:
            word = status_word(status)
            if word is None:
                self.error(parsed, row, "status", status, _("Unknown status; use open, won or lost."))
                return None
            return word
        if row.get("is_closed") is not None or row.get("is_won") is not None:
            if row.get("is_won"):
                return "won"
            if row.get("is_closed"):
                return "lost"
            return "open"
        if row.get("won_at"):
            return "won"
        if row.get("lost_at"):
            return "lost"
        return None
