"""`dealflow backup out.zip` and `dealflow restore out.zip`: every row of every Dealflow table, exactly.

A backup is a ZIP with ``manifest.json`` and one JSON-lines file per table (one JSON array per row, in
the manifest's column order), written straight from the database values: ids, timestamps and the
write-time derived fields come back as they were, so every metric computed from them comes back too.
Restore works on an empty database only (migrated, no users, deals, leads or contacts yet): it removes
the reference rows the migrations created, inserts the backup's rows with plain INSERTs (the DealEvent
table stays append-only: nothing is updated or deleted there) and moves the id sequences past them.
Foreign keys are checked when the one transaction commits, so the table order does not matter.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import tempfile
import uuid
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils.translation import gettext as _

from dealflow.accounts.models import AuditEntry, User
from dealflow.accounts.services import audit_record
from dealflow.contacts.models import Organization, Person
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Deal, DealEvent, Lead

FORMAT = "dealflow-backup"
VERSION = 1
BATCH = 2000
# Tables the restore must find empty (reference data seeded by migrations may be there; it is replaced).
# The event log and the audit log are append-only (their triggers refuse DELETE), so they too must be empty.
MUST_BE_EMPTY = [User, Deal, Lead, DealEvent, Organization, Person, AuditEntry]


# Tables a backup leaves out, each for a reason: `migrate` creates the content types and permissions
# (the backup names them by natural key), the migration log describes the code, not the data, and
# sessions are sign-ins (secrets) that a restored server does not honour. Every other model of every
# installed app, ours and third-party (django-axes, the task queue, the admin log), is backed up;
# a test checks that this list and backup_models() together cover the whole app registry.
NOT_BACKED_UP = {"contenttypes.contenttype", "auth.permission", "sessions.session"}


def backup_models() -> list[type[models.Model]]:
    """Every concrete model of every installed app (with its many-to-many tables), but NOT_BACKED_UP."""
    chosen: list[type[models.Model]] = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed or _key(model) in NOT_BACKED_UP:
            continue
        chosen.append(model)
    return _dependency_order(chosen)


def _dependency_order(chosen: list[type[models.Model]]) -> list[type[models.Model]]:
    remaining = list(chosen)
    ordered: list[type[models.Model]] = []
    while remaining:
        progressed = False
        for model in list(remaining):
            depends = {
                field.related_model
                for field in model._meta.concrete_fields
                if field.is_relation and field.related_model is not model and field.related_model in remaining
            }
            if not depends:
                ordered.append(model)
                remaining.remove(model)
                progressed = True
        if not progressed:  # a cycle: the deferred foreign keys make any order safe
            ordered.extend(remaining)
            break
    return ordered


def _key(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def _natural_key_maps() -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    permissions = {
        pk: [app_label, model, codename]
        for pk, app_label, model, codename in Permission.objects.values_list(
            "pk", "content_type__app_label", "content_type__model", "codename"
        )
    }
    content_types = {
        pk: [app_label, model]
        for pk, app_label, model in ContentType.objects.values_list("pk", "app_label", "model")
    }
    return permissions, content_types


def _value_field(field: models.Field) -> models.Field:
    """The field whose type the stored value has: a foreign key holds its target's value (a UUID, say)."""
    target = getattr(field, "target_field", None) if field.is_relation else None
    while target is not None and target is not field:
        field = target
        target = getattr(field, "target_field", None) if field.is_relation else None
    return field


def _encoder(field: models.Field, permissions, content_types) -> Callable[[Any], Any]:
    if field.is_relation and field.related_model is Permission:
        return lambda value: None if value is None else permissions.get(value)
    if field.is_relation and field.related_model is ContentType:
        return lambda value: None if value is None else content_types.get(value)
    internal = _value_field(field).get_internal_type()
    if internal == "DateTimeField":
        return lambda value: None if value is None else value.isoformat()
    if internal == "DateField":
        return lambda value: None if value is None else value.isoformat()
    if internal == "TimeField":
        return lambda value: None if value is None else value.isoformat()
    if internal == "DecimalField":
        return lambda value: None if value is None else str(value)
    if internal == "DurationField":
        return lambda value: None if value is None else value.total_seconds()
    if internal == "UUIDField":
        return lambda value: None if value is None else str(value)
    if internal == "BinaryField":
        return lambda value: None if value is None else base64.b64encode(bytes(value)).decode()
    return lambda value: value


