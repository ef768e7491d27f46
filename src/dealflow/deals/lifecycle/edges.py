"""The events and stage-spell edges a step produces (shared by the steps and the plain changes)."""

from __future__ import annotations

import datetime as dt

from dealflow.deals.lifecycle.state import Context, DealState, Event, SpellClose, SpellOpen, StageInfo


def event_for(
    state: DealState,
    kind: str,
    *,
    at: dt.datetime,
    by_id: int | None,
    origin: str,
    note: str,
    field: str = "",
    from_value: object = "",
    to_value: object = "",
    from_stage: StageInfo | None = None,
    to_stage: StageInfo | None = None,
) -> Event:
    return Event(
        kind,
        at,
        by_id,
        origin[:40],
        note[:300],
        field,
        "" if from_value is None else str(from_value)[:200],
        "" if to_value is None else str(to_value)[:200],
        from_stage.pk if from_stage is not None else None,
        to_stage.pk if to_stage is not None else None,
        state.amount_minor,
        state.currency,
    )


def spell_open_for(context: Context, state: DealState, stage: StageInfo, at: dt.datetime) -> SpellOpen:
    return SpellOpen(stage.pk, state.owner_id, at, context.local_date(at))


def spell_close_for(
    context: Context, state: DealState, *, at: dt.datetime, exit_kind: str, next_stage: StageInfo
) -> SpellClose:
    exited_at = max(at, state.stage_entered_at)
    return SpellClose(
        exited_at,
        context.local_date(exited_at),
        exit_kind,
        next_stage.pk,
        (exited_at - state.stage_entered_at).total_seconds() / 86400,
    )
