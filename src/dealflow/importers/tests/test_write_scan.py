"""The importer's adapters write through services: a scan of their source fails on a new direct write.

The writes left are listed with the reason each stays; the list must match the source exactly, so a write
that goes away is struck from it too. (``importers/services.py`` is the importer's own service layer for
its jobs and mappings, and ``backup.py`` restores rows as stored, by design; neither is scanned.)
"""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2]
SCANNED = [
    *sorted((SRC / "importers").glob("*.py")),
    *sorted((SRC / "importers" / "planning").glob("*.py")),
    SRC / "web" / "views" / "imports.py",
    SRC / "api" / "imports.py",
    SRC / "cli" / "management" / "commands" / "import.py",
    SRC / "cli" / "management" / "commands" / "imports.py",
]
NOT_SCANNED = {"services.py", "tasks.py", "backup.py", "models.py"}
WRITE = re.compile(r"\.(save|delete|update|bulk_create)\(|\.objects\.create\(")

# (file, the line's code, why it stays)
ALLOWED = {
    ("importers/writing.py", "User.objects.filter(pk=user_id).update(is_active=True)",
     "owners created inactive are active only inside the import's transaction (the services refuse inactive owners)"),
    ("importers/writing.py", "User.objects.filter(pk__in=self.to_deactivate).update(is_active=False)",
     "and inactive again before it commits"),
    ("importers/writing.py", "User.objects.filter(pk=user.pk).update(external_source=self.source, external_id=new.external_id)",
     "user_create takes no source id"),
    ("importers/writing.py", "Organization.objects.bulk_create([record for _operation, record in batch])",
     "many new organizations at once; organization_create writes one at a time"),
    ("importers/writing.py", "Person.objects.bulk_create([record for _operation, record in batch])", "likewise for persons"),
    ("importers/writing.py", 'lead.save(update_fields=["status", "closed_at", "qualified_at", "disqualified_reason", "updated_at"])',
     "a lead's status in the source system is a fact; the lead services only move forward"),
    ("importers/writing.py", 'lead.save(update_fields=[*fields, "updated_at"])', "likewise on re-import"),
    ("importers/writing.py", "Lead.objects.filter(pk=lead_ref).exclude(status=LeadStatus.CONVERTED).update(",
     "a lead converted at its deal's (past) creation date"),
    ("importers/writing.py", 'timings.update({f"writes: {name}": value for name, value in writer.write_seconds.items()})',
     "a dict, not a record"),
    ("importers/writing.py", "Activity.objects.filter(pk=activity.pk).update(", "activity_create takes no source id"),
    ("importers/writing.py", "activity.save()", "activity_update cannot set done_at"),
    ("importers/export.py", "book.save(path)", "an XLSX file, not a record"),
    *(
        ("cli/management/commands/import.py", f'options.{name}.update(_pairs(arguments["{argument}"], "--{flag}"))', "a dict")
        for name, argument, flag in (("owners", "owner", "owner"), ("sources", "source_map", "source-map"), ("stages", "stage", "stage"))
    ),
}  # fmt: skip


def _writes() -> set[tuple[str, str]]:
    found = set()
    for path in SCANNED:
        if path.name in NOT_SCANNED:
            continue
        for line in path.read_text().splitlines():
            code = line.split("#")[0].strip()
            if WRITE.search(code) and not code.startswith("@"):  # @router.delete(...) is a route
                found.add((str(path.relative_to(SRC)), code))
    return found


def test_importer_adapters_write_only_through_services_or_a_listed_reason():
    assert _writes() == {(name, code) for name, code, _why in ALLOWED}
