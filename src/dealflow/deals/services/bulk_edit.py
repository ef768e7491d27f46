"""Bulk edit of ticked deals (deal list, API): all or nothing, in one transaction.

Decision (docs/architecture.md, "Bulk edit"): a bulk edit changes every deal or none. Each deal goes
through the same service as the deal page (``deal_update``, ``deal_move_to_stage``, ``deal_tags_set``)
inside one transaction; when any deal is refused, every deal is still tried (each in a savepoint) so
the user sees the whole list of refusals, and then the transaction rolls back: nothing changed. A
process killed half-way leaves nothing changed either (the transaction never committed;
tests/faults/test_bulk_edit_kill.py). A value a deal already has is no change (no version bump).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from dealflow.accounts.models import User
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Deal, Stage
from dealflow.deals.selectors import deal_check_can_edit
from dealflow.deals.services.contents import deal_tags_add_bulk
from dealflow.deals.services.deals import deal_move_to_stage, deal_update

BULK_ACTIONS = ("owner", "stage", "close_date", "tag")


@dataclass(frozen=True)
class BulkRefusal:
    deal_id: int
    title: str
    message: str


class BulkEditRefusedError(ApplicationError):
    """Some deals refused the bulk edit; nothing was changed. ``refusals`` says which and why."""

    def __init__(self, refusals: list[BulkRefusal], *, total: int) -> None:
        self.refusals = refusals
        super().__init__(
            f"Nothing was changed: {len(refusals)} of {total} deals refused the bulk edit.",
            field="deal_ids",
            extra={
                "refusals": [
                    {"deal_id": refusal.deal_id, "title": refusal.title, "detail": refusal.message}
                    for refusal in refusals
                ]
            },
        )


@transaction.atomic
def deal_bulk_edit(
    *,
    deals: Sequence[Deal],
    missing_ids: Sequence[int] = (),
    user: User,
    action: str,
    owner: User | None = None,
    stage: Stage | None = None,
    expected_close_on: dt.date | None = None,
    tags: Any = None,
    versions: Mapping[int, int] | None = None,
    origin: str = "",
) -> int:
    """Apply one action to every deal, all or nothing; returns how many deals changed.

    ``missing_ids`` are ids the caller asked for that the user may not see: they refuse the edit too.
    Raises BulkEditRefusedError (listing every refusal) when any deal refuses.
    """
    if action not in BULK_ACTIONS:
        raise ApplicationError("Action must be owner, stage, close_date or tag.", field="action")
    needed = {"owner": owner, "stage": stage, "tag": tags}.get(action, True)
    if needed is None or needed == "":
        raise ApplicationError("Pick a value for this action.", field={"tag": "tags"}.get(action, action))
    versions = versions or {}
    refusals = [BulkRefusal(deal_id, "", "No such deal.") for deal_id in missing_ids]
    changed = 0
    for deal in deals:
        try:
            with transaction.atomic():
                changed += _edit_one(
                    deal=deal,
                    user=user,
                    action=action,
                    owner=owner,
                    stage=stage,
                    expected_close_on=expected_close_on,
                    tags=tags,
                    version=versions.get(deal.pk),
                    origin=origin,
                )
        except ApplicationError as error:
            refusals.append(BulkRefusal(deal.pk, deal.title, error.message))
    if refusals:
        raise BulkEditRefusedError(refusals, total=len(deals) + len(missing_ids))
    return changed


def _edit_one(
    *,
    deal: Deal,
    user: User,
    action: str,
    owner: User | None,
    stage: Stage | None,
    expected_close_on: dt.date | None,
    tags: Any,
    version: int | None,
    origin: str,
) -> bool:
    """One deal through the deal page's service; whether it changed."""
    deal_check_can_edit(deal=deal, user=user)
    before = deal.version
    if action == "owner":
        deal_update(deal=deal, by=user, data={"owner": owner}, expected_version=version, origin=origin)
    elif action == "stage":
        assert stage is not None
        if stage.pk != deal.stage_id:
            deal_move_to_stage(deal=deal, stage=stage, by=user, expected_version=version, origin=origin)
    elif action == "close_date":
        deal_update(
            deal=deal,
            by=user,
            data={"expected_close_on": expected_close_on},
            expected_version=version,
            origin=origin,
        )
    else:
        return deal_tags_add_bulk(deals=[deal], tags=tags, by=user, origin=origin) > 0
    return deal.version != before
