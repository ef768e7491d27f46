"""The steps that move a deal through its life: create, move, win, lose, reopen, delete, restore, undo."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dealflow.core.errors import ApplicationError, ConflictError
from dealflow.core.money import normalize_currency
from dealflow.deals.choices import EventKind, SpellExit
from dealflow.deals.lifecycle.edges import event_for, spell_close_for, spell_open_for
from dealflow.deals.lifecycle.state import (
    LOST,
    OPEN,
    POST_SALE_FOLLOW_UP_DAYS,
    POST_SALE_FOLLOW_UP_NOTES,
    STAGE_LOST,
    STAGE_WON,
    WON,
    Change,
    Context,
    DealState,
    FollowUp,
    OwnerInfo,
    ReasonInfo,
    StageInfo,
    state_replace,
)
from dealflow.deals.lifecycle.values import (
    closing_stage_required,
    open_stage_required,
    valid_amount_minor,
    valid_category,
    valid_close_date,
    valid_open_stage,
    valid_probability,
    valid_title,
)

# Plain strings once, as state.py does for the statuses: a member's ``.value`` is a descriptor call, and the
# bulk writer replays every step of every deal of an import through these functions.
_CREATED, _STAGE_CHANGED, _REOPENED = (
    EventKind.CREATED.value,
    EventKind.STAGE_CHANGED.value,
    EventKind.REOPENED.value,
)
_EVENT_WON, _EVENT_LOST = EventKind.WON.value, EventKind.LOST.value
_FORWARD, _BACK = SpellExit.FORWARD.value, SpellExit.BACK.value
_EXIT_WON, _EXIT_LOST = SpellExit.WON.value, SpellExit.LOST.value


def create(
    context: Context,
    *,
    title: Any,
    owner: OwnerInfo,
    pipeline_id: int,
    stage: StageInfo | None,
    amount_minor: int,
    currency: str,
    at: dt.datetime,
    by_id: int | None,
    pipeline_name: str = "",
    pipeline_is_active: bool = True,
    expected_close_on: Any = None,
    probability_override: Any = None,
    forecast_category_override: Any = "",
    organization_id: int | None = None,
    person_id: int | None = None,
    source_id: int | None = None,
    next_step: str = "",
    next_step_on: dt.date | None = None,
    lead_created_at: dt.datetime | None = None,
    origin: str = "",
) -> Change:
    """A new open deal in an open stage of its pipeline: the creation event and its first spell."""
    if not pipeline_is_active:
        raise ApplicationError(f"Pipeline {pipeline_name} is retired; pick an active one.", field="pipeline")
    stage = valid_open_stage(stage, pipeline_id=pipeline_id)
    if not owner.is_active:
        raise ApplicationError("The owner's account is inactive.", field="owner")
    state = DealState(
        pipeline_id=pipeline_id,
        stage=stage,
        status=OPEN,
        title=valid_title(title),
        owner_id=owner.pk,
        team_id=owner.team_id,
        amount_minor=valid_amount_minor(amount_minor),
        currency=normalize_currency(currency),
        expected_close_on=valid_close_date(expected_close_on),
        probability_override=valid_probability(probability_override),
        forecast_category_override=valid_category(forecast_category_override),
        organization_id=organization_id,
        person_id=person_id,
        source_id=source_id,
        next_step=(next_step or "")[:200],
        next_step_on=next_step_on,
        lost_reason_id=None,
        lost_note="",
        created_on=context.local_date(at),
        lead_created_at=lead_created_at,
        stage_entered_at=at,
        last_activity_at=at,
        won_at=None,
        lost_at=None,
        closed_on=None,
        cycle_days=None,
        lead_cycle_days=None,
        amount_base_minor=None,
        version=1,
    )
    event = event_for(
        state,
        _CREATED,
        at=at,
        by_id=by_id,
        origin=origin,
        note="",
        to_value=stage.name,
        to_stage=stage,
    )
    return Change(state, events=(event,), spell_open=spell_open_for(context, state, stage, at))


def move(
    context: Context,
    state: DealState,
    *,
    stage: StageInfo | None,
    at: dt.datetime,
    by_id: int | None,
    origin: str = "",
    note: str = "",
) -> Change:
    """Move an open deal to another open stage of its pipeline."""
    if state.status != OPEN:
        raise ApplicationError("Only an open deal can move; reopen it first.", field="stage")
    target = valid_open_stage(stage, pipeline_id=state.pipeline_id)
    if target.pk == state.stage.pk:
        raise ApplicationError(f"The deal is already in {target.name}.", field="stage")
    exit_kind = _FORWARD if target.order > state.stage.order else _BACK
    spell_close = spell_close_for(context, state, at=at, exit_kind=exit_kind, next_stage=target)
    after = state_replace(
        state,
        stage=target,
        stage_entered_at=at,
        last_activity_at=max(at, state.last_activity_at),
        version=state.version + 1,
    )
    event = event_for(
        after,
        _STAGE_CHANGED,
        at=at,
        by_id=by_id,
        origin=origin,
        note=note,
        field="stage",
        from_value=state.stage.name,
        to_value=target.name,
        from_stage=state.stage,
        to_stage=target,
    )
    return Change(
        after,
        fields=("stage_id", "stage_entered_at", "last_activity_at"),
        events=(event,),
        spell_close=spell_close,
        spell_open=spell_open_for(context, after, target, at),
    )


_CLOSE_FIELDS = (
    "status",
    "stage_id",
    "stage_entered_at",
    "closed_on",
    "cycle_days",
    "lead_cycle_days",
    "amount_base_minor",
    "last_activity_at",
)


def _closed(
    context: Context, state: DealState, *, status: str, stage: StageInfo, at: dt.datetime, **changes: Any
) -> DealState:
    """The state of a deal closed at ``at``, with the outcome's own ``changes`` in the same copy."""
    closed_on = context.local_date(at)
    lead_created_at = state.lead_created_at
    return state_replace(
        state,
        status=status,
        stage=stage,
        stage_entered_at=at,
        closed_on=closed_on,
        cycle_days=max(0, (closed_on - state.created_on).days),
        lead_cycle_days=(
            max(0, (closed_on - context.local_date(lead_created_at)).days) if lead_created_at else None
        ),
        amount_base_minor=context.to_base_minor(state.amount_minor, state.currency, closed_on),
        last_activity_at=max(at, state.last_activity_at),
        version=state.version + 1,
        **changes,
    )


