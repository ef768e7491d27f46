"""Pure helpers of the notifications app (no ORM): reading @mentions and moving a watch cursor."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

# A username after "@", not inside an e-mail address (no word character or dot right before the "@").
_MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9_][A-Za-z0-9_.+-]*)")


def mentioned_usernames(text: str) -> list[str]:
    """The usernames ``text`` mentions as ``@name``, in order, each once (a trailing full stop dropped)."""
    seen: dict[str, None] = {}
    for match in _MENTION.finditer(text or ""):
        name = match.group(1).rstrip(".-+")
        if name:
            seen.setdefault(name.lower(), None)
    return list(seen)


@dataclass(frozen=True)
class CursorState:
    """Every id up to ``high`` was read except ``missing`` (id -> when first missed, ISO text)."""

    high: int
    missing: dict[int, str]

    @property
    def position(self) -> int:
        """Every id up to here was read or given up."""
        return min(self.missing) - 1 if self.missing else self.high


def cursor_advance(
    *, state: CursorState, read_ids: Iterable[int], now: dt.datetime, gap_wait: dt.timedelta
) -> CursorState:
    """Record the ids just read; ids skipped below the highest read are missing until ``gap_wait`` passes.

    Ids are handed out before commit, so a transaction that commits late leaves a lower id behind one
    already read. Such an id stays "missing" (read again next time) for ``gap_wait`` from when it was first
    missed, then is given up (its transaction rolled back, or the row was deleted).
    """
    read = set(read_ids)
    high = max([state.high, *read])
    stamp = now.isoformat()
    missing = {key: value for key, value in state.missing.items() if key not in read}
    for value in range(state.high + 1, high + 1):
        if value not in read:
            missing[value] = stamp
    limit = (now - gap_wait).isoformat()
    missing = {key: value for key, value in missing.items() if value > limit}
    return CursorState(high, missing)