def backup_write(
    *, path: str | Path, by: User | None = None, progress: Callable[[int, int, str], None] | None = None
) -> dict[str, int]:
    """Write every Dealflow table to a ZIP; returns rows per table."""
    chosen = backup_models()
    permissions, content_types = _natural_key_maps()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "created_at": clock.now().isoformat(),
        "engine": connection.vendor,
        "migrations": _applied_migrations(),
        "tables": [],
    }
    counts: dict[str, int] = {}
    target = Path(path)
    # Written beside the target and renamed only when complete: a failure never leaves a ZIP without a
    # manifest (or a half-overwritten older backup) at the path the operator named.
    handle_fd, partial_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".partial", dir=target.parent
    )
    os.close(handle_fd)
    partial = Path(partial_name)
    try:
        _backup_write_to(partial, chosen, permissions, content_types, manifest, counts, progress)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    audit_record(
        actor=by,
        action="backup.written",
        target=str(target.name)[:200],
        detail={"tables": len(counts), "rows": sum(counts.values())},
    )
    return counts


def _backup_write_to(
    path: Path,
    chosen: list[type[models.Model]],
    permissions: dict[int, list[str]],
    content_types: dict[int, list[str]],
    manifest: dict[str, Any],
    counts: dict[str, int],
    progress: Callable[[int, int, str], None] | None,
) -> None:
    outermost = not connection.in_atomic_block
    with (
        transaction.atomic(),
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive,
    ):
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:  # one consistent snapshot of every table
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for index, model in enumerate(chosen):
            fields = list(model._meta.concrete_fields)
            encoders = [_encoder(field, permissions, content_types) for field in fields]
            name = _key(model)
            rows = 0
            with archive.open(f"{name}.jsonl", "w", force_zip64=True) as handle:
                values = model._base_manager.order_by("pk").values_list(*[field.attname for field in fields])
                for record in values.iterator(chunk_size=5000):
                    line = json.dumps(
                        [encode(value) for encode, value in zip(encoders, record, strict=True)],
                        ensure_ascii=False,
                    )
                    handle.write(line.encode() + b"\n")
                    rows += 1
            counts[name] = rows
            manifest["tables"].append(
                {
                    "model": name,
                    "table": model._meta.db_table,
                    "columns": [field.column for field in fields],
                    "rows": rows,
                }
            )
            if progress is not None:
                progress(index + 1, len(chosen), name)
        archive.writestr("manifest.json", json.dumps(manifest, indent=1))


def _applied_migrations() -> dict[str, str]:
    latest: dict[str, str] = {}
    for app, name in MigrationRecorder.Migration.objects.order_by("id").values_list("app", "name"):
        latest[app] = name
    return latest


def _decoder(
    field: models.Field, permissions: dict[tuple, int], content_types: dict[tuple, int]
) -> Callable[[Any], Any]:
    prepare = field.get_db_prep_save
    if field.is_relation and field.related_model is Permission:
        return lambda value: None if value is None else permissions[tuple(value)]
    if field.is_relation and field.related_model is ContentType:
        return lambda value: None if value is None else content_types[tuple(value)]
    internal = _value_field(field).get_internal_type()
    if internal == "DateTimeField":
        return lambda value: None if value is None else prepare(dt.datetime.fromisoformat(value), connection)
    if internal == "DateField":
        return lambda value: None if value is None else prepare(dt.date.fromisoformat(value), connection)
    if internal == "TimeField":
        return lambda value: None if value is None else prepare(dt.time.fromisoformat(value), connection)
    if internal == "DecimalField":
        return lambda value: None if value is None else prepare(Decimal(value), connection)
    if internal == "DurationField":
        return lambda value: None if value is None else prepare(dt.timedelta(seconds=value), connection)
    if internal == "UUIDField":
        return lambda value: None if value is None else prepare(uuid.UUID(value), connection)
    if internal == "BinaryField":
        return lambda value: None if value is None else prepare(base64.b64decode(value), connection)
    if internal == "JSONField":
        return lambda value: prepare(value, connection)
    return lambda value: value


