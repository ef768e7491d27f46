"""The event log and the stage spells, always written together with the change they describe."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from dealflow.accounts.models import User
from dealflow.core import clock
from dealflow.core.errors import ConflictError
from dealflow.deals import lifecycle
from dealflow.deals.models import Activity, ActivityKind, Deal, DealEvent, EventKind, Stage, StageSpell
from dealflow.deals.rates import convert_minor_to_base
from dealflow.deals.services.derived import (
    derived_close_date_changed,
    derived_deal_sync,
    derived_stay_close,
    derived_stay_open,
)
from dealflow.deals.services.listeners import history_changed
from dealflow.deals.services.search import activity_search_index, deal_search_index


def local_date(moment: dt.datetime) -> dt.date:
    return timezone.localdate(moment) if timezone.is_aware(moment) else moment.date()


def event_record(
    *,
    deal: Deal,
    kind: str,
    by: User | None,
    at: dt.datetime | None = None,
    field: str = "",
    from_value: object = "",
    to_value: object = "",
    from_stage: Stage | None = None,
    to_stage: Stage | None = None,
    origin: str = "",
    note: str = "",
) -> DealEvent:
    """Append one DealEvent; ``at`` backdates ``occurred_at`` (imports), ``recorded_at`` is always now."""
    return event_write(
        deal=deal,
        event=lifecycle.Event(
            kind,
            at or clock.now(),
            by.pk if by is not None else None,
            origin[:40],
            note[:300],
            field,
            "" if from_value is None else str(from_value)[:200],
            "" if to_value is None else str(to_value)[:200],
            from_stage.pk if from_stage is not None else None,
            to_stage.pk if to_stage is not None else None,
            deal.amount_minor,
            deal.currency,
        ),
    )


def event_row(*, deal: Deal, event: lifecycle.Event, recorded_at: dt.datetime) -> DealEvent:
    """The DealEvent row of an event the lifecycle described (not saved)."""
    return DealEvent(
        deal=deal,
        kind=event.kind,
        field=event.field,
        from_value=event.from_value,
        to_value=event.to_value,
        from_stage_id=event.from_stage_id,
        to_stage_id=event.to_stage_id,
        amount_minor=event.amount_minor,
        currency=event.currency,
        actor_id=event.by_id,
        origin=event.origin,
        note=event.note,
        occurred_at=event.at,
        recorded_at=recorded_at,
    )


def event_write(*, deal: Deal, event: lifecycle.Event) -> DealEvent:
    """Write an event the lifecycle (or ``event_record``) described, and keep the derived tables in step."""
    row = event_row(deal=deal, event=event, recorded_at=clock.now())
    row.save(force_insert=True)
    # Derived analytics tables follow in the same transaction (services/derived.py).
    if event.kind == EventKind.CREATED:
        derived_deal_sync(deal=deal)
    elif event.kind == EventKind.CLOSE_DATE_CHANGED:
        derived_close_date_changed(
            deal=deal, from_value=row.from_value, to_value=row.to_value, at=row.occurred_at
        )
    # Tables of other apps that follow the history (commission credits: services/listeners.py).
    history_changed(deal_ids=[deal.pk], kinds=[event.kind])
    return row


def spell_open(*, deal: Deal, stage: Stage, at: dt.datetime) -> StageSpell:
    spell = StageSpell.objects.create(
        deal=deal,
        stage=stage,
        pipeline_id=deal.pipeline_id,
        owner_id=deal.owner_id,
        entered_at=at,
        entered_on=local_date(at),
    )
    derived_stay_open(spell=spell, deal=deal, stage=stage)
    return spell


def spell_close(*, deal: Deal, edge: lifecycle.SpellClose) -> None:
    """Close the deal's open spell as the lifecycle decided (its duration stored, so analytics do no date maths)."""
    spell = StageSpell.objects.filter(deal=deal, exited_at__isnull=True).order_by("-entered_at").first()
    if spell is None:
        return
    spell.exited_at = edge.exited_at
    spell.exited_on = edge.exited_on
    spell.exit_kind = edge.exit_kind
    spell.next_stage_id = edge.next_stage_id
    spell.duration_days = edge.duration_days
    spell.save(update_fields=["exited_at", "exited_on", "exit_kind", "next_stage", "duration_days"])
    derived_stay_close(spell=spell)


def deal_save_versioned(*, deal: Deal, fields: list[str], expected_version: int | None = None) -> None:
    """Save ``fields`` only if nobody changed the deal since it was read (optimistic concurrency).

    The UPDATE carries ``WHERE version = <read version>``; on PostgreSQL the row lock it takes makes a
    concurrent writer wait, then match zero rows, so exactly one of two racing writers succeeds.
    """
    version = deal.version if expected_version is None else expected_version
    values = {name: getattr(deal, name) for name in fields}
    values["version"] = version + 1
    values["updated_at"] = clock.now()
    updated = Deal.all_objects.filter(pk=deal.pk, version=version).update(**values)
    if updated != 1:
        current = Deal.all_objects.filter(pk=deal.pk).values_list("version", flat=True).first()
        raise ConflictError(
            "This deal was changed by someone else since you opened it. Reload it and apply your change again.",
            field="version",
            extra={"current_version": current, "your_version": version},
        )
    deal.version = version + 1
    deal.updated_at = values["updated_at"]
    if deal.deleted_at is None:  # a deal in the trash is out of the derived tables (services/trash.py)
        derived_deal_sync(deal=deal, fields=fields)
    history_changed(deal_ids=[deal.pk], fields=fields)


# --- Applying a lifecycle change to one deal --------------------------------------------------------


def lifecycle_context() -> lifecycle.Context:
    """The site's calendar and the stored rates, for the lifecycle rules of one deal."""
    return lifecycle.Context(
        local_date=local_date,
        to_base_minor=lambda amount_minor, currency, day: convert_minor_to_base(
            amount_minor=amount_minor, currency=currency, day=day
        ),
    )


def stage_info(stage: Stage) -> lifecycle.StageInfo:
    return lifecycle.StageInfo(
        stage.pk, stage.pipeline_id, stage.name, stage.kind, stage.order, stage.is_active
    )


def owner_info(user: User | None, *, team_id: int | None) -> lifecycle.OwnerInfo | None:
    if not isinstance(user, User):
        return None
    return lifecycle.OwnerInfo(user.pk, team_id, user.is_active)


def deal_state(deal: Deal, *, has_lines: bool = False) -> lifecycle.DealState:
    """The deal as the lifecycle rules read it."""
    return lifecycle.DealState(
        pipeline_id=deal.pipeline_id,
        stage=stage_info(deal.stage),
        status=deal.status,
        title=deal.title,
        owner_id=deal.owner_id,
        team_id=deal.team_id,
        amount_minor=deal.amount_minor,
        currency=deal.currency,
        expected_close_on=deal.expected_close_on,
        probability_override=deal.probability_override,
        forecast_category_override=deal.forecast_category_override,
        organization_id=deal.organization_id,
        person_id=deal.person_id,
        source_id=deal.source_id,
        next_step=deal.next_step,
        next_step_on=deal.next_step_on,
        lost_reason_id=deal.lost_reason_id,
        lost_note=deal.lost_note,
        created_on=deal.created_on,
        lead_created_at=deal.lead_created_at,
        stage_entered_at=deal.stage_entered_at,
        last_activity_at=deal.last_activity_at or deal.stage_entered_at,
        won_at=deal.won_at,
        lost_at=deal.lost_at,
        closed_on=deal.closed_on,
        cycle_days=deal.cycle_days,
        lead_cycle_days=deal.lead_cycle_days,
        amount_base_minor=deal.amount_base_minor,
        version=deal.version,
        has_lines=has_lines,
        deleted_at=deal.deleted_at,
        deleted_by_id=deal.deleted_by_id,
    )


# The columns a deal's search document is made of (deals/services/search.py).
SEARCHED_FIELDS = {"title", "organization_id", "person_id", "owner_id"}


def change_set_fields(*, deal: Deal, change: lifecycle.Change, stage: Stage | None = None) -> None:
    """Copy the columns a lifecycle change changed onto the deal in memory (not saved)."""
    state = change.state
    for name in change.fields:
        if name == "stage_id":
            if stage is not None and stage.pk == state.stage.pk:
                deal.stage = stage
            else:
                deal.stage_id = state.stage.pk
        else:
            setattr(deal, name, getattr(state, name))


def change_apply(
    *,
    deal: Deal,
    change: lifecycle.Change,
    expected_version: int | None = None,
    stage: Stage | None = None,
) -> Deal:
    """Write one lifecycle change of a saved deal: its columns (optimistic concurrency), spells, events, task.

    ``stage`` is the Stage row of ``change.state.stage`` when the caller holds it (saves a query later).
    A change that changes nothing still refuses a stale ``expected_version``.
    """
    if change.is_empty:
        if expected_version is not None and expected_version != deal.version:
            raise ConflictError(
                "This deal was changed by someone else since you opened it. Reload it and apply your change again.",
                field="version",
                extra={"current_version": deal.version, "your_version": expected_version},
            )
        return deal
    change_set_fields(deal=deal, change=change, stage=stage)
    if change.fields:
        deal_save_versioned(deal=deal, fields=list(change.fields), expected_version=expected_version)
    if change.spell_close is not None:
        spell_close(deal=deal, edge=change.spell_close)
    for event in change.events:
        event_write(deal=deal, event=event)
    if change.spell_open is not None:
        spell_open(deal=deal, stage=stage or deal.stage, at=change.spell_open.entered_at)
    if deal.deleted_at is None and (  # a deal in the trash stays out of the search (services/trash.py)
        any(event.kind == EventKind.CREATED for event in change.events)
        or SEARCHED_FIELDS & set(change.fields)
    ):
        deal_search_index(deal)
    follow_up = change.follow_up
    if follow_up is not None:
        activity = Activity.objects.create(
            kind=ActivityKind.TASK,
            subject=follow_up.subject,
            notes=follow_up.notes,
            due_at=follow_up.due_at,
            owner_id=follow_up.owner_id,
            deal=deal,
            person_id=follow_up.person_id,
            origin="post_sale",
            created_at=follow_up.at,
        )
        activity_search_index(activity)
    return deal
