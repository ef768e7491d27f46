"""The plan builder's state and shared helpers; each entity's part builds on it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from dealflow.contacts.models import Organization
from dealflow.core.errors import ApplicationError
from dealflow.core.money import to_minor
from dealflow.importers.fields import Entity
from dealflow.importers.parsing import (
    LINE,
    ParsedSheet,
)
from dealflow.importers.planning.operations import (
    Counts,
    DealCreate,
    ImportPlan,
    RecordOp,
)
from dealflow.importers.planning.words import _day_start
from dealflow.importers.references import NameBook, OwnerBook, Ref, StageBook
from dealflow.importers.values import normalize_name

CHUNK = 900  # ids per IN (...) query (SQLite allows 999 parameters)
MAX_FOUND_KEYS = 200_000  # names and e-mail addresses remembered by BuilderBase.found_once


def _pk(record: Any) -> Any:
    return record.pk


def _chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


class BuilderBase:
    """The builder's state and the helpers every entity's part uses (problems, owners, lookups)."""

    def __init__(self, plan: ImportPlan) -> None:
        self.plan = plan
        self.problems = plan.problems
        self.source = plan.source
        self.by_entity: dict[Entity, list[ParsedSheet]] = defaultdict(list)
        for parsed in plan.sheets:
            self.by_entity[parsed.entity].append(parsed)
        options = plan.options
        aliases: dict[str, dict[str, str]] = {}
        for parsed in self.by_entity[Entity.USERS]:
            for row in parsed.rows:
                if row.get("external_id"):
                    aliases[row["external_id"]] = {
                        key: str(value) for key, value in row.items() if not key.startswith("_")
                    }
        plan.owners = self.owners = OwnerBook(
            by=plan.by,
            source=self.source,
            answers=options.owners,
            create=options.create_owners,
            default_owner=options.default_owner,
            aliases=aliases,
        )
        if options.default_owner and self.owners.default is None:
            raise ApplicationError(
                _("There is no user %(name)s to own rows without an owner.")
                % {"name": repr(options.default_owner)},
                field="default_owner",
            )
        plan.stages = self.stages = StageBook(
            options_stages=options.stages, options_pipelines=options.pipelines, create=options.create_stages
        )
        plan.names = self.names = NameBook(
            sources=options.sources, lost_reasons=options.lost_reasons, products=options.products
        )
        self.currency_default = (options.currency or str(settings.DEALFLOW["BASE_CURRENCY"])).upper()
        # Keys of the records this import creates, by the ways other rows refer to them.
        self.organization_by_id: dict[str, Ref] = {}
        self.organization_by_name: dict[str, Ref] = {}
        self.person_by_id: dict[str, Ref] = {}
        self.person_by_email: dict[str, Ref] = {}
        self.lead_by_id: dict[str, Ref] = {}
        self.lead_created: dict[Ref, dt.datetime] = {}
        self.lead_by_deal: dict[str, Ref] = {}
        self.deal_by_id: dict[str, Ref] = {}
        self.deal_rows: dict[Ref, DealCreate] = {}
        self._sources_seen: dict[Any, bool] = {}
        self._organizations_by_lowered: dict[str, list[Any]] = {}  # found_once: lower(name) -> records
        self._persons_by_email: dict[str, list[Any]] = {}  # found_once: e-mail address -> records
        self._minor: dict[tuple[Decimal, str], int] = {}
        self.undated: dict[str, int] = {}  # rows without a creation date, per sheet
        self.seen_ids: dict[Entity, dict[str, int]] = defaultdict(dict)  # external id -> first row
        self.sheets_with_signs: set[str] = set()  # deals sheets with an amount that names its currency
        self.deals_dated = False  # some deals row has a creation date

    # -- helpers --

    def error(self, parsed: ParsedSheet, row: dict[str, Any], name: str, value: Any, reason: str) -> None:
        self.problems.add(parsed.name, row, parsed.header_of.get(name, name), value, reason)

    def warn(self, parsed: ParsedSheet, row: dict[str, Any], name: str, value: Any, reason: str) -> None:
        self.problems.add(
            parsed.name, row, parsed.header_of.get(name, name), value, reason, severity="warning"
        )

    def rows(self, entity: Entity):
        for parsed in self.by_entity[entity]:
            for row in parsed.rows:
                yield parsed, row

    def check_duplicates(self, entity: Entity) -> None:
        seen = self.seen_ids[entity]  # kept across the chunks of a streamed file
        for parsed, row in self.rows(entity):
            external_id = row.get("external_id")
            if not external_id:
                continue
            if external_id in seen:
                line = seen[external_id]
                if row.get("_synthetic_id"):
                    self.error(
                        parsed,
                        row,
                        "",
                        "",
                        _(
                            "This row looks like line %(line)s (same title, organization and creation day); add an id column to import both."
                        )
                        % {"line": line},
                    )
                else:
                    self.error(
                        parsed,
                        row,
                        "external_id",
                        external_id,
                        _("The id %(id)s is also on line %(line)s; each record may appear once.")
                        % {"id": repr(external_id), "line": line},
                    )
            else:
                seen[external_id] = row[LINE]  # only the line: 378,000 ids cost 50 MB less

    def owner(self, parsed: ParsedSheet, row: dict[str, Any]) -> Ref | None:
        value = row.get("owner")
        ref = self.owners.owner(value, sheet=parsed.name)
        if ref is None:
            if value and value.strip().lower() in self.owners.forbidden:
                self.error(parsed, row, "owner", value, _("You may not import records for this owner."))
            else:
                row["_waiting"] = True
        return ref

    def existing(self, model, ids: list[str]) -> dict[str, Any]:
        """Records of this source with these ids (none to look for when the source has no such records)."""
        found: dict[str, Any] = {}
        if not ids:
            return found
        if model not in self._sources_seen:
            self._sources_seen[model] = model.objects.filter(external_source=self.source).exists()
        if not self._sources_seen[model]:
            return found
        for chunk in _chunks(sorted(set(ids))):
            for record in model.objects.filter(external_source=self.source, external_id__in=chunk):
                found.setdefault(record.external_id, record)
        return found

    def organization_ref(
        self, parsed: ParsedSheet, row: dict[str, Any], db_by_id: dict, db_by_name: dict
    ) -> Ref | None:
        """By external id first, then by exact name; a name nobody has yet becomes a new organization."""
        external_id = row.get("organization_id")
        if external_id:
            ref = self.organization_by_id.get(external_id)
            if ref is None and external_id in db_by_id:
                ref = db_by_id[external_id].pk
            if ref is not None:
                return ref
            if not row.get("organization"):
                self.warn(
                    parsed,
                    row,
                    "organization_id",
                    external_id,
                    _("No organization has this id; the record is imported without one."),
                )
                return None
        name = row.get("organization")
        if not name:
            return None
        key = normalize_name(name)
        ref = self.organization_by_name.get(key)
        if ref is None and key in db_by_name:
            ref = db_by_name[key].pk
        if ref is None:
            ref = f"organization:name:{key}"
            self.organization_by_name[key] = ref
            self.plan.organizations.append(
                RecordOp(parsed.name, row[LINE], ref, {"name": name.strip()[:200], "owner": None})
            )
            self.plan.counts.setdefault(Entity.ORGANIZATIONS, Counts()).create += 1
        return ref

    def load_organizations(self, rows: list[dict[str, Any]]) -> tuple[dict, dict]:
        ids = [row["organization_id"] for row in rows if row.get("organization_id")]
        by_id = self.existing(Organization, ids)
        by_name: dict[str, Organization] = {}
        raw_names = sorted({row["organization"].strip().lower() for row in rows if row.get("organization")})
        for organization in self.found_once(
            self._organizations_by_lowered,
            raw_names,
            lambda chunk: (
                (found.lowered, found)
                for found in Organization.objects.annotate(lowered=Lower("name")).filter(lowered__in=chunk)
            ),
        ):
            by_name.setdefault(normalize_name(organization.name), organization)
        return by_id, by_name

    def found_once(
        self,
        cache: dict[str, list[Any]],
        keys: list[str],
        fetch: Callable[[list[str]], Iterable[tuple[str, Any]]],
    ) -> Iterator[Any]:
        """The records ``fetch`` finds by the sorted ``keys``, a chunk of keys at a time and in id order
        within a chunk, as one ``filter(...__in=chunk).order_by("id")`` per chunk returns them.

        Each key is queried once per plan (planning writes nothing, so an answer stays true): the chunks of
        a streamed sheet repeat most of their organization names and e-mail addresses. A 20 MB CSV's
        chunks looked up 99,000 of them instead of 22,000, about 2 s of its 38 s planning CPU under
        cProfile (Django prepares each parameter of an IN list in Python).
        """
        if len(cache) > MAX_FOUND_KEYS:
            cache.clear()  # bounded memory (a streamed file); a cleared key is queried again
        missing = [key for key in keys if key not in cache]
        for key in missing:
            cache[key] = []
        for chunk in _chunks(missing):
            for key, record in fetch(chunk):
                cache[key].append(record)
        for chunk in _chunks(keys):
            yield from sorted((record for key in chunk for record in cache[key]), key=_pk)

    def undated_created(
        self, parsed, row, history_dates: list[dt.datetime], close_at: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        """The creation date of a row without one, as the preview's answer says; None skips the row.

        In a sheet with a creation column, undated rows are skipped unless the user picks another date:
        dating them today would put old records into this month's figures. A sheet without such a column
        uses each row's first history or close date, else today, and says so in a notice.
        """
        if row.get("_waiting"):
            return now  # its date waits for an answer (day/month order); the row is not written yet
        has_column = "created_at" in parsed.columns.values()
        undated = self.plan.options.undated
        answer = undated.get(parsed.name) or undated.get("*") or ("skip" if has_column else "first")
        self.undated[parsed.name] = self.undated.get(parsed.name, 0) + 1
        if answer == "first":
            candidates = [*history_dates, *([close_at] if close_at else [])]
            if candidates:
                return min(candidates)
            if has_column:
                answer = "skip"
            else:
                return now
        if answer == "today":
            return now
        if answer.startswith("date:"):
            return _day_start(dt.date.fromisoformat(answer[5:]))
        self.warn(
            parsed, row, "created_at", "", _("No creation date; skipped, as the preview's question says.")
        )
        row["_skipped"] = True
        return None

    def minor(self, parsed, row, name: str, amount: Decimal | None, currency: str) -> int:
        if amount is None:
            return 0
        key = (amount, currency)
        cached = self._minor.get(key)
        if cached is not None:
            return cached
        if len(self._minor) >= 50_000:
            self._minor.clear()  # amounts repeat within a file, but not without limit
        try:
            value = self._minor[key] = to_minor(amount, currency)
        except ApplicationError as error:
            self.error(parsed, row, name, amount, error.message)
            return 0
        return value
