"""Derived analytics tables kept in step with the deals, events and spells (docs/decisions/0002).

Three tables serve the metrics (dealflow.metrics) so that a dashboard at a million deals reads narrow,
covering indexes instead of joining deals to their history per request:

- ``DealFact``: one row per deal with the columns metrics filter and sum on, its furthest stage and how
  often its expected close date was pushed later;
- ``StayFact``: one row per stage spell with the deal's *current* owner, team, source and status, how the
  deal entered the stage (created / forward / back / reopened) and the stay's length in calendar days;
- ``DealMonthlyTotals``: additive monthly totals per pipeline, owner, team and source (the trends);
- ``DealGroupTotals``: counts of DealFact and StayFact rows per group a dashboard shows (cohorts by
  furthest stage, stays by length, exits, entries, open stays and open deals), per owner and for every
  owner together, so a page's cost follows the number of groups it shows, not the number of deals;
- ``LeadMonthlyTotals``: leads outside the trash per month, owner, team and source (the lead counts).

The services keep them in step inside their own transaction through the hooks below, which
``deals.services.history`` calls; the rules they apply (what a deal or a stay counts where) live in
``derived_cells``. Bulk loaders (the demo generator, big imports) write deals, events and spells directly
and then call ``derived_rebuild()`` (``derived_rebuild.py``), which recomputes all of them in SQL with the
same rules; a test checks that both paths give identical rows.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest

from dealflow.deals.models import Deal, DealFact, Lead, SpellExit, Stage, StageSpell, StayFact
from dealflow.deals.services.derived_cells import (
    FACT_FIELDS,
    FACT_GROUP_FIELDS,
    LEAD_FIELDS,
    SAVED_NAMES,
    STAY_FIELDS,
    STAY_GROUP_FIELDS,
    fact_group_cells,
    groups_apply,
    lead_cell,
    leads_apply,
    monthly_cells,
    stay_group_cells,
    totals_add,
    totals_apply,
)

# derived_rebuild() lived here; callers outside deals (the importers' tests) still import it from here.
from dealflow.deals.services.derived_rebuild import derived_groups_rebuild as derived_groups_rebuild
from dealflow.deals.services.derived_rebuild import derived_rebuild as derived_rebuild


def _fact_values(deal: Deal) -> dict[str, Any]:
    return {name: getattr(deal, name) for name in FACT_FIELDS}


def derived_groups_deal(*, deal_id: int, sign: int) -> None:
    """Add (``sign`` 1) or take out (-1) what one deal's DealFact and StayFact rows count in
    DealGroupTotals: for code that inserts or deletes a deal's facts wholesale (the trash) - call it
    after inserting them, or before deleting them."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for fact in DealFact.objects.filter(deal_id=deal_id).values(*FACT_GROUP_FIELDS):
        fact_group_cells(groups, fact, sign)
    for stay in StayFact.objects.filter(deal_id=deal_id).values(*STAY_GROUP_FIELDS):
        stay_group_cells(groups, stay, sign)
    groups_apply(groups, using=DealFact.objects.db)


def lead_cell_of(lead: Lead) -> tuple[Any, ...] | None:
    """The LeadMonthlyTotals cell ``lead`` counts in as it stands, None for a lead in the trash."""
    if lead.deleted_at is not None:
        return None
    return lead_cell(
        created_on=lead.created_on, owner_id=lead.owner_id, team_id=lead.team_id, source_id=lead.source_id
    )


def derived_lead_sync(*, before: tuple[Any, ...] | None, lead: Lead) -> None:
    """Move one lead's count in LeadMonthlyTotals from the cell ``before`` (``lead_cell_of`` taken before
    the write; None when it was not counted: new, or in the trash) to the cell it counts in now. Called
    by the lead services after each write of a lead's creation day, owner, team, source or trash state,
    in the same transaction; no query when the cell did not change."""
    after = lead_cell_of(lead)
    if before == after:
        return
    counts: dict[tuple[Any, ...], int] = defaultdict(int)
    if before is not None:
        counts[before] -= 1
    if after is not None:
        counts[after] += 1
    leads_apply(counts, using=Lead.objects.db)


def _lead_values(deal: Deal) -> dict[str, Any]:
    if not deal.lead_id:
        return dict.fromkeys(LEAD_FIELDS)

    lead = (
        Lead.objects.filter(pk=deal.lead_id).values("created_on", "owner_id", "team_id", "source_id").first()
    )
    if lead is None:
        return dict.fromkeys(LEAD_FIELDS)
    return {
        "lead_created_on": lead["created_on"],
        "lead_owner_id": lead["owner_id"],
        "lead_team_id": lead["team_id"],
        "lead_source_id": lead["source_id"],
    }


