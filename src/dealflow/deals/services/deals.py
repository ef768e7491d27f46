"""Deal lifecycle services: create, edit, move, win, lose, reopen.

The rules live in ``deals/lifecycle/`` (pure); each service reads what the rules need, asks the
lifecycle for the change and writes it in one transaction (``history.change_apply``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import transaction

from dealflow.accounts.models import Team, User
from dealflow.contacts.models import Organization, Person
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.money import normalize_currency, to_minor
from dealflow.deals import lifecycle
from dealflow.deals.lifecycle import POST_SALE_FOLLOW_UP_DAYS
from dealflow.deals.models import Deal, Lead, LeadSource, LostReason, Pipeline, Stage, StageKind
from dealflow.deals.services.history import (
    change_apply,
    deal_state,
    lifecycle_context,
    owner_info,
    stage_info,
)
from dealflow.deals.services.trash import follow_up_undo_apply, follow_up_undo_plan, note_with

__all__ = [
    "POST_SALE_FOLLOW_UP_DAYS",
    "deal_create",
    "deal_mark_lost",
    "deal_mark_won",
    "deal_move_to_stage",
    "deal_reopen",
    "deal_update",
    "deal_update_decide",
    "team_for_owner",
]


def team_for_owner(owner: User) -> Team | None:
    membership = owner.memberships.select_related("team").order_by("id").first()
    return membership.team if membership else None


def _team_id_for_owner(owner: User) -> int | None:
    return owner.memberships.order_by("id").values_list("team_id", flat=True).first()


def _default_pipeline() -> Pipeline:
    pipeline = Pipeline.objects.filter(is_active=True).order_by("-is_default", "order", "id").first()
    if pipeline is None:
        raise ApplicationError("There is no active pipeline; create one first.", field="pipeline")
    return pipeline


def _first_open_stage(pipeline: Pipeline) -> Stage | None:
    return pipeline.stages.filter(kind=StageKind.OPEN, is_active=True).order_by("order", "id").first()


def _closing_stage(pipeline_id: int, kind: str) -> Stage | None:
    return Stage.objects.filter(pipeline_id=pipeline_id, kind=kind).order_by("-is_active", "order").first()


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
    organization: Organization | None = None,
    person: Person | None = None,
    source: LeadSource | None = None,
    lead: Lead | None = None,
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
    if stage is None and pipeline.is_active:
        stage = _first_open_stage(pipeline)
        lifecycle.open_stage_required(stage_info(stage) if stage else None, pipeline_name=pipeline.name)
    code = normalize_currency(currency)
    created_at = at or clock.now()
    change = lifecycle.create(
        lifecycle_context(),
        title=title,
        owner=lifecycle.OwnerInfo(owner.pk, _team_id_for_owner(owner), owner.is_active),
        pipeline_id=pipeline.pk,
        pipeline_name=pipeline.name,
        pipeline_is_active=pipeline.is_active,
        stage=stage_info(stage) if stage is not None else None,
        amount_minor=to_minor(amount if amount is not None else 0, code),
        currency=code,
        at=created_at,
        by_id=by.pk if by is not None else None,
        expected_close_on=expected_close_on,
        probability_override=probability_override,
        forecast_category_override=forecast_category_override,
        organization_id=organization.pk if organization is not None else None,
        person_id=person.pk if person is not None else None,
        source_id=source.pk if source is not None else (lead.source_id if lead else None),
        next_step=next_step,
        next_step_on=next_step_on,
        lead_created_at=lead.created_at if lead else None,
        origin=origin,
    )
    state = change.state
    deal = Deal(
        title=state.title,
        owner=owner,
        team_id=state.team_id,
        pipeline=pipeline,
        stage=stage,
        status=state.status,
        amount_minor=state.amount_minor,
        currency=state.currency,
        expected_close_on=state.expected_close_on,
        organization=organization,
        person=person,
        source_id=state.source_id,
        lead=lead,
        lead_created_at=state.lead_created_at,
        parent=parent,
        probability_override=state.probability_override,
        forecast_category_override=state.forecast_category_override,
        next_step=state.next_step,
        next_step_on=state.next_step_on,
        stage_entered_at=state.stage_entered_at,
        created_at=created_at,
        created_on=state.created_on,
        last_activity_at=state.last_activity_at,
        external_source=external_source,
        external_id=external_id,
    )
    deal.save()
    return change_apply(deal=deal, change=change, stage=stage)


# deal_update's keys (model fields, as the forms and the API name them) -> the lifecycle's keys.
_UPDATE_KEYS = {
    "title": "title",
    "organization": "organization_id",
    "person": "person_id",
    "source": "source_id",
    "next_step": "next_step",
    "next_step_on": "next_step_on",
    "lost_note": "lost_note",
    "amount": "amount",
    "currency": "currency",
    "expected_close_on": "expected_close_on",
    "owner": "owner",
    "probability_override": "probability_override",
    "forecast_category_override": "forecast_category_override",
}


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
    Stage and status change only through the move/win/lose/reopen services. Values equal to the deal's
    change nothing and bump no version.
    """
    change = deal_update_decide(
        deal=deal, by=by, data=data, at=at, origin=origin, note=note, from_lines=from_lines
    )
    return change_apply(deal=deal, change=change, expected_version=expected_version)


