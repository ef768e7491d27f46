"""The deal lifecycle as pure functions: every rule of create, move, win, lose, reopen and update, once.

Each function takes a plain ``DealState`` (what the rules read, no ORM), the facts the rules need
(stages, the owner, the lost reason) and a ``Context`` with the local calendar and the exchange rates,
and returns a ``Change``: the state after, the columns that changed, the events to write, the stage-spell
edges and, for a win, the follow-up task. Nothing here reads or writes the database.

Two writers apply a ``Change`` (GUIDE.md, "one rule, many writers"): the services in ``deals/services/``
apply one in a transaction (``deals/services/apply.py``); the bulk writer (``deals/bulk/``) applies many
in memory and writes the rows with COPY. Error messages live here and only here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from dealflow.core.errors import ApplicationError
from dealflow.core.money import from_minor, normalize_currency, to_minor
from dealflow.deals.choices import ActivityKind, DealStatus, EventKind, ForecastCategory, SpellExit, StageKind

POST_SALE_FOLLOW_UP_DAYS = 14
POST_SALE_FOLLOW_UP_NOTES = "Check that the customer is live and happy; look for an upsell."
TITLE_MAX_LENGTH = 200

# Plain strings: the bulk writer puts them in rows by the million (an Enum member's value is a descriptor
# call, and psycopg may dump a member by its name).
OPEN, WON, LOST = DealStatus.OPEN.value, DealStatus.WON.value, DealStatus.LOST.value
STAGE_OPEN, STAGE_WON, STAGE_LOST = StageKind.OPEN.value, StageKind.WON.value, StageKind.LOST.value
CATEGORY_OVERRIDES = frozenset(
    {
        "",
        ForecastCategory.PIPELINE.value,
        ForecastCategory.BEST_CASE.value,
        ForecastCategory.COMMIT.value,
        ForecastCategory.OMITTED.value,
    }
)

# Columns ``update`` may change, in the vocabulary of the Deal table (``amount`` is a decimal in the
# deal's currency; ``amount_minor`` the same in minor units).
UPDATE_FIELDS = frozenset(
    {
        "title",
        "organization_id",
        "person_id",
        "source_id",
        "next_step",
        "next_step_on",
        "lost_note",
        "amount",
        "amount_minor",
        "currency",
        "expected_close_on",
        "owner",
        "probability_override",
        "forecast_category_override",
    }
)


# --- What the rules read -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageInfo:
    pk: int
    pipeline_id: int
    name: str
    kind: str
    order: int
    is_active: bool


@dataclass(frozen=True, slots=True)
class OwnerInfo:
    """A user who may own the deal: their team is the deal's team."""

    pk: int
    team_id: int | None
    is_active: bool


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    pk: int
    name: str
    is_active: bool


@dataclass(frozen=True, slots=True)
class Context:
    """The calendar and the rates: ``local_date`` of a moment in the site's time zone, and
    ``to_base_minor(amount_minor, currency, day)`` at the rate valid on that day (core.money.RateTable)."""

    local_date: Callable[[dt.datetime], dt.date]
    to_base_minor: Callable[[int, str, dt.date], int]


@dataclass(frozen=True, slots=True)
class DealState:
    """A deal's columns the rules read and write (``stage`` stands for ``stage_id``)."""

    pipeline_id: int
    stage: StageInfo
    status: str
    title: str
    owner_id: int
    team_id: int | None
    amount_minor: int
    currency: str
    expected_close_on: dt.date | None
    probability_override: int | None
    forecast_category_override: str
    organization_id: int | None
    person_id: int | None
    source_id: int | None
    next_step: str
    next_step_on: dt.date | None
    lost_reason_id: int | None
    lost_note: str
    created_on: dt.date
    lead_created_at: dt.datetime | None
    stage_entered_at: dt.datetime
    last_activity_at: dt.datetime
    won_at: dt.datetime | None
    lost_at: dt.datetime | None
    closed_on: dt.date | None
    cycle_days: int | None
    lead_cycle_days: int | None
    amount_base_minor: int | None
    version: int
    has_lines: bool = False  # its amount is the sum of its lines (deals/services/contents.py)