def win(
    context: Context,
    state: DealState,
    *,
    won_stage: StageInfo | None,
    at: dt.datetime,
    by_id: int | None,
    origin: str = "",
    note: str = "",
    schedule_follow_up: bool = True,
) -> Change:
    """Close an open deal as won: cycle length, base-currency value, the follow-up task."""
    if state.status != OPEN:
        raise ApplicationError("Only an open deal can be won.", field="status")
    stage = closing_stage_required(won_stage, kind=STAGE_WON)
    spell_close = spell_close_for(context, state, at=at, exit_kind=_EXIT_WON, next_stage=stage)
    after = _closed(context, state, status=WON, stage=stage, at=at, won_at=at)
    event = event_for(
        after,
        _EVENT_WON,
        at=at,
        by_id=by_id,
        origin=origin,
        note=note,
        field="status",
        from_value=state.stage.name,
        to_value=stage.name,
        from_stage=state.stage,
        to_stage=stage,
    )
    follow_up = (
        FollowUp(
            subject=f"Post-sale follow-up: {after.title}"[:200],
            notes=POST_SALE_FOLLOW_UP_NOTES,
            due_at=at + dt.timedelta(days=POST_SALE_FOLLOW_UP_DAYS),
            owner_id=after.owner_id,
            person_id=after.person_id,
            at=at,
        )
        if schedule_follow_up
        else None
    )
    return Change(
        after,
        fields=(*_CLOSE_FIELDS, "won_at"),
        events=(event,),
        spell_close=spell_close,
        follow_up=follow_up,
    )


def lose(
    context: Context,
    state: DealState,
    *,
    reason: ReasonInfo | None,
    lost_stage: StageInfo | None,
    at: dt.datetime,
    by_id: int | None,
    origin: str = "",
    note: str = "",
) -> Change:
    """Close an open deal as lost; a lost reason that is still in use is required."""
    if reason is None:
        raise ApplicationError("Say why the deal was lost: pick a lost reason.", field="reason")
    if not reason.is_active:
        raise ApplicationError(f"The lost reason {reason.name!r} is retired; pick another.", field="reason")
    if state.status != OPEN:
        raise ApplicationError("Only an open deal can be lost.", field="status")
    stage = closing_stage_required(lost_stage, kind=STAGE_LOST)
    spell_close = spell_close_for(context, state, at=at, exit_kind=_EXIT_LOST, next_stage=stage)
    after = _closed(
        context, state, status=LOST, stage=stage, at=at, lost_at=at, lost_reason_id=reason.pk, lost_note=note
    )
    event = event_for(
        after,
        _EVENT_LOST,
        at=at,
        by_id=by_id,
        origin=origin,
        note=note,
        field="status",
        from_value=state.stage.name,
        to_value=reason.name,
        from_stage=state.stage,
        to_stage=stage,
    )
    return Change(
        after,
        fields=(*_CLOSE_FIELDS, "lost_at", "lost_reason_id", "lost_note"),
        events=(event,),
        spell_close=spell_close,
    )