def deal_update_decide(
    *,
    deal: Deal,
    by: User | None,
    data: dict[str, Any],
    at: dt.datetime | None = None,
    origin: str = "",
    note: str = "",
    from_lines: bool = False,
    team_id_for: Callable[[User], int | None] = _team_id_for_owner,
) -> lifecycle.Change:
    """What ``deal_update`` changes, decided by the lifecycle and nothing written: the one place both
    ``deal_update`` and the bulk path (``bulk_update.DealUpdateBatch``) take the change from. Sets the
    deal's related objects (owner, organization, person, source) that change, as the write will need them.
    ``team_id_for`` finds a new owner's team (the bulk path remembers it per user)."""
    changes: dict[str, Any] = {}
    for name, value in data.items():
        key = _UPDATE_KEYS.get(name)
        if key is None:
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
        if key in {"organization_id", "person_id", "source_id"}:
            value = value.pk if value is not None else None
        elif key == "owner":
            value = owner_info(value, team_id=team_id_for(value) if isinstance(value, User) else None)
        changes[key] = value
    amount_may_change = "amount" in changes or "currency" in changes
    state = deal_state(deal, has_lines=amount_may_change and not from_lines and deal.lines.exists())
    change = lifecycle.update(
        lifecycle_context(),
        state,
        changes=changes,
        at=at or clock.now(),
        by_id=by.pk if by is not None else None,
        origin=origin,
        note=note,
        from_lines=from_lines,
    )
    if "owner_id" in change.fields:
        deal.owner = data["owner"]
    for name, key in (("organization", "organization_id"), ("person", "person_id"), ("source", "source_id")):
        if key in change.fields:
            setattr(deal, name, data[name])
    return change


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
    change = lifecycle.move(
        lifecycle_context(),
        deal_state(deal),
        stage=stage_info(stage),
        at=at or clock.now(),
        by_id=by.pk if by is not None else None,
        origin=origin,
        note=note,
    )
    return change_apply(deal=deal, change=change, expected_version=expected_version, stage=stage)


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
    state = deal_state(deal)
    won_stage = _closing_stage(deal.pipeline_id, StageKind.WON) if state.status == lifecycle.OPEN else None
    change = lifecycle.win(
        lifecycle_context(),
        state,
        won_stage=stage_info(won_stage) if won_stage is not None else None,
        at=at or clock.now(),
        by_id=by.pk if by is not None else None,
        origin=origin,
        note=note,
        schedule_follow_up=schedule_follow_up,
    )
    return change_apply(deal=deal, change=change, expected_version=expected_version, stage=won_stage)


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
    state = deal_state(deal)
    lost_stage = _closing_stage(deal.pipeline_id, StageKind.LOST) if state.status == lifecycle.OPEN else None
    change = lifecycle.lose(
        lifecycle_context(),
        state,
        reason=lifecycle.ReasonInfo(reason.pk, reason.name, reason.is_active) if reason is not None else None,
        lost_stage=stage_info(lost_stage) if lost_stage is not None else None,
        at=at or clock.now(),
        by_id=by.pk if by is not None else None,
        origin=origin,
        note=note,
    )
    if reason is not None:
        deal.lost_reason = reason
    return change_apply(deal=deal, change=change, expected_version=expected_version, stage=lost_stage)


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
    """Reopen a won or lost deal into an open stage (by default the last one it was in). Reopening a won
    deal trashes the follow-up task its win created if nobody has done or changed it (``deal.follow_up_note``
    and the event's note say which)."""
    follow_up = follow_up_undo_plan(deal=deal)
    state = deal_state(deal)
    if stage is None and state.status != lifecycle.OPEN:
        last_spell = deal.spells.select_related("stage").order_by("-entered_at", "-id").first()
        last_stage = last_spell.stage if last_spell else None
        first_open = (
            None if last_stage is not None and last_stage.is_active else _first_open_stage(deal.pipeline)
        )
        target = lifecycle.reopen_stage(
            stage=None,
            last_stage=stage_info(last_stage) if last_stage is not None else None,
            first_open_stage=stage_info(first_open) if first_open is not None else None,
            pipeline_name=deal.pipeline.name,
        )
        stage = last_stage if last_stage is not None and target.pk == last_stage.pk else first_open
    change = lifecycle.reopen(
        lifecycle_context(),
        state,
        stage=stage_info(stage) if stage is not None else None,
        at=at or clock.now(),
        by_id=by.pk if by is not None else None,
        origin=origin,
        note=note_with(note, follow_up.note),
    )
    deal = change_apply(deal=deal, change=change, expected_version=expected_version, stage=stage)
    follow_up_undo_apply(plan=follow_up, by=by)
    deal.follow_up_note = follow_up.note  # type: ignore[attr-defined]  # for the page's message
    return deal