def _refuse(message: str) -> ApplicationError:
    return ApplicationError(message, field="file")


def restore_check_empty() -> None:
    """Refuse to restore over data: only a freshly migrated database may receive a backup."""
    for model in MUST_BE_EMPTY:
        if model._base_manager.exists():
            raise _refuse(
                _(
                    "The database is not empty (it holds %(what)s); restore only into a freshly migrated database."
                )
                % {"what": model._meta.verbose_name_plural}
            )


def restore_read(
    *, path: str | Path, by: User | None = None, progress: Callable[[int, int, str], None] | None = None
) -> dict[str, int]:
    """Restore a backup into an empty database in one transaction; returns rows per table."""
    try:
        archive = zipfile.ZipFile(path)
        manifest = json.loads(archive.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise _refuse(
            _("%(name)s is not a Dealflow backup (or it is damaged).") % {"name": Path(path).name}
        ) from error
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise _refuse(
            _("%(name)s is not a Dealflow backup of a version this release reads.")
            % {"name": Path(path).name}
        )
    by_key = {_key(model): model for model in backup_models()}
    tables = manifest.get("tables", [])
    for table in tables:
        model = by_key.get(table["model"])
        if model is None:
            raise _refuse(
                _("The backup holds table %(table)s, which this release does not know; upgrade first.")
                % {"table": table["model"]}
            )
        current = {field.column for field in model._meta.concrete_fields}
        missing = [column for column in table["columns"] if column not in current]
        if missing:
            raise _refuse(
                _(
                    "The backup's %(table)s has columns this database lacks (%(columns)s); run the migrations of the release that wrote it."
                )
                % {"table": table["model"], "columns": ", ".join(missing)}
            )
    permissions = {
        (app_label, model, codename): pk
        for pk, app_label, model, codename in Permission.objects.values_list(
            "pk", "content_type__app_label", "content_type__model", "codename"
        )
    }
    content_types = {
        (app_label, model): pk
        for pk, app_label, model in ContentType.objects.values_list("pk", "app_label", "model")
    }
    counts: dict[str, int] = {}
    with transaction.atomic():
        restore_check_empty()
        listed = [by_key[table["model"]] for table in tables]
        for model in reversed(_dependency_order(listed)):
            if model not in (DealEvent, AuditEntry):
                model._base_manager.all()._raw_delete(model._base_manager.db)
        with connection.cursor() as cursor:
            for index, table in enumerate(tables):
                model = by_key[table["model"]]
                fields_by_column = {field.column: field for field in model._meta.concrete_fields}
                backup_columns = table["columns"]
                decoders = [
                    _decoder(fields_by_column[column], permissions, content_types)
                    for column in backup_columns
                ]
                extra = [field for field in model._meta.concrete_fields if field.column not in backup_columns]
                extra_values = [field.get_db_prep_save(field.get_default(), connection) for field in extra]
                columns = [*backup_columns, *(field.column for field in extra)]
                sql = 'INSERT INTO "{}" ({}) VALUES ({})'.format(  # noqa: S608 - names come from the models
                    model._meta.db_table,
                    ", ".join(f'"{column}"' for column in columns),
                    ", ".join(["%s"] * len(columns)),
                )
                batch: list[list[Any]] = []
                rows = 0
                with archive.open(f"{table['model']}.jsonl") as handle:
                    for line in handle:
                        values = json.loads(line)
                        batch.append(
                            [decode(value) for decode, value in zip(decoders, values, strict=True)]
                            + extra_values
                        )
                        if len(batch) >= BATCH:
                            cursor.executemany(sql, batch)
                            rows += len(batch)
                            batch = []
                if batch:
                    cursor.executemany(sql, batch)
                    rows += len(batch)
                if rows != table["rows"]:
                    raise _refuse(_("The backup's %(table)s is incomplete.") % {"table": table["model"]})
                counts[table["model"]] = rows
                if progress is not None:
                    progress(index + 1, len(tables), table["model"])
            for statement in connection.ops.sequence_reset_sql(no_style(), listed):
                cursor.execute(statement)
        audit_record(
            actor=None,
            action="backup.restored",
            target=str(Path(path).name)[:200],
            detail={"tables": len(counts), "rows": sum(counts.values())},
        )
    archive.close()
    return counts