def reopen_stage(
    *,
    stage: StageInfo | None,
    last_stage: StageInfo | None,
    first_open_stage: StageInfo | None,
    pipeline_name: str,
) -> StageInfo:
    """The stage a reopened deal goes to: the one asked for, else the last it was in, else the first open one."""
    if stage is not None:
        return stage
    if last_stage is not None and last_stage.is_active:
        return last_stage
    return open_stage_required(first_open_stage, pipeline_name=pipeline_name)


def reopen(
    context: Context,
    state: DealState,
    *,
    stage: StageInfo | None,
    at: dt.datetime,
    by_id: int | None,
    origin: str = "",
    note: str = "",
) -> Change:
    """Reopen a won or lost deal into an open stage (pick it with ``reopen_stage``)."""
    if state.status == OPEN:
        raise ApplicationError("The deal is already open.", field="status")
    target = valid_open_stage(stage, pipeline_id=state.pipeline_id)
    after = state_replace(
        state,
        status=OPEN,
        stage=target,
        stage_entered_at=at,
        won_at=None,
        lost_at=None,
        closed_on=None,
        cycle_days=None,
        lead_cycle_days=None,
        amount_base_minor=None,
        lost_reason_id=None,
        last_activity_at=at,
        version=state.version + 1,
    )
    event = event_for(
        after,
        _REOPENED,
        at=at,
        by_id=by_id,
        origin=origin,
        note=note,
        field="status",
        from_value=state.status,
        to_value=target.name,
        from_stage=state.stage,
        to_stage=target,
    )
    fields = (
        "status",
        "stage_id",
        "stage_entered_at",
        "won_at",
        "lost_at",
        "closed_on",
        "cycle_days",
        "lead_cycle_days",
        "amount_base_minor",
        "lost_reason_id",
        "last_activity_at",
    )
    return Change(
        after, fields=fields, events=(event,), spell_open=spell_open_for(context, after, target, at)
    )


def delete(
    state: DealState, *, at: dt.datetime, by_id: int | None, origin: str = "", note: str = ""
) -> Change:
    """Move a deal to the trash: it leaves boards, lists, search and metrics until restored or purged."""
    if state.deleted_at is not None:
        raise ApplicationError("The deal is already in the trash.", field="deal")
    after = state_replace(state, deleted_at=at, deleted_by_id=by_id, version=state.version + 1)
    event = event_for(after, EventKind.DELETED.value, at=at, by_id=by_id, origin=origin, note=note)
    return Change(after, fields=("deleted_at", "deleted_by_id"), events=(event,))


def restore(
    state: DealState, *, at: dt.datetime, by_id: int | None, origin: str = "", note: str = ""
) -> Change:
    """Bring a deal back from the trash exactly as it was (its stage, status and history untouched)."""
    if state.deleted_at is None:
        raise ApplicationError("The deal is not in the trash.", field="deal")
    after = state_replace(state, deleted_at=None, deleted_by_id=None, version=state.version + 1)
    event = event_for(after, EventKind.RESTORED.value, at=at, by_id=by_id, origin=origin, note=note)
    return Change(after, fields=("deleted_at", "deleted_by_id"), events=(event,))


UNDO_NOTE = "Undo"


def undo_stage_step(
    context: Context,
    state: DealState,
    *,
    expected_version: int,
    previous_stage: StageInfo | None,
    at: dt.datetime,
    by_id: int | None,
    origin: str = "",
    note: str = UNDO_NOTE,
) -> Change:
    """Undo a quick move, win or loss: back to ``previous_stage`` (a move, or a reopen of a closed deal).

    ``expected_version`` is the deal's version right after the step being undone; anything written since
    (someone else's change, or an earlier undo) refuses the undo rather than overwrite it.
    """
    if state.version != expected_version:
        raise ConflictError(
            "The deal changed after this action, so it cannot be undone here; open the deal to change it.",
            field="version",
        )
    if previous_stage is None or previous_stage.pipeline_id != state.pipeline_id:
        raise ApplicationError("There is nothing to undo for this deal.", field="stage")
    if state.status == OPEN:
        return move(context, state, stage=previous_stage, at=at, by_id=by_id, origin=origin, note=note)
    return reopen(context, state, stage=previous_stage, at=at, by_id=by_id, origin=origin, note=note)
