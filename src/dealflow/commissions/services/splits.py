"""Deal splits: several people credited on one deal, shares adding to 100 %, with their history kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction

from dealflow.accounts.models import User
from dealflow.accounts.services import audit_record
from dealflow.commissions.models import DealSplit
from dealflow.commissions.services.credits import credits_sync
from dealflow.commissions.services.plans import decimal_of
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Deal


@transaction.atomic
def deal_split_set(
    *,
    deal: Deal,
    shares: Sequence[tuple[User, Any]],
    by: User | None,
    at: dt.datetime | None = None,
    note: str = "",
) -> list[DealSplit]:
    """Replace the deal's current split from ``at`` on; an empty list goes back to crediting the owner.

    The previous rows are closed (``valid_to``), never changed otherwise, so credit for a deal won earlier
    still reads the split that was valid then."""
    moment = at or clock.now()
    parsed: list[tuple[User, Decimal]] = []
    for index, (person, share) in enumerate(shares):
        parsed.append(
            (person, decimal_of(share, field=f"shares[{index}].share_percent", maximum=Decimal(100)))
        )
    if parsed:
        if any(share <= 0 for _person, share in parsed):
            raise ApplicationError("Every share must be above 0 %.", field="shares")
        if len({person.pk for person, _share in parsed}) != len(parsed):
            raise ApplicationError("Each person may appear once in a split.", field="shares")
        total = sum((share for _person, share in parsed), Decimal(0))
        if total != 100:
            raise ApplicationError(f"Shares must add up to 100 %, not {total} %.", field="shares")
    current = DealSplit.objects.select_for_update().filter(deal=deal, valid_to__isnull=True)
    if current.filter(valid_from__gt=moment).exists():
        raise ApplicationError("A later split exists; a split cannot be backdated before it.", field="at")
    current.update(valid_to=moment)
    created = [
        DealSplit.objects.create(
            deal=deal, user=person, share_percent=share, valid_from=moment, set_by=by, note=note[:300]
        )
        for person, share in parsed
    ]
    credits_sync(deal_ids=[deal.pk])  # the kept credits read the split valid at each win
    audit_record(
        actor=by,
        action="commissions.split_set",
        target=f"deal {deal.pk}",
        detail={"shares": {str(person.pk): str(share) for person, share in parsed}, "at": moment.isoformat()},
    )
    return created