# --- What the rules return ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """One DealEvent; ``amount_minor`` and ``currency`` are the deal's after the change."""

    kind: str
    at: dt.datetime
    by_id: int | None
    origin: str
    note: str
    field: str
    from_value: str
    to_value: str
    from_stage_id: int | None
    to_stage_id: int | None
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class SpellOpen:
    stage_id: int
    owner_id: int
    entered_at: dt.datetime
    entered_on: dt.date


@dataclass(frozen=True, slots=True)
class SpellClose:
    """How the open spell ends; ``duration_days`` counts from ``entered_at`` (the deal's stage_entered_at)."""

    exited_at: dt.datetime
    exited_on: dt.date
    exit_kind: str
    next_stage_id: int
    duration_days: float


@dataclass(frozen=True, slots=True)
class FollowUp:
    """The post-sale task a win schedules."""

    subject: str
    notes: str
    due_at: dt.datetime
    owner_id: int
    person_id: int | None
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Change:
    """The state after a lifecycle step and what a writer must write for it."""

    state: DealState
    fields: tuple[str, ...] = ()  # Deal columns that changed (``stage_id`` for the stage)
    events: tuple[Event, ...] = ()
    spell_close: SpellClose | None = None
    spell_open: SpellOpen | None = None
    follow_up: FollowUp | None = None

    @property
    def is_empty(self) -> bool:
        return not self.fields and not self.events


# --- Validation of single values (also used by forms and importers through the services) -------------


