"""The period's waterfall: from the start of the period's pipeline to where it stands now, by bucket."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


# ------------------------------------------------------------------------------------------ waterfall
@dataclass(frozen=True)
class WaterfallDeal:
    """A deal as one side of the comparison saw it: open (in scope) or, after the last review, closed."""

    deal_id: int
    title: str
    amount_minor: int
    expected_close_on: dt.date | None
    status: str = "open"  # open, won, lost; "gone" when it left the review's scope
    closed_on: dt.date | None = None


WATERFALL_BUCKETS = (
    "start",
    "new",
    "pulled_in",
    "pushed_out",
    "increased",
    "decreased",
    "won",
    "lost",
    "end",
)


WATERFALL_SHOWN = 50  # deals a bar lists on the page and in the report; every one is in the bar's CSV


@dataclass(frozen=True)
class BarItems:
    """What a page shows of one bar's deals: the largest ``shown`` by amount, and what is left out."""

    shown: list[dict[str, Any]]
    count: int
    rest_count: int
    rest_amount_minor: int


def bar_items(items: list[dict[str, Any]], *, limit: int | None = None) -> BarItems:
    """The ``limit`` deals of a bar that moved it most (largest amount first, then title, then id), and
    how many deals and how much the rest add up to, so that nothing is cut without saying so."""
    limit = WATERFALL_SHOWN if limit is None else limit
    ordered = sorted(items, key=lambda item: (-abs(item["amount_minor"]), item["title"], item["deal_id"]))
    shown, rest = ordered[:limit], ordered[limit:]
    return BarItems(shown, len(items), len(rest), sum(item["amount_minor"] for item in rest))


@dataclass
class Waterfall:
    totals: dict[str, int]
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"totals": self.totals, "items": self.items}

    @property
    def adds_up(self) -> bool:
        t = self.totals
        return (
            t["start"]
            + t["new"]
            + t["pulled_in"]
            - t["pushed_out"]
            + t["increased"]
            - t["decreased"]
            - t["won"]
            - t["lost"]
            == t["end"]
        )


def _dated_in(close_on: dt.date | None, start: dt.date, end: dt.date) -> bool:
    return close_on is not None and start <= close_on < end


def waterfall(
    *,
    previous: dict[int, WaterfallDeal],
    current: dict[int, WaterfallDeal],
    since: dict[int, WaterfallDeal],
    period_start: dt.date,
    period_end: dt.date,
) -> Waterfall:
    """What changed in the period's pipeline between the last review and this one.

    ``previous``: the open deals of the last review's snapshot; ``current``: this snapshot's open deals;
    ``since``: for every other deal that matters, its state now (won, lost, open elsewhere or gone).
    The period's pipeline is the open deals dated inside the period (start <= close date < end).

    - start: the pipeline at the last review, at its amounts then (a0);
    - new: deals that were not open in scope at the last review (created, reopened, moved into scope)
      and are in the pipeline now or were won inside the period since, at their amount now (a1);
    - pulled in: deals open at the last review but dated outside the period, now in it (or won inside
      it), at their amount then (a0);
    - pushed out: deals of the start that are still open but dated outside the period now, or left the
      scope, at their amount now (a1);
    - increased / decreased: a1 - a0 of every deal counted in start or pulled in;
    - won / lost: deals of the start (or pulled in or new) closed since, at their amount now (a1);
    - end: the pipeline now, at its amounts now.

    Per deal the contributions cancel exactly, so start + new + pulled in - pushed out + increased
    - decreased - won - lost = end holds in integers.
    """
    totals = dict.fromkeys(WATERFALL_BUCKETS, 0)
    items: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def add(bucket: str, deal: WaterfallDeal, amount: int, **extra: Any) -> None:
        totals[bucket] += amount
        items[bucket].append({"deal_id": deal.deal_id, "title": deal.title, "amount_minor": amount, **extra})

    def change(before: WaterfallDeal, after: WaterfallDeal) -> None:
        delta = after.amount_minor - before.amount_minor
        if delta > 0:
            add("increased", after, delta, from_minor=before.amount_minor, to_minor=after.amount_minor)
        elif delta < 0:
            add("decreased", after, -delta, from_minor=before.amount_minor, to_minor=after.amount_minor)

    def dates(before: WaterfallDeal | None, after: WaterfallDeal) -> dict[str, str | None]:
        return {
            "from_close_on": before.expected_close_on.isoformat()
            if before and before.expected_close_on
            else None,
            "to_close_on": after.expected_close_on.isoformat() if after.expected_close_on else None,
        }

    def now_of(deal_id: int) -> WaterfallDeal | None:
        return current.get(deal_id) or since.get(deal_id)

    def counts_now(deal: WaterfallDeal) -> str | None:
        """Where a deal stands now with respect to the period: in it, won/lost out of it, or elsewhere."""
        if deal.status == "open" and deal.deal_id in current:
            return "in" if _dated_in(deal.expected_close_on, period_start, period_end) else "outside"
        if deal.status == "won":
            return "won"
        if deal.status == "lost":
            return "lost"
        return "gone"

    start_ids = {
        deal_id
        for deal_id, deal in previous.items()
        if _dated_in(deal.expected_close_on, period_start, period_end)
    }
    for deal_id in sorted(start_ids):
        before = previous[deal_id]
        add("start", before, before.amount_minor, **dates(None, before))
        after = now_of(deal_id) or WaterfallDeal(
            deal_id, before.title, before.amount_minor, before.expected_close_on, status="gone"
        )
        state = counts_now(after)
        change(before, after)
        if state == "in":
            continue
        if state == "won":
            add("won", after, after.amount_minor)
        elif state == "lost":
            add("lost", after, after.amount_minor)
        else:  # still open but dated outside the period, or no longer in scope
            add("pushed_out", after, after.amount_minor, left_scope=state == "gone", **dates(before, after))

    entering = {
        deal_id
        for deal_id, deal in current.items()
        if _dated_in(deal.expected_close_on, period_start, period_end)
    }
    entering |= {
        deal_id
        for deal_id, deal in since.items()
        if deal.status == "won" and _dated_in(deal.closed_on, period_start, period_end)
    }
    for deal_id in sorted(entering - start_ids):
        entered = now_of(deal_id)
        assert entered is not None
        earlier = previous.get(deal_id)
        if earlier is None:
            add("new", entered, entered.amount_minor, **dates(None, entered))
        else:
            add("pulled_in", earlier, earlier.amount_minor, **dates(earlier, entered))
            change(earlier, entered)
        if entered.status == "won":
            add("won", entered, entered.amount_minor)

    for deal_id in sorted(current):
        deal = current[deal_id]
        if _dated_in(deal.expected_close_on, period_start, period_end):
            totals["end"] += deal.amount_minor
            items["end"].append({"deal_id": deal_id, "title": deal.title, "amount_minor": deal.amount_minor})
    return Waterfall(totals=totals, items=dict(items))
