"""What the lifecycle rules read (DealState and the facts) and what they return (Change), plus the constants."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from types import FunctionType

from dealflow.deals.choices import DealStatus, ForecastCategory, StageKind

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


def _quick_init(cls: type) -> type:
    """Give a frozen slotted dataclass an ``__init__`` that fills its slots through their descriptors.

    The ``__init__`` dataclasses writes for a frozen class sets each field with ``object.__setattr__`` by
    name; the bulk writer builds one state, event and spell edge per step of every deal of an import (a
    few hundred thousand each). The generated one takes the same arguments (positional or keyword, the
    same defaults) and sets the same fields; the class stays frozen. It is built from the class's own
    ``fields``, so a field added later is covered; a default factory or ``__post_init__`` is refused here
    rather than skipped (a test compares it with the dataclass's own ``__init__``).
    """
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has __post_init__; _quick_init would skip it")
    namespace: dict[str, object] = {}
    parameters: list[str] = []
    for field in fields(cls):
        if field.default_factory is not MISSING or not field.init or field.kw_only:
            raise TypeError(f"{cls.__name__}.{field.name}: _quick_init handles plain fields only")
        namespace[f"_set_{field.name}"] = getattr(cls, field.name).__set__
        if field.default is MISSING:
            parameters.append(field.name)
        else:
            namespace[f"_default_{field.name}"] = field.default
            parameters.append(f"{field.name}=_default_{field.name}")
    lines = [f"    _set_{field.name}(self, {field.name})" for field in fields(cls)]
    source = "def __init__(self, " + ", ".join(parameters) + "):\n" + "\n".join(lines or ["    pass"])
    exec(source, namespace)  # noqa: S102 - the source is built from the dataclass's own field names
    init = namespace["__init__"]
    assert isinstance(init, FunctionType)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[misc]
    return cls


# --- What the rules read -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageInfo:
    pk: int
    pipeline_id: int
    name: str
    kind: str
    order: int
    is_active: bool


@_quick_init
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


@_quick_init
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
    deleted_at: dt.datetime | None = None  # in the trash since (soft delete; restore clears it)
    deleted_by_id: int | None = None


# --- What the rules return ---------------------------------------------------------------------------


@_quick_init
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


@_quick_init
@dataclass(frozen=True, slots=True)
class SpellOpen:
    stage_id: int
    owner_id: int
    entered_at: dt.datetime
    entered_on: dt.date


@_quick_init
@dataclass(frozen=True, slots=True)
class SpellClose:
    """How the open spell ends; ``duration_days`` counts from ``entered_at`` (the deal's stage_entered_at)."""

    exited_at: dt.datetime
    exited_on: dt.date
    exit_kind: str
    next_stage_id: int
    duration_days: float


@_quick_init
@dataclass(frozen=True, slots=True)
class FollowUp:
    """The post-sale task a win schedules."""

    subject: str
    notes: str
    due_at: dt.datetime
    owner_id: int
    person_id: int | None
    at: dt.datetime


@_quick_init
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


# --- Copying a state -----------------------------------------------------------------------------------


def _state_replace_function() -> Callable[..., DealState]:
    """Build ``state_replace``: ``dataclasses.replace`` for DealState, about 4x cheaper.

    ``dataclasses.replace`` reads the fields, builds a dict of keyword arguments and calls the frozen
    ``__init__``, which sets every field by name through ``object.__setattr__``; the bulk import replays
    every step of every deal through it. The generated function takes the same keyword-only arguments
    (one per field, so an unknown name is a TypeError as with ``replace``) and fills the new object's
    slots through their descriptors. It is built from ``fields(DealState)``, so it cannot miss a field
    added later; DealState has no ``__post_init__`` (it would be skipped here: a test keeps it so).
    """
    names = [field.name for field in fields(DealState)]
    namespace: dict[str, object] = {"_new": object.__new__, "_DealState": DealState, "_KEEP": object()}
    for name in names:
        namespace[f"_set_{name}"] = getattr(DealState, name).__set__
    source = "\n".join(
        [
            "def state_replace(state, *, " + ", ".join(f"{name}=_KEEP" for name in names) + "):",
            "    new = _new(_DealState)",
            *(f"    _set_{name}(new, state.{name} if {name} is _KEEP else {name})" for name in names),
            "    return new",
        ]
    )
    exec(source, namespace)  # noqa: S102 - the source is built from the dataclass's own field names
    function = namespace["state_replace"]
    assert callable(function)
    return function


state_replace: Callable[..., DealState] = _state_replace_function()
state_replace.__doc__ = "A copy of ``state`` with ``changes`` (keyword arguments, one per field)."