def derived_deal_sync(*, deal: Deal, fields: list[str] | None = None) -> None:
    """Bring the deal's DealFact, its StayFacts' deal columns and the monthly totals in step with ``deal``.

    Called after every write of the deal row, in the same transaction (which holds the deal's row lock,
    so two writers of one deal update its facts one after the other). ``fields`` names what was saved;
    a save that touches no mirrored field costs nothing.
    """
    if fields is not None and not SAVED_NAMES.intersection(fields):
        return
    new = _fact_values(deal)
    old = (
        DealFact.objects.filter(deal_id=deal.pk)
        .values(*FACT_FIELDS, *LEAD_FIELDS, "furthest_stage_id")
        .first()
    )
    delta: dict[tuple[Any, ...], Counter[Any]] = defaultdict(Counter[Any])
    groups: dict[tuple[Any, ...], list[int]] = {}
    if old is None:
        lead = _lead_values(deal)
        DealFact.objects.create(deal_id=deal.pk, furthest_stage_id=deal.stage_id, **new, **lead)
        totals_add(cells=monthly_cells({**new, **lead}), sign=1, into=delta)
        fact_group_cells(groups, {**new, "furthest_stage_id": deal.stage_id}, 1)
    else:
        changed = {name: value for name, value in new.items() if old[name] != value}
        if not changed:
            return
        DealFact.objects.filter(deal_id=deal.pk).update(**changed)
        lead = {name: old[name] for name in LEAD_FIELDS}
        totals_add(cells=monthly_cells(old), sign=-1, into=delta)
        totals_add(cells=monthly_cells({**new, **lead}), sign=1, into=delta)
        fact_group_cells(groups, old, -1)
        fact_group_cells(groups, {**old, **changed}, 1)
        if any(name in changed for name in STAY_FIELDS):
            stays = StayFact.objects.filter(deal_id=deal.pk)
            if "owner_id" in changed or "status" in changed:
                for stay in stays.values(*STAY_GROUP_FIELDS):
                    stay_group_cells(groups, stay, -1)
                    stay_group_cells(
                        groups, {**stay, "owner_id": deal.owner_id, "deal_status": deal.status}, 1
                    )
            stays.update(
                owner_id=deal.owner_id,
                team_id=deal.team_id,
                source_id=deal.source_id,
                deal_status=deal.status,
            )
    totals_apply(delta, using=DealFact.objects.db)
    groups_apply(groups, using=DealFact.objects.db)


def _entry_kind(previous_exit: str | None) -> str:
    if not previous_exit:
        return "created"
    if previous_exit in (SpellExit.WON, SpellExit.LOST):
        return "reopened"
    return previous_exit  # forward or back


def derived_stay_open(*, spell: StageSpell, deal: Deal, stage: Stage) -> None:
    """Record a new stay and move the deal's furthest stage on when this stage lies beyond it."""
    previous_exit = (
        StageSpell.objects.filter(deal_id=deal.pk)
        .exclude(pk=spell.pk)
        .order_by("-entered_at", "-id")
        .values_list("exit_kind", flat=True)
        .first()
    )
    stay = StayFact.objects.create(
        spell_id=spell.pk,
        deal_id=deal.pk,
        pipeline_id=spell.pipeline_id,
        stage_id=stage.pk,
        owner_id=deal.owner_id,
        team_id=deal.team_id,
        source_id=deal.source_id,
        deal_status=deal.status,
        entry_kind=_entry_kind(previous_exit),
        entered_on=spell.entered_on,
    )
    groups: dict[tuple[Any, ...], list[int]] = {}
    stay_group_cells(groups, {name: getattr(stay, name) for name in STAY_GROUP_FIELDS}, 1)
    fact = (
        DealFact.objects.filter(deal_id=deal.pk)
        .filter(
            Q(furthest_stage__order__lt=stage.order)
            | Q(furthest_stage__order=stage.order, furthest_stage_id__lt=stage.pk)
        )
        .values(*FACT_GROUP_FIELDS)
        .first()
    )
    if fact is not None:  # the stage lies beyond the furthest one: the deal's cohort group moves
        DealFact.objects.filter(deal_id=deal.pk).update(furthest_stage_id=stage.pk)
        fact_group_cells(groups, fact, -1)
        fact_group_cells(groups, {**fact, "furthest_stage_id": stage.pk}, 1)
    groups_apply(groups, using=StayFact.objects.db)


def derived_stay_close(*, spell: StageSpell) -> None:
    """Store how and when a stay ended, and its length in calendar days."""
    assert spell.exited_on is not None
    stays = StayFact.objects.filter(spell_id=spell.pk)
    old = stays.values(*STAY_GROUP_FIELDS).first()
    closed = {
        "exited_on": spell.exited_on,
        "days": (spell.exited_on - spell.entered_on).days,
        "exit_kind": spell.exit_kind,
        "next_stage_id": spell.next_stage_id,
    }
    stays.update(**closed)
    if old is not None:
        groups: dict[tuple[Any, ...], list[int]] = {}
        stay_group_cells(groups, old, -1)
        stay_group_cells(groups, {**old, **closed}, 1)
        groups_apply(groups, using=StayFact.objects.db)


def is_close_date_push(from_value: str, to_value: str) -> bool:
    """A push moves an expected close date later (ISO dates compare as text, as in derived_rebuild())."""
    return bool(from_value) and bool(to_value) and to_value > from_value


def derived_close_date_changed(*, deal: Deal, from_value: str, to_value: str, at: dt.datetime) -> None:
    """Count a pushed expected close date on the deal's facts (slipped deals)."""
    if not is_close_date_push(from_value, to_value):
        return
    DealFact.objects.filter(deal_id=deal.pk).update(
        close_date_pushes=F("close_date_pushes") + 1,
        last_pushed_at=Greatest(Coalesce("last_pushed_at", at), at),
    )


# ------------------------------------------------------------------------------ the trash (soft delete)
# A deal in the trash is not in the derived tables at all: derived_rebuild() reads live deals only, and
# these two keep a single deal in step when it goes to the trash or comes back, with the same rules as
# the incremental hooks above (monthly_cells, _entry_kind, is_close_date_push) so that a restored deal's
# rows equal what a rebuild computes (deals/tests/test_trash.py compares them).


def derived_remove_deal(*, deal_id: int) -> None:
    """Take a deal out of DealFact, StayFact and the monthly totals (it went to the trash)."""
    old = DealFact.objects.filter(deal_id=deal_id).values(*FACT_FIELDS, *LEAD_FIELDS).first()
    if old is None:
        return
    delta: dict[tuple[Any, ...], Counter[Any]] = defaultdict(Counter[Any])
    totals_add(cells=monthly_cells(old), sign=-1, into=delta)
    totals_apply(delta, using=DealFact.objects.db)
    derived_groups_deal(deal_id=deal_id, sign=-1)
    StayFact.objects.filter(deal_id=deal_id).delete()
    DealFact.objects.filter(deal_id=deal_id).delete()


def derived_restore_deal(*, deal: Deal) -> None:
    """Put a deal back into the derived tables from its row, spells and events (it left the trash)."""
    from dealflow.deals.models import DealEvent, EventKind

    if DealFact.objects.filter(deal_id=deal.pk).exists():
        return
    spells = list(
        StageSpell.objects.filter(deal_id=deal.pk).select_related("stage").order_by("entered_at", "id")
    )
    furthest = max(spells, key=lambda spell: (spell.stage.order, spell.stage_id), default=None)
    pushes = [
        occurred_at
        for from_value, to_value, occurred_at in DealEvent.objects.filter(
            deal_id=deal.pk, kind=EventKind.CLOSE_DATE_CHANGED
        ).values_list("from_value", "to_value", "occurred_at")
        if is_close_date_push(from_value, to_value)
    ]
    new = _fact_values(deal)
    lead = _lead_values(deal)
    DealFact.objects.create(
        deal_id=deal.pk,
        furthest_stage_id=furthest.stage_id if furthest is not None else deal.stage_id,
        close_date_pushes=len(pushes),
        last_pushed_at=max(pushes, default=None),
        **new,
        **lead,
    )
    previous_exit: str | None = None
    stays = []
    for spell in spells:
        stays.append(
            StayFact(
                spell_id=spell.pk,
                deal_id=deal.pk,
                pipeline_id=spell.pipeline_id,
                stage_id=spell.stage_id,
                next_stage_id=spell.next_stage_id,
                owner_id=deal.owner_id,
                team_id=deal.team_id,
                source_id=deal.source_id,
                deal_status=deal.status,
                entry_kind=_entry_kind(previous_exit),
                entered_on=spell.entered_on,
                exited_on=spell.exited_on,
                days=(spell.exited_on - spell.entered_on).days if spell.exited_on is not None else None,
                exit_kind=spell.exit_kind,
            )
        )
        previous_exit = spell.exit_kind
    StayFact.objects.bulk_create(stays)
    derived_groups_deal(deal_id=deal.pk, sign=1)
    delta: dict[tuple[Any, ...], Counter[Any]] = defaultdict(Counter[Any])
    totals_add(cells=monthly_cells({**new, **lead}), sign=1, into=delta)
    totals_apply(delta, using=DealFact.objects.db)
