"""Callbacks for apps above deals that keep their own tables in step with the deal history.

The deals app may not import the apps that read it (import-linter), so an app like commissions registers
here, from its ``AppConfig.ready()``, what it wants to hear about: event kinds written (``event_write``,
the batch writer), deal columns changed (``deal_save_versioned``), deals written by the bulk writer, and
exchange rates set or removed. The writers call ``history_changed`` / ``rates_changed`` inside their own
transaction, so a listener's rows commit or roll back with the change that moved them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

HistoryCallback = Callable[[list[int]], None]
RatesCallback = Callable[[str, dt.date], None]


@dataclass(frozen=True)
class _HistoryListener:
    callback: HistoryCallback
    kinds: frozenset[str]
    fields: frozenset[str]


_history: list[_HistoryListener] = []
_rates: list[RatesCallback] = []


def history_listen(*, callback: HistoryCallback, kinds: Iterable[str], fields: Iterable[str]) -> None:
    """Call ``callback(deal_ids)`` when an event of ``kinds`` is written for those deals, one of their
    ``fields`` changes, or the bulk writer writes them (everything changed). Registering twice is a no-op."""
    listener = _HistoryListener(callback, frozenset(kinds), frozenset(fields))
    if listener not in _history:
        _history.append(listener)


def rates_listen(*, callback: RatesCallback) -> None:
    """Call ``callback(currency, valid_from)`` when a rate of ``currency`` from ``valid_from`` is set or removed."""
    if callback not in _rates:
        _rates.append(callback)


def history_changed(
    *,
    deal_ids: Collection[int],
    kinds: Collection[str] | None = None,
    fields: Collection[str] | None = None,
) -> None:
    """Tell the listeners that the history of ``deal_ids`` changed: events of ``kinds`` were written or
    ``fields`` changed; both None means anything may have changed (bulk writes)."""
    if not deal_ids:
        return
    everything = kinds is None and fields is None
    for listener in _history:
        if (
            everything
            or (kinds is not None and not listener.kinds.isdisjoint(kinds))
            or (fields is not None and not listener.fields.isdisjoint(fields))
        ):
            listener.callback(sorted(set(deal_ids)))


def rates_changed(*, currency: str, valid_from: dt.date) -> None:
    """Tell the listeners that the rates of ``currency`` from ``valid_from`` on changed."""
    for callback in _rates:
        callback(currency, valid_from)
