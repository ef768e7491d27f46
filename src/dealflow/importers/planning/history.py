"""A deal's history: replaying history rows as steps, close dates, and what a re-import changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from dealflow.core import clock
from dealflow.deals.models import (
    Deal,
    DealStatus,
)
from dealflow.importers.parsing import (
    LINE,
    REJECTED,
)
from dealflow.importers.planning.leads import LeadsPart
from dealflow.importers.planning.operations import (
    DealChange,
    DealCreate,
    DealStep,
    stage_overrides_settle,
)
from dealflow.importers.planning.words import (
    _final_amount,
    _final_close,
)
from dealflow.importers.references import Ref, StageInfo, status_word
from dealflow.products.models import DealLine


class HistoryPart(LeadsPart):
    """History rows as steps, the close-date rule, and changes to deals that exist."""

    def settle_new_stage_overrides(self) -> None:
        """Deals in stages this import creates keep their own probability and forecast category (once the
        new stages' probabilities are known; a streamed plan settles each chunk as the writer reads it)."""
        if self.plan.stream is None:
            stage_overrides_settle(self.plan.deals_create, self.stages)

    def close_on_file_date(self, parsed, row, steps: list[DealStep], close_at: dt.datetime) -> None:
        """The close date in the deals row wins over a history that closes the deal on another day.

        History rows dated after the close day are moved to the close date (a flat history dates them all at
        the export's creation instant); a closing step on an earlier day moves to the close date.
        """
        closing = next((step for step in reversed(steps) if step.kind in ("won", "lost")), None)
        if (closing is None or closing.at == close_at) and all(step.at <= close_at for step in steps):
            return  # the usual case, and the fast one: history and close date agree
        close_day = timezone.localdate(close_at)
        if closing is not None and timezone.localdate(closing.at) != close_day:
            self.warn(
                parsed,
                row,
                "closed_at",
                close_day.isoformat(),
                _(
                    "The history closes this deal on %(history)s, the close date says %(close)s; the close date wins (it is the date the source system reports the deal by)."
                )
                % {"history": timezone.localdate(closing.at).isoformat(), "close": close_day.isoformat()},
            )
        for step in steps:
            if step.at > close_at and timezone.localdate(step.at) > close_day:
                step.at = close_at
        if closing is not None and closing is steps[-1] and closing.at < close_at:
            closing.at = close_at

    def history_steps(
        self, pipeline: Ref, steps_rows, currency: str
    ) -> list[tuple[dt.datetime, StageInfo | None, int | None, dt.date | None, str | None]] | None:
        """The deal's history rows in time order as (at, stage, amount_minor, expected close, outcome)."""
        result = []
        for parsed, row in sorted(steps_rows, key=lambda item: (item[1]["occurred_at"], item[1][LINE])):
            if row.get(REJECTED):
                continue
            stage = None
            if row.get("stage"):
                stage = self.stages.stage(
                    pipeline,
                    row["stage"],
                    sheet=parsed.name,
                    probability=row.get("probability"),
                    seen=row[LINE],
                )
                if stage is None:
                    return None
            outcome = status_word(row["status"]) if row.get("status") else None
            if outcome in ("won", "lost") and (stage is None or stage.kind != outcome):
                stage = self.stages.closing(pipeline, outcome)
            amount = (
                self.minor(parsed, row, "amount", row.get("amount"), currency)
                if row.get("amount") is not None
                else None
            )
            result.append((row["occurred_at"], stage, amount, row.get("expected_close_on"), outcome))
        return result

    def replay(
        self,
        history,
        start_stage: StageInfo,
        amount: int | None,
        close: dt.date | None,
        created_at: dt.datetime,
    ) -> list[DealStep]:
        """Steps that turn the history rows into moves, updates, wins, losses and reopenings."""
        steps: list[DealStep] = []
        current = start_stage
        current_amount, current_close = amount, close
        is_closed = False
        for index, (at, stage, step_amount, step_close, _outcome) in enumerate(history):
            at = max(at, created_at)
            changes: dict[str, Any] = {}
            if index and step_amount is not None and step_amount != current_amount and not is_closed:
                changes["amount_minor"] = step_amount
                current_amount = step_amount
            if index and step_close is not None and step_close != current_close and not is_closed:
                changes["expected_close_on"] = step_close
                current_close = step_close
            if changes:
                steps.append(DealStep("update", at, changes=changes))
            if stage is None or stage.ref == current.ref:
                continue
            if stage.kind == "open":
                if is_closed:
                    steps.append(DealStep("reopen", at, stage=stage.ref))
                    is_closed = False
                else:
                    steps.append(DealStep("move", at, stage=stage.ref))
            elif not is_closed:
                if stage.kind == "won":
                    steps.append(DealStep("won", at))
                else:
                    steps.append(DealStep("lost", at, reason=None))
                is_closed = True
            current = stage
        return steps

    @staticmethod
    def current_after(start: Ref, steps: list[DealStep]) -> dict[str, Any]:
        status: str = "open"
        stage: Ref | None = start
        for step in steps:
            if step.kind in ("move", "reopen"):
                status, stage = "open", step.stage
            elif step.kind in ("won", "lost"):
                status = step.kind
        return {"status": status, "stage": stage}

    def finish_steps(
        self,
        steps,
        current,
        last_at,
        amount,
        close,
        final_amount,
        final_close,
        final_stage,
        outcome,
        close_at,
        pipeline,
        row,
        parsed,
    ) -> None:
        """Bring the replayed deal to the state its deals row describes (amount, close date, stage, outcome)."""
        current_amount = amount
        for step in steps:
            if step.kind == "update" and step.changes and "amount_minor" in step.changes:
                current_amount = step.changes["amount_minor"]
        current_close = close
        for step in steps:
            if step.kind == "update" and step.changes and "expected_close_on" in step.changes:
                current_close = step.changes["expected_close_on"]
        # A loss recorded in the history gets the deals row's reason.
        for step in steps:
            if step.kind == "lost":
                step.reason = self.names.lost_reason(row.get("lost_reason"))
        moment = (
            max(last_at, close_at)
            if (outcome != "open" and close_at and current["status"] == "open")
            else last_at
        )
        if current["status"] != "open" and current["status"] != outcome:
            steps.append(DealStep("reopen", last_at, stage=final_stage.ref if final_stage else None))
            current["status"] = "open"
        changes: dict[str, Any] = {}
        if final_amount is not None and final_amount != current_amount and current["status"] == "open":
            changes["amount_minor"] = final_amount
        if final_close is not None and final_close != current_close and current["status"] == "open":
            changes["expected_close_on"] = final_close
        if changes:
            steps.append(DealStep("update", last_at, changes=changes))
        if current["status"] == "open":
            if final_stage is not None and final_stage.ref != current["stage"]:
                steps.append(DealStep("move", last_at, stage=final_stage.ref))
            if outcome == "won":
                steps.append(DealStep("won", moment))
            elif outcome == "lost":
                reason = self.names.lost_reason(row.get("lost_reason"))
                if not row.get("lost_reason"):
                    pass  # "Other": the preview lists lost deals without a reason as a notice
                steps.append(DealStep("lost", moment, reason=reason))

    def deal_change(
        self, parsed, row, record: Deal, spec: DealCreate, last_event: dt.datetime | None
    ) -> DealChange | None:
        """What re-importing a deal that exists already changes: its fields, then new history, then outcome.

        History dated on or before the deal's last recorded event is there already and is skipped;
        a change of outcome the file shows without a date is recorded now.
        """
        data: dict[str, Any] = {}
        if record.title != spec.title:
            data["title"] = spec.title
        final_amount = _final_amount(spec)
        if final_amount != record.amount_minor or spec.currency != record.currency:
            data["amount_minor"] = final_amount
            data["currency"] = spec.currency
        final_close = _final_close(spec)
        if final_close is not None and final_close != record.expected_close_on:
            data["expected_close_on"] = final_close
        for name, ref in (
            ("owner", spec.owner),
            ("organization", spec.organization),
            ("person", spec.person),
            ("source", spec.source),
        ):
            if ref is not None and (isinstance(ref, str) or ref != getattr(record, f"{name}_id")):
                data[name] = ref
        if row.get("next_step") is not None and spec.next_step != record.next_step:
            data["next_step"] = spec.next_step
        target = self.current_after(spec.stage, spec.steps)
        if record.status == DealStatus.OPEN and target["status"] == "open":
            if spec.probability_override != record.probability_override:
                data["probability_override"] = spec.probability_override
            if spec.forecast_category_override != record.forecast_category_override:
                data["forecast_category_override"] = spec.forecast_category_override
        closing = next((step for step in reversed(spec.steps) if step.kind in ("won", "lost")), None)
        now = clock.now()
        steps: list[DealStep] = []
        if record.status == DealStatus.OPEN:
            current: Ref | None = record.stage_id
            for step in spec.steps:
                if (
                    step.kind == "move"
                    and (last_event is None or step.at > last_event)
                    and step.stage != current
                ):
                    steps.append(DealStep("move", step.at, stage=step.stage))
                    current = step.stage
            if target["status"] == "open":
                if target["stage"] != current:
                    steps.append(DealStep("move", now, stage=target["stage"]))
            elif closing is not None:
                at = closing.at if last_event is None or closing.at > last_event else now
                steps.append(DealStep(closing.kind, at, reason=closing.reason))
        elif target["status"] != record.status:
            steps.append(
                DealStep("reopen", now, stage=target["stage"] if target["status"] == "open" else None)
            )
            if closing is not None and target["status"] != "open":
                steps.append(DealStep(closing.kind, now, reason=closing.reason))
        if spec.product is not None and (
            isinstance(spec.product, str) or spec.product not in self.deal_products(record.pk)
        ):
            data["product"] = spec.product
        if not data and not steps:
            return None
        return DealChange(parsed.name, row[LINE], record, data, steps)

    @staticmethod
    def deal_products(deal_id: int) -> set[int]:
        lines = DealLine.objects.filter(deal_id=deal_id, product__isnull=False)
        return set(lines.values_list("product_id", flat=True))

    def history_only_change(
        self, record: Deal, steps_rows, last_event: dt.datetime | None
    ) -> DealChange | None:
        """History rows for a deal already in Dealflow: the moves dated after its last event."""
        if record.status != DealStatus.OPEN:
            return None
        history = self.history_steps(record.pipeline_id, steps_rows, record.currency)
        if not history:
            return None
        steps: list[DealStep] = []
        current: Ref = record.stage_id
        for at, stage, _amount, _close, _outcome in history:
            if last_event is not None and at <= last_event:
                continue
            if stage is not None and stage.kind == "open" and stage.ref != current:
                steps.append(DealStep("move", at, stage=stage.ref))
                current = stage.ref
        if not steps:
            return None
        parsed, row = steps_rows[0]
        return DealChange(parsed.name, row[LINE], record, {}, steps)
