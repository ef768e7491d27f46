"""Changes that keep the deal where it is: plain fields (update), activity (touched), contents (lines, tags, custom values)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from dealflow.core.errors import ApplicationError
from dealflow.core.money import from_minor, normalize_currency, to_minor
from dealflow.deals.choices import EventKind
from dealflow.deals.lifecycle.edges import event_for
from dealflow.deals.lifecycle.state import (
    OPEN,
    UPDATE_FIELDS,
    Change,
    Context,
    DealState,
    Event,
    state_replace,
)
from dealflow.deals.lifecycle.values import (
    valid_amount_minor,
    valid_category,
    valid_close_date,
    valid_owner,
    valid_probability,
    valid_title,
)


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
    after = state_replace(state, version=state.version + 1, **differing)
    if amount_changed and after.status != OPEN and after.closed_on:
        # An amount changed after closing moves the closed value too (docs/metrics.md, edge cases).
        base = context.to_base_minor(after.amount_minor, after.currency, after.closed_on)
        if base != after.amount_base_minor:
            after = state_replace(after, amount_base_minor=base)
            differing["amount_base_minor"] = base

    def event(kind: str, field: str, from_value: object, to_value: object) -> Event:
        return event_for(
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
    return state_replace(state, last_activity_at=at)


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
    event = event_for(
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
