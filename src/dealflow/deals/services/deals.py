"""Deal lifecycle: create, edit, move, win, lose, reopen."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from dealflow.accounts.models import Team, User
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, ConflictError
from dealflow.core.money import from_minor, normalize_currency, to_minor
from dealflow.deals.models import (
    Activity,
    ActivityKind,
    Deal,
    DealStatus,
    EventKind,
    ForecastCategory,
    LostReason,
    Pipeline,
    SpellExit,
    Stage,
    StageKind,
)
from dealflow.deals.services.history import (
    deal_save_versioned,
    event_record,
    local_date,
    spell_close,
    spell_exit_kind,
    spell_open,
)
from dealflow.deals.services.money import convert_minor_to_base
from dealflow.deals.services.search import deal_search_index

POST_SALE_FOLLOW_UP_DAYS = 14


def team_for_owner(owner: User) -> Team | None:
    membership = owner.memberships.select_related("team").order_by("id").first()
    return membership.team if membership else None


def _default_pipeline() -> Pipeline:
    pipeline = Pipeline.objects.filter(is_active=True).order_by("-is_default", "order", "id").first()
    if pipeline is None:
        raise ApplicationError("There is no active pipeline; create one first.", field="pipeline")
    return pipeline


def _first_open_stage(pipeline: Pipeline) -> Stage:
    stage = pipeline.stages.filter(kind=StageKind.OPEN, is_active=True).order_by("order", "id").first()
    if stage is None:
        raise ApplicationError(f"Pipeline {pipeline.name} has no open stage.", field="stage")
    return stage


def _closing_stage(pipeline_id: int, kind: str) -> Stage:
    stage = Stage.objects.filter(pipeline_id=pipeline_id, kind=kind).order_by("-is_active", "order").first()
    if stage is None:
        raise ApplicationError(f"This pipeline has no {kind} stage.", field="stage")
    return stage


def _validate_probability(value: Any) -> int | None:
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


def _validate_category(value: Any) -> str:
    if not value:
        return ""
    if value not in {
        ForecastCategory.PIPELINE,
        ForecastCategory.BEST_CASE,
        ForecastCategory.COMMIT,
        ForecastCategory.OMITTED,
    }:
        raise ApplicationError(
            "Forecast category must be pipeline, best_case, commit or omitted.",
            field="forecast_category_override",
        )
    return str(value)


def _validate_title(title: Any) -> str:
    text = str(title or "").strip()
    if not text:
        raise ApplicationError("A deal needs a title.", field="title")
    if len(text) > 200:
        raise ApplicationError("A title has at most 200 characters.", field="title")
    return text


def _validate_close_date(value: Any) -> dt.date | None:
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


@transaction.atomic
def deal_create(
    *,
    title: str,
    owner: User,
    by: User | None,
    pipeline: Pipeline | None = None,
    stage: Stage | None = None,
    amount: Decimal | int | str | None = None,
    currency: str = "EUR",
    expected_close_on: dt.date | None = None,
    organization=None,
    person=None,
    source=None,
    lead=None,
    parent: Deal | None = None,
    probability_override: int | None = None,
    forecast_category_override: str = "",
    next_step: str = "",
    next_step_on: dt.date | None = None,
    at: dt.datetime | None = None,
    origin: str = "",
    external_source: str = "",
    external_id: str = "",
) -> Deal:
    """Create an open deal in a stage of its pipeline and record its creation and first spell."""
    pipeline = pipeline or (stage.pipeline if stage else _default_pipeline())
    if not pipeline.is_active:
        raise ApplicationError(f"Pipeline {pipeline.name} is retired; pick an active one.", field="pipeline")
    stage = stage or _first_open_stage(pipeline)
    if stage.pipeline_id != pipeline.pk or stage.is_closed or not stage.is_active:
        raise ApplicationError("Pick an open stage of this deal's pipeline.", field="stage")
    if not owner.is_active:
        raise ApplicationError("The owner's account is inactive.", field="owner")
    code = normalize_currency(currency)
    created_at = at or clock.now()
    deal = Deal(
        title=_validate_title(title),
        owner=owner,
        team=team_for_owner(owner),
        pipeline=pipeline,
        stage=stage,
        status=DealStatus.OPEN,
        amount_minor=to_minor(amount if amount is not None else 0, code),
        currency=code,
        expected_close_on=_validate_close_date(expected_close_on),
        organization=organization,
        person=person,
        source=source or (lead.source if lead else None),
        lead=lead,
        lead_created_at=lead.created_at if lead else None,
        parent=parent,
        probability_override=_validate_probability(probability_override),
        forecast_category_override=_validate_category(forecast_category_override),
        next_step=(next_step or "")[:200],
        next_step_on=next_step_on,
        stage_entered_at=created_at,
        created_at=created_at,
        created_on=local_date(created_at),
        last_activity_at=created_at,
        external_source=external_source,
        external_id=external_id,
    )
    deal.save()
    event_record(
        deal=deal,
        kind=EventKind.CREATED,
        by=by,
        at=created_at,
        to_stage=stage,
        to_value=stage.name,
        origin=origin,
    )
    spell_open(deal=deal, stage=stage, at=created_at)
    deal_search_index(deal)
    return deal


# Fields a plain edit may change, each with the event kind it records.
_TRACKED_FIELDS: dict[str, str] = {
    "amount_minor": EventKind.AMOUNT_CHANGED,
    "currency": EventKind.AMOUNT_CHANGED,
    "expected_close_on": EventKind.CLOSE_DATE_CHANGED,
    "owner": EventKind.OWNER_CHANGED,
    "forecast_category_override": EventKind.CATEGORY_CHANGED,
    "probability_override": EventKind.PROBABILITY_CHANGED,
}
_PLAIN_FIELDS = {"title", "organization", "person", "source", "next_step", "next_step_on", "lost_note"}


@transaction.atomic
def deal_update(
    *,
    deal: Deal,
    by: User | None,
    data: dict[str, Any],
    expected_version: int | None = None,
    at: dt.datetime | None = None,
    origin: str = "",
    note: str = "",
    from_lines: bool = False,
) -> Deal:
    """Change a deal's fields; refuse a stale version; record an event per change that matters to history.

    ``data`` may hold: title, organization, person, source, next_step, next_step_on, amount (Decimal),
    currency, expected_close_on, owner, probability_override, forecast_category_override, lost_note.
    Stage and status change only through the move/win/lose/reopen services.
    """
    unknown = (
        set(data)
        - _PLAIN_FIELDS
        - {
            "amount",
            "currency",
            "expected_close_on",
            "owner",
            "probability_override",
            "forecast_category_override",
        }
    )
    if unknown:
        name = sorted(unknown)[0]
        raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
    before = {name: getattr(deal, name) for name in [*_TRACKED_FIELDS, "owner_id"]}
    changed: list[str] = []

    if "title" in data:
        deal.title = _validate_title(data["title"])
        changed.append("title")
    for name in ("organization", "person", "source", "next_step_on"):
        if name in data:
            setattr(deal, name, data[name])
            changed.append(name)
    if "lost_note" in data:
        deal.lost_note = str(data["lost_note"] or "")
        changed.append("lost_note")
    if "next_step" in data:
        deal.next_step = str(data["next_step"] or "")[:200]
        changed.append("next_step")
    if "currency" in data:
        deal.currency = normalize_currency(data["currency"])
        changed.append("currency")
    if "amount" in data:
        amount = data["amount"] if data["amount"] is not None else 0
        deal.amount_minor = to_minor(amount, deal.currency)
        changed.append("amount_minor")
    elif "currency" in data and before["currency"] != deal.currency:
        # Same amount in another currency: re-express it in the new currency's minor units (EUR 10.00 -> JPY 10).
        deal.amount_minor = to_minor(from_minor(before["amount_minor"], before["currency"]), deal.currency)
        changed.append("amount_minor")
    if "expected_close_on" in data:
        deal.expected_close_on = _validate_close_date(data["expected_close_on"])
        changed.append("expected_close_on")
    if "owner" in data:
        owner = data["owner"]
        if not isinstance(owner, User) or not owner.is_active:
            raise ApplicationError("Pick an active user as owner.", field="owner")
        deal.owner = owner
        deal.team = team_for_owner(owner)
        changed.extend(["owner", "team"])
    if "probability_override" in data:
        deal.probability_override = _validate_probability(data["probability_override"])
        changed.append("probability_override")
    if "forecast_category_override" in data:
        deal.forecast_category_override = _validate_category(data["forecast_category_override"])
        changed.append("forecast_category_override")

    if (
        not from_lines
        and (before["amount_minor"] != deal.amount_minor or before["currency"] != deal.currency)
        and deal.lines.exists()
    ):
        # A deal with line items takes its amount from them (deals/services/contents.py).
        raise ApplicationError(
            "This deal's amount is the sum of its lines; change the lines instead.",
            field="amount" if before["currency"] == deal.currency else "currency",
        )
    if (
        deal.status != DealStatus.OPEN
        and ("amount_minor" in changed or "currency" in changed)
        and deal.closed_on
    ):
        # An amount changed after closing moves the closed value too (docs/metrics.md, edge cases).
        deal.amount_base_minor = convert_minor_to_base(
            amount_minor=deal.amount_minor, currency=deal.currency, day=deal.closed_on
        )
        changed.append("amount_base_minor")
    if not changed:
        if expected_version is not None and expected_version != deal.version:
            raise ConflictError(
                "This deal was changed by someone else since you opened it. Reload it and apply your change again.",
                field="version",
                extra={"current_version": deal.version, "your_version": expected_version},
            )
        return deal
    deal_save_versioned(deal=deal, fields=sorted(set(changed)), expected_version=expected_version)
    if {"title", "organization", "person", "owner"} & set(changed):
        deal_search_index(deal)

    moment = at or clock.now()
    if before["amount_minor"] != deal.amount_minor or before["currency"] != deal.currency:
        event_record(
            deal=deal,
            kind=EventKind.AMOUNT_CHANGED,
            by=by,
            at=moment,
            field="amount",
            from_value=f"{from_minor(before['amount_minor'], before['currency'])} {before['currency']}",
            to_value=f"{from_minor(deal.amount_minor, deal.currency)} {deal.currency}",
            origin=origin,
            note=note,
        )
    if before["expected_close_on"] != deal.expected_close_on:
        event_record(
            deal=deal,
            kind=EventKind.CLOSE_DATE_CHANGED,
            by=by,
            at=moment,
            field="expected_close_on",
            from_value=before["expected_close_on"] or "",
            to_value=deal.expected_close_on or "",
            origin=origin,
            note=note,
        )
    if before["owner_id"] != deal.owner_id:
        event_record(
            deal=deal,
            kind=EventKind.OWNER_CHANGED,
            by=by,
            at=moment,
            field="owner",
            from_value=before["owner_id"],
            to_value=deal.owner_id,
            origin=origin,
            note=note,
        )
    if before["forecast_category_override"] != deal.forecast_category_override:
        event_record(
            deal=deal,
            kind=EventKind.CATEGORY_CHANGED,
            by=by,
            at=moment,
            field="forecast_category",
            from_value=before["forecast_category_override"] or "",
            to_value=deal.forecast_category_override or "",
            origin=origin,
            note=note,
        )
    if before["probability_override"] != deal.probability_override:
        event_record(
            deal=deal,
            kind=EventKind.PROBABILITY_CHANGED,
            by=by,
            at=moment,
            field="probability",
            from_value=before["probability_override"] if before["probability_override"] is not None else "",
            to_value=deal.probability_override if deal.probability_override is not None else "",
            origin=origin,
            note=note,
        )
    return deal


@transaction.atomic
def deal_move_to_stage(
    *,
    deal: Deal,
    stage: Stage,
    by: User | None,
    at: dt.datetime | None = None,
    expected_version: int | None = None,
    origin: str = "",
    note: str = "",
) -> Deal:
    """Move an open deal to another open stage of its pipeline and record the event."""
    if not deal.is_open:
        raise ApplicationError("Only an open deal can move; reopen it first.", field="stage")
    if stage.pipeline_id != deal.pipeline_id or stage.is_closed or not stage.is_active:
        raise ApplicationError("Pick an open stage of this deal's pipeline.", field="stage")
    if stage.pk == deal.stage_id:
        raise ApplicationError(f"The deal is already in {stage.name}.", field="stage")
    moment = at or clock.now()
    from_stage = deal.stage
    deal.stage = stage
    deal.stage_entered_at = moment
    deal.last_activity_at = max(moment, deal.last_activity_at or moment)
    deal_save_versioned(
        deal=deal, fields=["stage", "stage_entered_at", "last_activity_at"], expected_version=expected_version
    )
    spell_close(
        deal=deal,
        at=moment,
        exit_kind=spell_exit_kind(from_stage=from_stage, to_stage=stage),
        next_stage=stage,
    )
    spell_open(deal=deal, stage=stage, at=moment)
    event_record(
        deal=deal,
        kind=EventKind.STAGE_CHANGED,
        by=by,
        at=moment,
        field="stage",
        from_value=from_stage.name,
        to_value=stage.name,
        from_stage=from_stage,
        to_stage=stage,
        origin=origin,
        note=note,
    )
    return deal


def _close(deal: Deal, *, status: str, stage: Stage, moment: dt.datetime) -> None:
    closed_on = local_date(moment)
    deal.status = status
    deal.stage = stage
    deal.stage_entered_at = moment
    deal.closed_on = closed_on
    deal.cycle_days = max(0, (closed_on - deal.created_on).days)
    deal.lead_cycle_days = (
        max(0, (closed_on - local_date(deal.lead_created_at)).days) if deal.lead_created_at else None
    )
    deal.amount_base_minor = convert_minor_to_base(
        amount_minor=deal.amount_minor, currency=deal.currency, day=closed_on
    )
    deal.last_activity_at = max(moment, deal.last_activity_at or moment)


_CLOSE_FIELDS = [
    "status",
    "stage",
    "stage_entered_at",
    "closed_on",
    "cycle_days",
    "lead_cycle_days",
    "amount_base_minor",
    "last_activity_at",
]


@transaction.atomic
def deal_mark_won(
    *,
    deal: Deal,
    by: User | None,
    at: dt.datetime | None = None,
    expected_version: int | None = None,
    origin: str = "",
    note: str = "",
    schedule_follow_up: bool = True,
) -> Deal:
    """Close an open deal as won, store its cycle length and base-currency value, schedule the follow-up."""
    if not deal.is_open:
        raise ApplicationError("Only an open deal can be won.", field="status")
    moment = at or clock.now()
    from_stage = deal.stage
    won_stage = _closing_stage(deal.pipeline_id, StageKind.WON)
    _close(deal, status=DealStatus.WON, stage=won_stage, moment=moment)
    deal.won_at = moment
    deal_save_versioned(deal=deal, fields=[*_CLOSE_FIELDS, "won_at"], expected_version=expected_version)
    spell_close(deal=deal, at=moment, exit_kind=SpellExit.WON, next_stage=won_stage)
    event_record(
        deal=deal,
        kind=EventKind.WON,
        by=by,
        at=moment,
        field="status",
        from_value=from_stage.name,
        to_value=won_stage.name,
        from_stage=from_stage,
        to_stage=won_stage,
        origin=origin,
        note=note,
    )
    if schedule_follow_up:
        Activity.objects.create(
            kind=ActivityKind.TASK,
            subject=f"Post-sale follow-up: {deal.title}"[:200],
            notes="Check that the customer is live and happy; look for an upsell.",
            due_at=moment + dt.timedelta(days=POST_SALE_FOLLOW_UP_DAYS),
            owner_id=deal.owner_id,
            deal=deal,
            person_id=deal.person_id,
            origin="post_sale",
            created_at=moment,
        )
    return deal


@transaction.atomic
def deal_mark_lost(
    *,
    deal: Deal,
    reason: LostReason | None,
    by: User | None,
    note: str = "",
    at: dt.datetime | None = None,
    expected_version: int | None = None,
    origin: str = "",
) -> Deal:
    """Close an open deal as lost; a lost reason is required."""
    if reason is None:
        raise ApplicationError("Say why the deal was lost: pick a lost reason.", field="reason")
    if not reason.is_active:
        raise ApplicationError(f"The lost reason {reason.name!r} is retired; pick another.", field="reason")
    if not deal.is_open:
        raise ApplicationError("Only an open deal can be lost.", field="status")
    moment = at or clock.now()
    from_stage = deal.stage
    lost_stage = _closing_stage(deal.pipeline_id, StageKind.LOST)
    _close(deal, status=DealStatus.LOST, stage=lost_stage, moment=moment)
    deal.lost_at = moment
    deal.lost_reason = reason
    deal.lost_note = note
    deal_save_versioned(
        deal=deal,
        fields=[*_CLOSE_FIELDS, "lost_at", "lost_reason", "lost_note"],
        expected_version=expected_version,
    )
    spell_close(deal=deal, at=moment, exit_kind=SpellExit.LOST, next_stage=lost_stage)
    event_record(
        deal=deal,
        kind=EventKind.LOST,
        by=by,
        at=moment,
        field="status",
        from_value=from_stage.name,
        to_value=reason.name,
        from_stage=from_stage,
        to_stage=lost_stage,
        origin=origin,
        note=note,
    )
    return deal


@transaction.atomic
def deal_reopen(
    *,
    deal: Deal,
    by: User | None,
    stage: Stage | None = None,
    at: dt.datetime | None = None,
    expected_version: int | None = None,
    origin: str = "",
    note: str = "",
) -> Deal:
    """Reopen a won or lost deal into an open stage (by default the last one it was in)."""
    if deal.is_open:
        raise ApplicationError("The deal is already open.", field="status")
    if stage is None:
        last_spell = deal.spells.select_related("stage").order_by("-entered_at", "-id").first()
        stage = (
            last_spell.stage
            if last_spell and last_spell.stage.is_active
            else _first_open_stage(deal.pipeline)
        )
    if stage.pipeline_id != deal.pipeline_id or stage.is_closed or not stage.is_active:
        raise ApplicationError("Pick an open stage of this deal's pipeline.", field="stage")
    moment = at or clock.now()
    from_stage = deal.stage
    old_status = deal.status
    deal.status = DealStatus.OPEN
    deal.stage = stage
    deal.stage_entered_at = moment
    deal.won_at = deal.lost_at = None
    deal.closed_on = None
    deal.cycle_days = deal.lead_cycle_days = None
    deal.amount_base_minor = None
    deal.lost_reason = None
    deal.last_activity_at = moment
    deal_save_versioned(
        deal=deal,
        fields=[
            "status",
            "stage",
            "stage_entered_at",
            "won_at",
            "lost_at",
            "closed_on",
            "cycle_days",
            "lead_cycle_days",
            "amount_base_minor",
            "lost_reason",
            "last_activity_at",
        ],
        expected_version=expected_version,
    )
    spell_open(deal=deal, stage=stage, at=moment)
    event_record(
        deal=deal,
        kind=EventKind.REOPENED,
        by=by,
        at=moment,
        field="status",
        from_value=old_status,
        to_value=stage.name,
        from_stage=from_stage,
        to_stage=stage,
        origin=origin,
        note=note,
    )
    return deal
