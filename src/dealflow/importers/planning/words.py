"""Words of other systems mapped to Dealflow's (statuses, kinds, roles, categories) and small pure helpers."""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

from django.utils.translation import gettext as _

from dealflow.accounts.models import Role
from dealflow.deals.models import (
    ActivityKind,
    LeadStatus,
)
from dealflow.importers.fields import Entity
from dealflow.importers.parsing import (
    ParsedSheet,
)
from dealflow.importers.planning.operations import (
    DealCreate,
    _json_value,
)
from dealflow.importers.values import normalize_header, normalize_name


def is_roster(parsed: ParsedSheet) -> bool:
    """A users sheet that names teams or roles creates accounts; without them it only tells who an owner id is."""
    return parsed.entity == Entity.USERS and bool({"team", "role"} & set(parsed.columns.values()))


_ROLES = {
    "admin": Role.ADMIN,
    "administrator": Role.ADMIN,
    "beheerder": Role.ADMIN,
    "manager": Role.MANAGER,
    "sales manager": Role.MANAGER,
    "teamleider": Role.MANAGER,
    "leidinggevende": Role.MANAGER,
    "rep": Role.REP,
    "sales rep": Role.REP,
    "verkoper": Role.REP,
    "accountmanager": Role.REP,
    "account manager": Role.REP,
    "analyst": Role.ANALYST,
    "analist": Role.ANALYST,
}


def _role(value: Any) -> str | None:
    role = _ROLES.get(normalize_name(value))
    return role.value if role is not None else None


def title_render(template: str, row: dict[str, Any], parsed: ParsedSheet) -> str:
    """A deal's title from a template like "{organization} - {product}": placeholders name fields or headers.

    Empty when every placeholder is empty for the row (a row problem, never a title of bare dashes).
    """
    by_header = {normalize_header(header): row.get(name) for header, name in parsed.columns.items() if name}
    values: dict[str, str] = {}
    filled = False
    for _literal, name, _spec, _conversion in string.Formatter().parse(template):
        if name is None:
            continue
        value = row.get(name) if name in row else by_header.get(normalize_header(name))
        text = _json_value(value) if value is not None else ""
        values[name] = str(text).strip()
        filled = filled or bool(values[name])
    if not filled:
        return ""
    try:
        return template.format_map(values).strip(" -–—|,/:;")[:200]  # no dangling separator
    except (ValueError, IndexError, KeyError):
        return ""


def undated_label(answer: str) -> str:
    """What an answer to the question about rows without a creation date does, in words."""
    if answer.startswith("date:") and len(answer) > 5:
        return _("dated %(date)s") % {"date": answer[5:]}
    return {
        "skip": _("skipped"),
        "first": _("dated by their first history date or close date (skipped without one)"),
        "today": _("dated today"),
        "date:": _("dated on a fixed date (give it below)"),
    }.get(answer, answer)


def _final_amount(spec: DealCreate) -> int:
    amount = spec.amount_minor
    for step in spec.steps:
        if step.kind == "update" and step.changes and "amount_minor" in step.changes:
            amount = step.changes["amount_minor"]
    return amount


def _final_close(spec: DealCreate) -> dt.date | None:
    close = spec.expected_close_on
    for step in spec.steps:
        if step.kind == "update" and step.changes and "expected_close_on" in step.changes:
            close = step.changes["expected_close_on"]
    return close


def _day_start(day: dt.date) -> dt.datetime:
    from dealflow.importers.values import as_datetime

    return as_datetime(day)


def _differs(record: Any, values: dict[str, Any]) -> bool:
    """Whether writing ``values`` would change the record (references compare by id; new ones always differ)."""
    for name, value in values.items():
        if name in ("external_id", "at", "created_at"):
            continue
        if (
            isinstance(value, str)
            and value.startswith(("organization:", "person:", "user:", "source:", "lead:"))
            and name in {"organization", "person", "owner", "source", "lead"}
        ):
            return True
        if name in {"organization", "person", "owner", "source", "lead"}:
            if getattr(record, f"{name}_id") != value:
                return True
            continue
        current = getattr(record, name)
        if isinstance(current, str) and value is None:
            value = ""
        if current != value:
            return True
    return False


_LEAD_STATUSES = {
    "new": LeadStatus.NEW,
    "nieuw": LeadStatus.NEW,
    "open": LeadStatus.NEW,
    "open - not contacted": LeadStatus.NEW,
    "working": LeadStatus.WORKING,
    "working - contacted": LeadStatus.WORKING,
    "contacted": LeadStatus.WORKING,
    "in behandeling": LeadStatus.WORKING,
    "in progress": LeadStatus.WORKING,
    "qualified": LeadStatus.QUALIFIED,
    "gekwalificeerd": LeadStatus.QUALIFIED,
    "disqualified": LeadStatus.DISQUALIFIED,
    "unqualified": LeadStatus.DISQUALIFIED,
    "closed - not converted": LeadStatus.DISQUALIFIED,
    "gediskwalificeerd": LeadStatus.DISQUALIFIED,
    "converted": LeadStatus.CONVERTED,
    "closed - converted": LeadStatus.CONVERTED,
    "geconverteerd": LeadStatus.CONVERTED,
}


_LEAD_STATUSES = {normalize_name(key): value for key, value in _LEAD_STATUSES.items()}


def _lead_status(value: str) -> str | None:
    status = _LEAD_STATUSES.get(normalize_name(value))
    return status.value if status is not None else None


_ACTIVITY_KINDS = {
    "call": "call", "phone": "call", "phone call": "call", "bellen": "call", "telefoon": "call", "gesprek": "call",
    "meeting": "meeting", "afspraak": "meeting", "vergadering": "meeting", "event": "meeting", "demo": "meeting",
    "email": "email", "e mail": "email", "e-mail": "email", "mail": "email",
    "task": "task", "taak": "task", "to do": "task", "todo": "task", "deadline": "task",
    "note": "note", "notitie": "note", "notes": "note",
}  # fmt: skip


_ACTIVITY_KINDS = {normalize_name(key): value for key, value in _ACTIVITY_KINDS.items()}


def _activity_kind(value: Any) -> str | None:
    if not value:
        return ActivityKind.TASK.value
    return _ACTIVITY_KINDS.get(normalize_name(value))


_FORECAST = {
    "pipeline": "pipeline", "best case": "best_case", "bestcase": "best_case", "commit": "commit",
    "omitted": "omitted", "closed": "closed", "most likely": "commit",
}  # fmt: skip


_FORECAST = {normalize_name(key): value for key, value in _FORECAST.items()}


def _forecast_category(value: Any) -> str:
    if not value:
        return ""
    return _FORECAST.get(normalize_name(value), "")
