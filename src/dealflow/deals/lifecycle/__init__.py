"""The deal lifecycle as pure functions: every rule of create, move, win, lose, reopen and update, once.

Each function takes a plain ``DealState`` (what the rules read, no ORM), the facts the rules need
(stages, the owner, the lost reason) and a ``Context`` with the local calendar and the exchange rates,
and returns a ``Change``: the state after, the columns that changed, the events to write, the stage-spell
edges and, for a win, the follow-up task. Nothing here reads or writes the database.

Two writers apply a ``Change`` (GUIDE.md, "one rule, many writers"): the services in ``deals/services/``
apply one in a transaction (``deals/services/history.py``, ``change_apply``); the bulk writer (``deals/bulk/``) applies many
in memory and writes the rows with COPY. Error messages live here and only here.
"""

from dealflow.deals.lifecycle.changes import (
    contents_changed,
    touched,
    update,
)
from dealflow.deals.lifecycle.state import (
    CATEGORY_OVERRIDES,
    LOST,
    OPEN,
    POST_SALE_FOLLOW_UP_DAYS,
    POST_SALE_FOLLOW_UP_NOTES,
    STAGE_LOST,
    STAGE_OPEN,
    STAGE_WON,
    TITLE_MAX_LENGTH,
    UPDATE_FIELDS,
    WON,
    Change,
    Context,
    DealState,
    Event,
    FollowUp,
    OwnerInfo,
    ReasonInfo,
    SpellClose,
    SpellOpen,
    StageInfo,
)
from dealflow.deals.lifecycle.steps import (
    UNDO_NOTE,
    create,
    delete,
    lose,
    move,
    reopen,
    reopen_stage,
    restore,
    undo_stage_step,
    win,
)
from dealflow.deals.lifecycle.values import (
    closing_stage_required,
    open_stage_required,
    valid_activity,
    valid_amount_minor,
    valid_category,
    valid_close_date,
    valid_open_stage,
    valid_owner,
    valid_probability,
    valid_title,
)

__all__ = [
    "CATEGORY_OVERRIDES",
    "LOST",
    "OPEN",
    "POST_SALE_FOLLOW_UP_DAYS",
    "POST_SALE_FOLLOW_UP_NOTES",
    "STAGE_LOST",
    "STAGE_OPEN",
    "STAGE_WON",
    "TITLE_MAX_LENGTH",
    "UNDO_NOTE",
    "UPDATE_FIELDS",
    "WON",
    "Change",
    "Context",
    "DealState",
    "Event",
    "FollowUp",
    "OwnerInfo",
    "ReasonInfo",
    "SpellClose",
    "SpellOpen",
    "StageInfo",
    "closing_stage_required",
    "contents_changed",
    "create",
    "delete",
    "lose",
    "move",
    "open_stage_required",
    "reopen",
    "reopen_stage",
    "restore",
    "touched",
    "undo_stage_step",
    "update",
    "valid_activity",
    "valid_amount_minor",
    "valid_category",
    "valid_close_date",
    "valid_open_stage",
    "valid_owner",
    "valid_probability",
    "valid_title",
    "win",
]
