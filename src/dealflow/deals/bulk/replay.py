"""One deal's history replayed in memory through the lifecycle rules (deals/lifecycle/), as rows.

The rules are the services' own: each step asks ``lifecycle`` for the change, exactly as the service of
that step does, and this module only turns the change into rows (the event tuples, the spell lists, the
follow-up task) instead of writing them one at a time.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from dealflow.deals import lifecycle
from dealflow.deals.bulk.steps import BulkActivity, BulkDeal, LogActivity, Lost, Move, Reopen, Update, Won
from dealflow.deals.choices import ActivityKind

if TYPE_CHECKING:
    from dealflow.deals.bulk.writer import BulkWriter

_TASK = ActivityKind.TASK.value

# BulkDeal / Update use column names; the lifecycle names the owner by its facts.
_COLUMN_KEYS = {"owner_id": "owner"}


class DealReplay:
    """One deal's state while its steps are applied; each method is one service of deals.services."""

    __slots__ = (
        "activities",
        "deal",
        "events",
        "first_event",
        "first_spell",
        "last_event",
        "lead_id",
        "now",
        "spells",
        "state",
        "writer",
    )

    def __init__(
        self, writer: BulkWriter, deal: BulkDeal, now: Any, events: list[Any], activities: list[Any]
    ) -> None:
        """deal_create (and the deal half of lead_convert)."""
        self.writer, self.deal, self.now, self.events, self.activities = writer, deal, now, events, activities
        # Where this deal's rows lie in the lists shared by the deals of one write.
        self.first_event, self.last_event, self.first_spell = len(events), len(events), 0
        # Spells are lists while they may still close: [stage_id, owner_id, entered_at, entered_on,
        # exited_at, exited_on, exit_kind, next_stage_id, duration_days].
        self.spells: list[list[Any]] = []
        lead = deal.lead
        self.lead_id = lead.id if lead is not None else None
        pipeline_name, pipeline_is_active = writer.pipelines.get(deal.pipeline_id, ("", True))
        change = lifecycle.create(
            writer.context,
            title=deal.title,
            owner=writer.owner(deal.owner_id),
            pipeline_id=deal.pipeline_id,
            pipeline_name=pipeline_name,
            pipeline_is_active=pipeline_is_active,
            stage=writer.stage(deal.stage_id),
            amount_minor=deal.amount_minor,
            currency=deal.currency,
            at=deal.created_at,
            by_id=deal.by_id,
            expected_close_on=deal.expected_close_on,
            probability_override=deal.probability_override,
            forecast_category_override=deal.forecast_category_override,
            organization_id=deal.organization_id,
            person_id=deal.person_id,
            source_id=deal.source_id if deal.source_id is not None else (lead.source_id if lead else None),
            next_step=deal.next_step,
            next_step_on=deal.next_step_on,
            lead_created_at=lead.created_at if lead is not None else None,
            origin=deal.origin,
        )
        self.state: lifecycle.DealState = change.state
        self._apply(change)

    def _apply(self, change: lifecycle.Change, follow_up_done_at: dt.datetime | None = None) -> None:
        """The rows of one change: what history.change_apply writes, as tuples and lists."""
        self.state = change.state
        edge = change.spell_close
        if edge is not None:
            for spell in reversed(self.spells):
                if spell[4] is None:
                    spell[4:9] = [
                        edge.exited_at,
                        edge.exited_on,
                        edge.exit_kind,
                        edge.next_stage_id,
                        edge.duration_days,
                    ]
                    break
        moment, deal_id, now = self.writer.moment, self.deal.id, self.now
        for event in change.events:
            self.events.append(
                (
                    deal_id,
                    event.kind,
                    event.field,
                    event.from_value,
                    event.to_value,
                    event.from_stage_id,
                    event.to_stage_id,
                    event.amount_minor,
                    event.currency,
                    event.by_id,
                    event.origin,
                    event.note,
                    moment(event.at),
                    now,
                )
            )
        opened = change.spell_open
        if opened is not None:
            self.spells.append(
                [
                    opened.stage_id,
                    opened.owner_id,
                    opened.entered_at,
                    opened.entered_on,
                    None,
                    None,
                    "",
                    None,
                    None,
                ]
            )
        task = change.follow_up
        if task is not None:
            self.activities.append(
                (
                    moment(task.at),
                    now,
                    _TASK,
                    task.subject,
                    task.notes,
                    moment(task.due_at),
                    moment(follow_up_done_at),
                    task.owner_id,
                    deal_id,
                    None,
                    task.person_id,
                    "post_sale",
                    "",
                    "",
                )
            )
            if follow_up_done_at is not None:
                self.state = lifecycle.touched(self.state, follow_up_done_at)

    def replay(self) -> DealReplay:
        """Apply each step in order; a refusal raises the service's ApplicationError."""
        writer, context = self.writer, self.writer.context
        for step in self.deal.steps:
            state = self.state
            if isinstance(step, Move):
                self._apply(
                    lifecycle.move(
                        context,
                        state,
                        stage=writer.stage(step.stage_id),
                        at=step.at,
                        by_id=step.by_id,
                        origin=step.origin,
                        note=step.note,
                    )
                )
            elif isinstance(step, Won):
                won_stage = writer.closing_stage.get((state.pipeline_id, lifecycle.STAGE_WON))
                change = lifecycle.win(
                    context,
                    state,
                    won_stage=won_stage,
                    at=step.at,
                    by_id=step.by_id,
                    origin=step.origin,
                    note=step.note,
                    schedule_follow_up=step.schedule_follow_up,
                )
                self._apply(change, step.follow_up_done_at)
            elif isinstance(step, Lost):
                self._apply(
                    lifecycle.lose(
                        context,
                        state,
                        reason=writer.reason(step.reason_id),
                        lost_stage=writer.closing_stage.get((state.pipeline_id, lifecycle.STAGE_LOST)),
                        at=step.at,
                        by_id=step.by_id,
                        origin=step.origin,
                        note=step.note,
                    )
                )
            elif isinstance(step, Reopen):
                self._apply(
                    lifecycle.reopen(
                        context,
                        state,
                        stage=self._reopen_stage(step),
                        at=step.at,
                        by_id=step.by_id,
                        origin=step.origin,
                        note=step.note,
                    )
                )
            elif isinstance(step, Update):
                self._apply(
                    lifecycle.update(
                        context,
                        state,
                        changes=self._changes(step.changes),
                        at=step.at,
                        by_id=step.by_id,
                        origin=step.origin,
                        note=step.note,
                    )
                )
            elif isinstance(step, LogActivity):
                self.log_activity(step.activity)
            else:
                raise TypeError(f"Unknown deal step {step!r}")
        self.last_event = len(self.events)
        return self

    def _reopen_stage(self, step: Reopen) -> lifecycle.StageInfo | None:
        if step.stage_id is not None:
            return self.writer.stage(step.stage_id)
        if self.state.status == lifecycle.OPEN or not self.spells:
            return None  # the lifecycle refuses it
        writer, pipeline_id = self.writer, self.state.pipeline_id
        last_spell = max(enumerate(self.spells), key=lambda item: (item[1][2], item[0]))[1]
        return lifecycle.reopen_stage(
            stage=None,
            last_stage=writer.stages.get(last_spell[0]),
            first_open_stage=writer.first_open_stage.get(pipeline_id),
            pipeline_name=writer.pipelines.get(pipeline_id, ("", True))[0],
        )

    def _changes(self, changes: dict[str, Any]) -> dict[str, Any]:
        """An Update step's columns in the lifecycle's vocabulary (the owner by its facts)."""
        if "owner_id" not in changes:
            return changes
        result = {_COLUMN_KEYS.get(name, name): value for name, value in changes.items()}
        result["owner"] = self.writer.owner(changes["owner_id"])
        return result

    def log_activity(self, activity: BulkActivity) -> None:
        """activity_create on this deal: it counts as activity on the deal (last_activity_at)."""
        row, touched_at = self.writer.activity_row(activity, self.deal.id, self.now)
        self.activities.append(row)
        if touched_at is not None:
            self.state = lifecycle.touched(self.state, touched_at)

    # -- the rows --

    def rows(self, spells: list[Any]) -> tuple[Any, ...]:
        """Append the spell rows and return the deal row (columns of tables.DEAL_COLUMNS)."""
        moment, day, deal, state = self.writer.moment, self.writer.day, self.deal, self.state
        deal_id, pipeline_id = deal.id, deal.pipeline_id
        self.first_spell = len(spells)
        for (
            stage_id,
            owner_id,
            entered_at,
            entered_on,
            exited_at,
            exited_on,
            exit_kind,
            next_id,
            days,
        ) in self.spells:
            spells.append(
                (
                    deal_id,
                    stage_id,
                    pipeline_id,
                    owner_id,
                    moment(entered_at),
                    day(entered_on),
                    moment(exited_at),
                    day(exited_on),
                    exit_kind,
                    next_id,
                    days,
                )
            )
        parent_id = deal.parent.id if deal.parent is not None else deal.parent_id
        return (
            deal_id,
            moment(deal.created_at),
            self.now,
            state.title,
            state.organization_id,
            state.person_id,
            state.owner_id,
            state.team_id,
            pipeline_id,
            state.stage.pk,
            state.status,
            state.amount_minor,
            state.currency,
            day(state.expected_close_on),
            state.probability_override,
            state.forecast_category_override,
            state.source_id,
            self.lead_id,
            moment(state.lead_created_at),
            parent_id,
            state.lost_reason_id,
            state.lost_note,
            state.next_step,
            day(state.next_step_on),
            moment(state.stage_entered_at),
            moment(state.won_at),
            moment(state.lost_at),
            moment(state.last_activity_at),
            state.version,
            day(state.created_on),
            day(state.closed_on),
            state.cycle_days,
            state.lead_cycle_days,
            state.amount_base_minor,
            deal.external_source,
            deal.external_id,
        )