def valid_title(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise ApplicationError("A deal needs a title.", field="title")
    if len(text) > TITLE_MAX_LENGTH:
        raise ApplicationError("A title has at most 200 characters.", field="title")
    return text


def valid_probability(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        probability = int(value)
    except (TypeError, ValueError) as error:
        raise ApplicationError(
            "Probability must be a whole number from 0 to 100.", field="probability_override"
        ) from error
    if not 0 <= probability <= 100:
        raise ApplicationError("Probability must be from 0 to 100.", field="probability_override")
    return probability


def valid_category(value: Any) -> str:
    if not value:
        return ""
    if value not in CATEGORY_OVERRIDES:
        raise ApplicationError(
            "Forecast category must be pipeline, best_case, commit or omitted.",
            field="forecast_category_override",
        )
    return str(value)


def valid_close_date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError as error:
            raise ApplicationError(
                f"{value!r} is not a date (YYYY-MM-DD).", field="expected_close_on"
            ) from error
    if not isinstance(value, dt.date):
        raise ApplicationError("Expected close date must be a date.", field="expected_close_on")
    if not 1990 <= value.year <= 2200:
        raise ApplicationError(
            "Expected close date must lie between 1990 and 2200.", field="expected_close_on"
        )
    return value


def valid_amount_minor(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApplicationError(f"Amount {value!r} is not a whole number of minor units.", field="amount")
    if value < 0:
        raise ApplicationError("Amount cannot be negative.", field="amount")
    return value


def valid_owner(owner: OwnerInfo | None) -> OwnerInfo:
    if owner is None or not owner.is_active:
        raise ApplicationError("Pick an active user as owner.", field="owner")
    return owner


def valid_open_stage(stage: StageInfo | None, *, pipeline_id: int) -> StageInfo:
    if stage is None or stage.pipeline_id != pipeline_id or stage.kind != STAGE_OPEN or not stage.is_active:
        raise ApplicationError("Pick an open stage of this deal's pipeline.", field="stage")
    return stage


def closing_stage_required(stage: StageInfo | None, *, kind: str) -> StageInfo:
    if stage is None:
        raise ApplicationError(f"This pipeline has no {kind} stage.", field="stage")
    return stage


def open_stage_required(stage: StageInfo | None, *, pipeline_name: str) -> StageInfo:
    if stage is None:
        raise ApplicationError(f"Pipeline {pipeline_name} has no open stage.", field="stage")
    return stage


# --- The steps ---------------------------------------------------------------------------------------


def _event(
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


def _spell_open(context: Context, state: DealState, stage: StageInfo, at: dt.datetime) -> SpellOpen:
    return SpellOpen(stage.pk, state.owner_id, at, context.local_date(at))


def _spell_close(
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
    event = _event(
        state,
        EventKind.CREATED.value,
        at=at,
        by_id=by_id,
        origin=origin,
        note="",
        to_value=stage.name,
        to_stage=stage,
    )
    return Change(state, events=(event,), spell_open=_spell_open(context, state, stage, at))


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
    exit_kind = SpellExit.FORWARD.value if target.order > state.stage.order else SpellExit.BACK.value
    spell_close = _spell_close(context, state, at=at, exit_kind=exit_kind, next_stage=target)
    after = replace(
        state,
        stage=target,
        stage_entered_at=at,
        last_activity_at=max(at, state.last_activity_at),
        version=state.version + 1,
    )
    event = _event(
        after,
        EventKind.STAGE_CHANGED.value,
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
        spell_open=_spell_open(context, after, target, at),
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
    context: Context, state: DealState, *, status: str, stage: StageInfo, at: dt.datetime
) -> DealState:
    closed_on = context.local_date(at)
    lead_created_at = state.lead_created_at
    return replace(
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
    spell_close = _spell_close(context, state, at=at, exit_kind=SpellExit.WON.value, next_stage=stage)
    after = replace(_closed(context, state, status=WON, stage=stage, at=at), won_at=at)
    event = _event(
        after,
        EventKind.WON.value,
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
    spell_close = _spell_close(context, state, at=at, exit_kind=SpellExit.LOST.value, next_stage=stage)
    after = replace(
        _closed(context, state, status=LOST, stage=stage, at=at),
        lost_at=at,
        lost_reason_id=reason.pk,
        lost_note=note,
    )
    event = _event(
        after,
        EventKind.LOST.value,
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
    after = replace(
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
    event = _event(
        after,
        EventKind.REOPENED.value,
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
    return Change(after, fields=fields, events=(event,), spell_open=_spell_open(context, after, target, at))


def update(
    context: Context,
    state: DealState,
    *,
    changes: Mapping[str, Any],
    at: dt.datetime,
    by_id: int | None,
    origin: str = "",
    note: str = "",
    from_lines: bool = False,
) -> Change:
    """Change plain fields (keys of ``UPDATE_FIELDS``); stage and status change only through the steps above.

    Only values that differ count: an update that changes nothing bumps no version and records nothing
    (a second identical save is no conflict). One event per change that matters to history.
    """
    unknown = set(changes) - UPDATE_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
    values: dict[str, Any] = {}
    if "title" in changes:
        values["title"] = valid_title(changes["title"])
    for name in ("organization_id", "person_id", "source_id", "next_step_on"):
        if name in changes:
            values[name] = changes[name]
    if "lost_note" in changes:
        values["lost_note"] = str(changes["lost_note"] or "")
    if "next_step" in changes:
        values["next_step"] = str(changes["next_step"] or "")[:200]
    currency = normalize_currency(changes["currency"]) if "currency" in changes else state.currency
    values["currency"] = currency
    if "amount_minor" in changes:
        values["amount_minor"] = valid_amount_minor(changes["amount_minor"])
    elif "amount" in changes:
        amount = changes["amount"] if changes["amount"] is not None else 0
        values["amount_minor"] = to_minor(amount, currency)
    elif currency != state.currency:
        # Same amount in another currency: re-express it in the new currency's minor units (EUR 10.00 -> JPY 10).
        values["amount_minor"] = to_minor(from_minor(state.amount_minor, state.currency), currency)
    if "expected_close_on" in changes:
        values["expected_close_on"] = valid_close_date(changes["expected_close_on"])
    if "owner" in changes:
        owner = valid_owner(changes["owner"])
        values["owner_id"], values["team_id"] = owner.pk, owner.team_id
    if "probability_override" in changes:
        values["probability_override"] = valid_probability(changes["probability_override"])
    if "forecast_category_override" in changes:
        values["forecast_category_override"] = valid_category(changes["forecast_category_override"])

    differing = {name: value for name, value in values.items() if getattr(state, name) != value}
    amount_changed = "amount_minor" in differing or "currency" in differing
    if amount_changed and state.has_lines and not from_lines:
        raise ApplicationError(
            "This deal's amount is the sum of its lines; change the lines instead.",
            field="currency" if "currency" in differing else "amount",
        )
    if not differing:
        return Change(state)
    after = replace(state, version=state.version + 1, **differing)
    if amount_changed and after.status != OPEN and after.closed_on:
        # An amount changed after closing moves the closed value too (docs/metrics.md, edge cases).
        base = context.to_base_minor(after.amount_minor, after.currency, after.closed_on)
        if base != after.amount_base_minor:
            after = replace(after, amount_base_minor=base)
            differing["amount_base_minor"] = base

    def event(kind: str, field: str, from_value: object, to_value: object) -> Event:
        return _event(
            after,
            kind,
            at=at,
            by_id=by_id,
            origin=origin,
            note=note,
            field=field,
            from_value=from_value,
            to_value=to_value,
        )

    events: list[Event] = []
    if amount_changed:
        events.append(
            event(
                EventKind.AMOUNT_CHANGED.value,
                "amount",
                f"{from_minor(state.amount_minor, state.currency)} {state.currency}",
                f"{from_minor(after.amount_minor, after.currency)} {after.currency}",
            )
        )
    if "expected_close_on" in differing:
        events.append(
            event(
                EventKind.CLOSE_DATE_CHANGED.value,
                "expected_close_on",
                state.expected_close_on or "",
                after.expected_close_on or "",
            )
        )
    if "owner_id" in differing:
        events.append(event(EventKind.OWNER_CHANGED.value, "owner", state.owner_id, after.owner_id))
    if "forecast_category_override" in differing:
        events.append(
            event(
                EventKind.CATEGORY_CHANGED.value,
                "forecast_category",
                state.forecast_category_override,
                after.forecast_category_override,
            )
        )
    if "probability_override" in differing:
        events.append(
            event(
                EventKind.PROBABILITY_CHANGED.value,
                "probability",
                "" if state.probability_override is None else state.probability_override,
                "" if after.probability_override is None else after.probability_override,
            )
        )
    return Change(after, fields=tuple(sorted(differing)), events=tuple(events))


def touched(state: DealState, at: dt.datetime) -> DealState:
    """Activity on the deal at ``at``: last_activity_at (it feeds the stale flag) only ever moves forward.

    Not history, so no version bump and no event.
    """
    if at <= state.last_activity_at:
        return state
    return replace(state, last_activity_at=at)


_ACTIVITY_KINDS = frozenset(ActivityKind.values)


def valid_activity(
    *, kind: str, subject: Any, at: dt.datetime, done_at: dt.datetime | None
) -> tuple[str, dt.datetime | None]:
    """An activity's subject (trimmed) and done time: a note is done when written."""
    text = str(subject or "").strip()
    if not text:
        raise ApplicationError("An activity needs a subject.", field="subject")
    if kind not in _ACTIVITY_KINDS:
        raise ApplicationError(f"Kind must be one of {', '.join(ActivityKind.values)}.", field="kind")
    if kind == ActivityKind.NOTE.value and done_at is None:
        done_at = at
    return text[:200], done_at


def contents_changed(
    state: DealState,
    *,
    field: str,
    from_value: str,
    to_value: str,
    at: dt.datetime,
    by_id: int | None,
    origin: str = "",
    note: str = "",
) -> Change:
    """A change of what the deal holds (``lines``, ``tags``, ``custom.<key>``): one FIELD_CHANGED event and
    no column of its own (lines change the amount through ``update(from_lines=True)``); the caller knows
    that something changed (a summary of many lines may read the same)."""
    event = _event(
        state,
        EventKind.FIELD_CHANGED.value,
        at=at,
        by_id=by_id,
        origin=origin,
        note=note,
        field=field,
        from_value=from_value,
        to_value=to_value,
    )
    return Change(state, events=(event,))
