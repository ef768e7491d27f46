"""Validation of single values; each error message once (the services, forms and importers reach it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dealflow.core.errors import ApplicationError
from dealflow.deals.choices import ActivityKind
from dealflow.deals.lifecycle.state import (
    CATEGORY_OVERRIDES,
    STAGE_OPEN,
    TITLE_MAX_LENGTH,
    OwnerInfo,
    StageInfo,
)


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
