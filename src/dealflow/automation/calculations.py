"""Pure parts of automation (no ORM): does a rule match an occasion, retry timing, webhook signatures.

The live dispatch and the dry run both call ``rule_matches``, so a dry run counts exactly what the rule would
have done.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

# DealEvent kinds (deals.models.EventKind values), repeated as text so this module imports no models.
CREATED, STAGE_CHANGED, AMOUNT_CHANGED, WON, LOST, REOPENED = (
    "created",
    "stage_changed",
    "amount_changed",
    "won",
    "lost",
    "reopened",
)
# Longest chain of rules a person's change may set off (A's change triggers B, whose change triggers C).
MAX_CHAIN_DEPTH = 3


@dataclass(frozen=True)
class RuleSpec:
    trigger: str
    team_id: int | None = None
    pipeline_id: int | None = None
    stage_id: int | None = None
    days: int | None = None
    amount_minor: int | None = None
    currency: str = ""
    source_id: int | None = None


@dataclass(frozen=True)
class Occasion:
    """What happened, as far as a rule cares: a DealEvent, a new lead, or a deal that sat N days."""

    kind: str  # a DealEvent kind, "lead_created" or "rotting"
    team_id: int | None
    pipeline_id: int | None = None
    to_stage_id: int | None = None
    amount_minor: int | None = None
    previous_amount_minor: int | None = None
    currency: str = ""
    source_id: int | None = None
    days: int | None = None  # rotting: the days the deal has sat in its stage


# The occasions each trigger listens to: a rule is never asked about any other kind (the dispatch's index,
# the dry run's query and rule_matches all read this).
TRIGGER_KINDS: dict[str, tuple[str, ...]] = {
    "stage_entered": (CREATED, STAGE_CHANGED, REOPENED),
    "won": (WON,),
    "lost": (LOST,),
    "amount_above": (CREATED, AMOUNT_CHANGED),
    "lead_source": ("lead_created",),
    "rotting": ("rotting",),
}


def rule_matches(rule: RuleSpec, occasion: Occasion) -> bool:
    """Would the rule fire on this occasion? (A team's rule only sees its team's deals and leads.)"""
    if occasion.kind not in TRIGGER_KINDS.get(rule.trigger, ()):
        return False
    if rule.team_id is not None and occasion.team_id != rule.team_id:
        return False
    if rule.pipeline_id is not None and occasion.pipeline_id not in (None, rule.pipeline_id):
        return False
    if rule.trigger == "stage_entered":
        return occasion.to_stage_id == rule.stage_id
    if rule.trigger in ("won", "lost"):
        return True
    if rule.trigger == "amount_above":
        if rule.amount_minor is None:
            return False
        if occasion.currency != rule.currency or occasion.amount_minor is None:
            return False
        before = 0 if occasion.kind == CREATED else occasion.previous_amount_minor
        # Fires when the amount crosses the line, not on every change above it.
        return occasion.amount_minor > rule.amount_minor and (before is None or before <= rule.amount_minor)
    if rule.trigger == "lead_source":
        return occasion.source_id == rule.source_id
    if rule.trigger == "rotting":
        return occasion.days is not None and occasion.days >= (rule.days or 0)
    return False


class RuleIndex:
    """The rules by the occasion kind they listen to (and, for "enters a stage" and "lead from a source", by
    that stage or source), so an occasion is put only to the few rules that may fire on it. The index only
    narrows the field: ``rule_matches`` still decides, so it stays the one statement of each rule."""

    def __init__(self, specs: Iterable[tuple[int, RuleSpec]]) -> None:
        self.specs = dict(specs)
        self._by_key: dict[tuple[str, int | None], list[int]] = {}
        for rule_id, spec in sorted(self.specs.items()):
            for kind in TRIGGER_KINDS.get(spec.trigger, ()):
                self._by_key.setdefault((kind, self._narrow(spec, kind)), []).append(rule_id)

    @staticmethod
    def _narrow(spec: RuleSpec, kind: str) -> int | None:
        if spec.trigger == "stage_entered":
            return spec.stage_id
        if spec.trigger == "lead_source":
            return spec.source_id
        return None

    def matching(self, occasion: Occasion) -> list[int]:
        """Ids of the rules that fire on the occasion, in id order."""
        narrowed = occasion.source_id if occasion.kind == "lead_created" else occasion.to_stage_id
        candidates = list(self._by_key.get((occasion.kind, None), []))
        if narrowed is not None:
            candidates += self._by_key.get((occasion.kind, narrowed), [])
        return [rule_id for rule_id in sorted(candidates) if rule_matches(self.specs[rule_id], occasion)]


def minor_from_event_value(value: str, *, digits: int) -> int | None:
    """``"1234.50 EUR"`` (how DealEvent stores an amount) -> 123450 for a two-digit currency."""
    number = (value or "").split(" ", 1)[0]
    if not number:
        return None
    try:
        from decimal import Decimal, InvalidOperation

        return int((Decimal(number) * (10**digits)).to_integral_value())
    except (InvalidOperation, ValueError):
        return None


def chain_depth(*, origin: str, parent_depths: dict[int, int]) -> int:
    """How many rules acted before this change: 0 for a person's, parent's depth + 1 for ``rule:<id>``."""
    if not origin.startswith("rule:"):
        return 0
    try:
        parent = int(origin.split(":", 1)[1])
    except ValueError:
        return 0
    return parent_depths.get(parent, 0) + 1


# --- Webhooks ---------------------------------------------------------------------------------------------

RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 6 * 3600
MAX_ATTEMPTS = 8  # 30 s, 1, 2, 4, 8, 16, 32 minutes: about an hour of trying before a delivery is given up
PAUSE_AFTER_FAILURES = 5  # consecutive failed requests before a subscription is paused


def retry_delay(attempts: int) -> dt.timedelta:
    """Wait before the next try after ``attempts`` failed ones: 30 s, doubling, at most six hours."""
    return dt.timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_CAP_SECONDS))


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """``Dealflow-Signature`` header value: ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_verify(*, secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: recompute the HMAC, compare in constant time, refuse old timestamps (replays)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def address_is_private(address: str) -> bool:
    """Loopback, private, link-local, reserved or unspecified: the server's own network, not a receiver's."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified
