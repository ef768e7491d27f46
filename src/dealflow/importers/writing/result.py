"""What an import wrote: counts, rejected rows, and the file of rejected rows handed back."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from dealflow.importers.planning import ImportPlan


@dataclass
class Rejection:
    sheet: str
    line: int
    reason: str


@dataclass
class WriteResult:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    used_bulk: bool = False
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # the bulk writer's close, by part

    def as_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "rejected": len(self.rejected),
            "rejections": [
                {"sheet": item.sheet, "line": item.line, "reason": item.reason}
                for item in self.rejected[:500]
            ],
            "used_bulk": self.used_bulk,
            "seconds": round(self.seconds, 2),
        }


def rejects_write(plan: ImportPlan, rejections: list[Rejection], path: str | Path) -> int:
    """A CSV (UTF-8 with BOM) of the rejected rows as they were in the file, with the line and the reason."""
    by_sheet: dict[str, dict[int, str]] = {}
    for rejection in rejections:
        by_sheet.setdefault(rejection.sheet, {})[rejection.line] = rejection.reason
    written = 0
    with Path(path).open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        for parsed in plan.sheets:
            reasons = by_sheet.get(parsed.name)
            if not reasons:
                continue
            writer.writerow([_("file"), _("line"), _("reason"), *parsed.sheet.headers])
            for line, cells in parsed.sheet.rows():
                if line in reasons:
                    writer.writerow([parsed.name, line, reasons[line], *[_cell_text(cell) for cell in cells]])
                    written += 1
    return written


def _cell_text(value: Any) -> str:
    from dealflow.importers.export import neutralise

    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return neutralise(str(value))
