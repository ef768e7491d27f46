"""The event log and the stage spells, always written together with the change they describe."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from dealflow.accounts.models import User
from dealflow.core import clock
from dealflow.core.errors import ConflictError
from dealflow.deals.models import Deal, DealEvent, EventKind, SpellExit, Stage, StageSpell
from dealflow.deals.services.derived import (
    derived_close_date_changed,
    derived_deal_sync,
    derived_stay_close,
    derived_stay_open,
)


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
    recorded_at = clock.now()
    event = DealEvent.objects.create(
        deal=deal,
        kind=kind,
        field=field,
        from_value="" if from_value is None else str(from_value)[:200],
        to_value="" if to_value is None else str(to_value)[:200],
        from_stage=from_stage,
        to_stage=to_stage,
        amount_minor=deal.amount_minor,
        currency=deal.currency,
        actor=by,
        origin=origin[:40],
        note=note[:300],
        occurred_at=at or recorded_at,
        recorded_at=recorded_at,
    )
    # Derived analytics tables follow in the same transaction (services/derived.py).
    if kind == EventKind.CREATED:
        derived_deal_sync(deal=deal)
    elif kind == EventKind.CLOSE_DATE_CHANGED:
        derived_close_date_changed(
            deal=deal, from_value=event.from_value, to_value=event.to_value, at=event.occurred_at
        )
    return event


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


def spell_close(*, deal: Deal, at: dt.datetime, exit_kind: str, next_stage: Stage | None = None) -> None:
    """Close the deal's open spell, storing its duration so analytics never do date arithmetic."""
    spell = StageSpell.objects.filter(deal=deal, exited_at__isnull=True).order_by("-entered_at").first()
    if spell is None:
        return
    exited_at = max(at, spell.entered_at)
    spell.exited_at = exited_at
    spell.exited_on = local_date(exited_at)
    spell.exit_kind = exit_kind
    spell.next_stage = next_stage
    spell.duration_days = (exited_at - spell.entered_at).total_seconds() / 86400
    spell.save(update_fields=["exited_at", "exited_on", "exit_kind", "next_stage", "duration_days"])
    derived_stay_close(spell=spell)


def spell_exit_kind(*, from_stage: Stage, to_stage: Stage) -> str:
    if to_stage.kind == "won":
        return SpellExit.WON
    if to_stage.kind == "lost":
        return SpellExit.LOST
    return SpellExit.FORWARD if to_stage.order > from_stage.order else SpellExit.BACK


def deal_save_versioned(*, deal: Deal, fields: list[str], expected_version: int | None = None) -> None:
    """Save ``fields`` only if nobody changed the deal since it was read (optimistic concurrency).

    The UPDATE carries ``WHERE version = <read version>``; on PostgreSQL the row lock it takes makes a
    concurrent writer wait, then match zero rows, so exactly one of two racing writers succeeds.
    """
    version = deal.version if expected_version is None else expected_version
    values = {name: getattr(deal, name) for name in fields}
    values["version"] = version + 1
    values["updated_at"] = clock.now()
    updated = Deal.objects.filter(pk=deal.pk, version=version).update(**values)
    if updated != 1:
        current = Deal.objects.filter(pk=deal.pk).values_list("version", flat=True).first()
        raise ConflictError(
            "This deal was changed by someone else since you opened it. Reload it and apply your change again.",
            field="version",
            extra={"current_version": current, "your_version": version},
        )
    deal.version = version + 1
    deal.updated_at = values["updated_at"]
    derived_deal_sync(deal=deal, fields=fields)
