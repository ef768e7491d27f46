"""Import, export, backup: the writes the web wizard, the API and the CLI share.

``import_preview`` builds the plan and writes nothing (a dry run); ``import_apply`` builds it again from
the same file and options and writes it in one transaction. The web wizard and the API keep an
ImportJob per uploaded file and run both steps as background tasks, with progress in a small JSON file
next to the upload (a row updated inside the import's own transaction would stay invisible until commit).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from dealflow.accounts.models import User
from dealflow.accounts.services import audit_record
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.deals.bulk import collector_calm
from dealflow.deals.selectors import DealFilters
from dealflow.importers.export import export_write
from dealflow.importers.fields import Entity
from dealflow.importers.mapping import ImportOptions
from dealflow.importers.models import ImportJob, ImportMapping, ImportStatus
from dealflow.importers.planning import ImportPlan, headers_key, plan_build
from dealflow.importers.selectors import import_check_allowed
from dealflow.importers.writing import WriteResult, plan_write, rejects_write

Progress = Callable[[int, int, str], None]
logger = logging.getLogger(__name__)


def import_dir() -> Path:
    return Path(str(settings.DEALFLOW.get("IMPORT_DIR") or Path(settings.VAR_DIR) / "imports"))


def import_max_bytes() -> int:
    return int(str(settings.DEALFLOW.get("IMPORT_MAX_BYTES", 300 * 1024 * 1024)))


# ------------------------------------------------------------------------------------------------ direct


def acting_user_get(*, username: str | None) -> User:
    """The user a command-line import or export acts as: the one named, else the first active superuser."""
    if username:
        user = User.objects.filter(username__iexact=username.strip()).first()
        if user is None:
            raise ApplicationError(_("There is no user %(name)r.") % {"name": username}, field="user")
        return user
    user = User.objects.filter(is_superuser=True, is_active=True).order_by("id").first()
    if user is None:
        raise ApplicationError(_("Name the user to act as with --user."), field="user")
    return user


def import_preview(
    *,
    path: str | Path,
    by: User,
    options: ImportOptions | None = None,
    name: str | None = None,
    progress: Progress | None = None,
    for_writing: bool = False,
) -> ImportPlan:
    """Read and check a file against the database; nothing is written (the dry run).

    ``for_writing`` keeps a streamed plan's operations (in temporary files) for ``import_write``.
    """
    import_check_allowed(user=by)
    with collector_calm():  # bulk/collector.py: the collector's full scans were 14 % of the CPU
        return plan_build(
            path=path, by=by, options=options, name=name, progress=progress, for_writing=for_writing
        )


def import_apply(
    *,
    path: str | Path,
    by: User,
    options: ImportOptions | None = None,
    name: str | None = None,
    progress: Progress | None = None,
    rejects_path: str | Path | None = None,
    use_bulk: bool | None = None,
) -> tuple[ImportPlan, WriteResult]:
    """Import a file: all rows or none, or (``options.keep_valid``) the valid rows plus a file of the rejected ones."""
    plan = import_preview(path=path, by=by, options=options, name=name, progress=progress, for_writing=True)
    return plan, import_write(plan=plan, progress=progress, rejects_path=rejects_path, use_bulk=use_bulk)


def import_write(
    *,
    plan: ImportPlan,
    progress: Progress | None = None,
    rejects_path: str | Path | None = None,
    use_bulk: bool | None = None,
) -> WriteResult:
    """Write a previewed plan in one transaction; rejected rows (keep_valid) go to ``rejects_path``."""
    try:
        with collector_calm():  # bulk/collector.py: the collector's full scans were 14 % of the CPU
            result = plan_write(plan, progress=progress, use_bulk=use_bulk)
    finally:
        if plan.stream is not None:
            plan.stream.close()  # its temporary files
    if result.rejected and rejects_path is not None:
        rejects_write(plan, result.rejected, rejects_path)
    return result


@transaction.atomic
def import_mapping_save(*, name: str, plan: ImportPlan, by: User) -> ImportMapping:
    """Save the column mapping and answers of a previewed file, to be offered again for the same layout."""
    text = str(name or "").strip()
    if not text:
        raise ApplicationError(_("Give the mapping a name."), field="name")
    if len(text) > 120:
        raise ApplicationError(_("A mapping name has at most 120 characters."), field="name")
    if len(plan.sheets) != 1:
        raise ApplicationError(_("Only the mapping of a single-sheet file can be saved."), field="name")
    parsed = plan.sheets[0]
    own = plan.options.for_sheet(parsed.name)
    options = ImportOptions(
        source=plan.source,
        currency=plan.options.currency,
        create_owners=plan.options.create_owners,
        create_stages=plan.options.create_stages,
        default_owner=plan.options.default_owner,
        stages=plan.options.stages,
        pipelines=plan.options.pipelines,
        owners=plan.options.owners,
    )
    options.sheet.entity = parsed.entity.value
    options.sheet.columns = {header: parsed.columns.get(header, "") for header in parsed.sheet.headers}
    options.sheet.dates = dict(own.dates)
    options.sheet.decimal = dict(own.decimal)
    mapping, _created = ImportMapping.objects.update_or_create(
        name=text,
        defaults={
            "entity": parsed.entity.value,
            "headers_key": headers_key(parsed.sheet.headers),
            "headers": parsed.sheet.headers,
            "options": options.as_json(),
            "created_by": by,
        },
    )
    audit_record(
        actor=by, action="import.mapping_saved", target=f"mapping:{mapping.pk}", detail={"name": text}
    )
    return mapping


@transaction.atomic
def import_mapping_delete(*, mapping: ImportMapping, by: User) -> None:
    """Forget a saved mapping."""
    audit_record(
        actor=by,
        action="import.mapping_deleted",
        target=f"mapping:{mapping.pk}",
        detail={"name": mapping.name},
    )
    mapping.delete()


# ------------------------------------------------------------------------------------------------ jobs


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def import_job_create(*, by: User, upload: UploadedFile) -> ImportJob:
    """Store an uploaded file and open an import job for it (nothing is read yet)."""
    import_check_allowed(user=by)
    size = upload.size or 0
    if size == 0:
        raise ApplicationError(_("The file is empty."), field="file")
    if size > import_max_bytes():
        raise ApplicationError(
            _("The file is larger than %(limit)s MB; split it or import it with the dealflow import command.")
            % {"limit": import_max_bytes() // (1024 * 1024)},
            field="file",
        )
    original = Path(upload.name or "upload.csv").name
    safe = _SAFE_NAME.sub("_", original)[:120] or "upload.csv"
    folder = import_dir() / f"{clock.now():%Y%m%d}-{secrets.token_hex(8)}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / safe
    with target.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    job = ImportJob.objects.create(
        created_by=by,
        file_name=original[:255],
        file_path=str(target),
        file_size=size,
        status=ImportStatus.UPLOADED,
    )
    audit_record(
        actor=by,
        action="import.uploaded",
        target=f"import:{job.pk}",
        detail={"file": original, "bytes": size},
    )
    return job


def import_job_set_options(*, job: ImportJob, options: ImportOptions) -> ImportJob:
    """Store the user's mapping and answers on a job that is not running (the next preview uses them)."""
    if job.is_running:
        raise ApplicationError(_("The file is being processed; wait until it finishes."), field="status")
    if job.status == ImportStatus.DONE:
        raise ApplicationError(
            _("This file was imported already; upload it again to import it again."), field="status"
        )
    job.options = ImportOptions.from_json(options.as_json()).as_json()  # refuses a bad answer now, naming it
    job.save(update_fields=["options", "updated_at"])
    return job


def import_job_confirm(*, job: ImportJob, by: User, keep_valid: bool) -> ImportJob:
    """Import a checked file for real (in the background): all rows, or with keep_valid only the valid ones.

    The web wizard and the API both confirm through here, so the rule "problems need keep_valid" lives once.
    """
    import_check_allowed(user=by)
    options = ImportOptions.from_json(job.options)
    options.keep_valid = keep_valid
    if job.preview.get("errors") and not keep_valid:
        raise ApplicationError(
            _("The file has problems: fix them, or tick 'import only the valid rows'."), field="keep_valid"
        )
    import_job_set_options(job=job, options=options)
    return import_job_enqueue(job=job, step="apply")


def progress_path(job: ImportJob) -> Path:
    return Path(job.file_path).with_name("progress.json")


def import_job_progress(*, job: ImportJob) -> dict[str, Any]:
    """How far a running job got: {"done", "total", "label", "percent"} (from the progress file)."""
    try:
        data = json.loads(progress_path(job).read_text())
    except (OSError, ValueError):
        data = {"done": job.progress_done, "total": job.progress_total, "label": job.progress_label}
    total = max(1, int(data.get("total") or 1))
    done = min(total, int(data.get("done") or 0))
    data["percent"] = 100 if job.status == ImportStatus.DONE else int(done * 100 / total)
    return data


def _progress_writer(job: ImportJob) -> Progress:
    path = progress_path(job)
    state = {"last": 0.0}

    def write(done: int, total: int, label: str) -> None:
        now = clock.now().timestamp()
        if now - state["last"] < 0.3 and done < total:
            return
        state["last"] = now
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"done": done, "total": total, "label": str(label)}))
        os.replace(temporary, path)

    return write


# ------------------------------------------------------------------------------------------------ leases


def import_lease_seconds() -> int:
    """How long a running job may go without a heartbeat before it counts as dead (its worker crashed)."""
    return int(str(settings.DEALFLOW.get("IMPORT_LEASE_SECONDS", 120)))


def import_queue_seconds() -> int:
    """How long a job may wait in the queue for a worker before it counts as dead."""
    return int(str(settings.DEALFLOW.get("IMPORT_QUEUE_SECONDS", 6 * 3600)))


HEARTBEAT_SECONDS = 10


def heartbeat_path(job: ImportJob) -> Path:
    return Path(job.file_path).with_name("heartbeat")


@contextmanager
def _heartbeat(job: ImportJob) -> Iterator[None]:
    """While a job runs, touch its heartbeat file every few seconds from a thread.

    A file, not the job's row: on SQLite a second connection could not write while the import's own
    transaction holds the database, and a row updated inside that transaction stays invisible. The thread
    dies with the worker, so a crash (kill -9, out of memory) shows as a heartbeat that stopped.
    """
    path = heartbeat_path(job)
    stop = threading.Event()

    def beat() -> None:
        while True:
            with suppress(OSError):
                path.touch()
            if stop.wait(HEARTBEAT_SECONDS):
                return

    thread = threading.Thread(target=beat, name=f"import-heartbeat-{job.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=HEARTBEAT_SECONDS)
        path.unlink(missing_ok=True)


def import_job_lease_expired(*, job: ImportJob, now: dt.datetime | None = None) -> bool:
    """A running job whose worker shows no sign of life: no heartbeat for the lease, or never picked up."""
    if not job.is_running:
        return False
    moment = (now or clock.now()).timestamp()
    try:
        last_beat = heartbeat_path(job).stat().st_mtime
    except OSError:
        return moment - job.updated_at.timestamp() > import_queue_seconds()
    return moment - last_beat > import_lease_seconds()


def import_jobs_expire(*, now: dt.datetime | None = None) -> int:
    """Mark running jobs whose lease expired as failed, with the reason; they can then be retried or deleted."""
    expired = 0
    for job in ImportJob.objects.filter(status__in=[ImportStatus.PREVIEWING, ImportStatus.APPLYING]):
        if not import_job_lease_expired(job=job, now=now):
            continue
        step = _("checking") if job.status == ImportStatus.PREVIEWING else _("importing")
        updated = ImportJob.objects.filter(pk=job.pk, status=job.status).update(
            status=ImportStatus.FAILED,
            error=_(
                "The worker stopped while %(step)s this file (no sign of life for %(seconds)s seconds); nothing was written. Retry it or delete it."
            )
            % {"step": step, "seconds": import_lease_seconds()},
            finished_at=clock.now(),
            updated_at=clock.now(),
        )
        expired += updated
        heartbeat_path(job).unlink(missing_ok=True)
    return expired


def import_job_retry(*, job: ImportJob, by: User) -> ImportJob:
    """Check a failed job's file again (a failed import wrote nothing, so it starts from the preview)."""
    import_check_allowed(user=by)
    if import_job_lease_expired(job=job):
        import_jobs_expire()
        job.refresh_from_db()
    if job.status != ImportStatus.FAILED:
        raise ApplicationError(_("Only a failed import can be retried."), field="status")
    if not Path(job.file_path).is_file():
        raise ApplicationError(_("The uploaded file is gone; upload it again."), field="file")
    audit_record(actor=by, action="import.retried", target=f"import:{job.pk}", detail={"file": job.file_name})
    return import_job_enqueue(job=job, step="preview")


def import_uploads_sweep(*, now: dt.datetime | None = None, keep_days: int = 7) -> int:
    """Delete upload folders no job refers to, and those of jobs that failed more than ``keep_days`` ago."""
    moment = now or clock.now()
    root = import_dir()
    if not root.is_dir():
        return 0
    live: set[str] = set()
    stale: set[str] = set()
    cutoff = moment - dt.timedelta(days=keep_days)
    for _job_id, path, status, finished in ImportJob.objects.values_list(
        "pk", "file_path", "status", "finished_at"
    ):
        parent = str(Path(path).parent)
        if status == ImportStatus.FAILED and finished is not None and finished < cutoff:
            stale.add(parent)
        else:
            live.add(parent)
    removed = 0
    for folder in root.iterdir():
        if not folder.is_dir() or str(folder) in live:
            continue
        orphan_old = moment.timestamp() - folder.stat().st_mtime > 24 * 3600
        if str(folder) in stale or orphan_old:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _finish(job: ImportJob, *, status: str, error: str = "", **fields: Any) -> None:
    job.status = status
    job.error = error
    job.finished_at = clock.now()
    for name, value in fields.items():
        setattr(job, name, value)
    job.save()


def import_job_preview(*, job: ImportJob) -> ImportJob:
    """Check the job's file with its options and store what the preview shows (runs as a task)."""
    job.status = ImportStatus.PREVIEWING
    job.error = ""
    job.save(update_fields=["status", "error", "updated_at"])
    try:
        with _heartbeat(job):
            plan = import_preview(
                path=job.file_path,
                by=job.created_by,
                options=ImportOptions.from_json(job.options),
                name=job.file_name,
                progress=_progress_writer(job),
            )
    except ApplicationError as error:
        _finish(job, status=ImportStatus.FAILED, error=error.message, preview={})
        return job
    except Exception as error:  # never leave a job "checking" forever: fail it with the reason
        logger.exception("Import job %s failed while checking.", job.pk)
        _finish(job, status=ImportStatus.FAILED, error=_unexpected(error), preview={})
        return job
    _finish(job, status=ImportStatus.PREVIEWED, preview=plan.summary())
    return job


def import_job_apply(*, job: ImportJob) -> ImportJob:
    """Write the job's file for real, all or nothing unless keep_valid (runs as a task)."""
    job.status = ImportStatus.APPLYING
    job.error = ""
    job.save(update_fields=["status", "error", "updated_at"])
    rejects = Path(job.file_path).with_name("rejected-rows.csv")
    try:
        with _heartbeat(job):
            plan, result = import_apply(
                path=job.file_path,
                by=job.created_by,
                options=ImportOptions.from_json(job.options),
                name=job.file_name,
                progress=_progress_writer(job),
                rejects_path=rejects,
            )
    except ApplicationError as error:
        _finish(job, status=ImportStatus.FAILED, error=error.message)
        return job
    except Exception as error:  # the import rolled back; the job says so instead of staying "importing"
        logger.exception("Import job %s failed while importing.", job.pk)
        _finish(job, status=ImportStatus.FAILED, error=_unexpected(error))
        return job
    _finish(
        job,
        status=ImportStatus.DONE,
        result=result.as_json(),
        preview=plan.summary(),
        rejects_path=str(rejects) if result.rejected else "",
    )
    return job


def _unexpected(error: Exception) -> str:
    return _("The file could not be processed (%(kind)s: %(error)s); nothing was written.") % {
        "kind": type(error).__name__,
        "error": str(error)[:300],
    }


def import_job_enqueue(*, job: ImportJob, step: str) -> ImportJob:
    """Queue the preview or the import of a job as a background task (the browser polls its progress)."""
    from dealflow.importers import tasks

    if job.is_running:
        raise ApplicationError(_("The file is being processed; wait until it finishes."), field="status")
    if step == "apply":
        if job.status != ImportStatus.PREVIEWED:
            raise ApplicationError(_("Check the file (preview) before importing it."), field="status")
        if not job.preview.get("is_ready", True):
            raise ApplicationError(_("Answer the open questions of the preview first."), field="questions")
        job.status = ImportStatus.APPLYING
        job.save(update_fields=["status", "updated_at"])
        progress_path(job).unlink(missing_ok=True)
        tasks.import_job_apply_task.enqueue(job.pk)
    else:
        job.status = ImportStatus.PREVIEWING
        job.save(update_fields=["status", "updated_at"])
        progress_path(job).unlink(missing_ok=True)
        tasks.import_job_preview_task.enqueue(job.pk)
    job.refresh_from_db()
    return job


def import_job_delete(*, job: ImportJob, by: User) -> None:
    """Remove a job and its uploaded file (a running job only once its lease expired)."""
    if import_job_lease_expired(job=job):
        import_jobs_expire()
        job.refresh_from_db()
    if job.is_running:
        raise ApplicationError(_("The file is being processed; wait until it finishes."), field="status")
    shutil.rmtree(Path(job.file_path).parent, ignore_errors=True)
    audit_record(actor=by, action="import.deleted", target=f"import:{job.pk}", detail={"file": job.file_name})
    job.delete()


# ------------------------------------------------------------------------------------------------ export


def export_to_file(
    *, entity: str, user: User, path: str | Path, file_format: str = "csv", filters: DealFilters | None = None
) -> int:
    """Write one export to a file (the CLI), audited; returns the number of records."""
    count = export_write(entity=entity, user=user, path=path, file_format=file_format, filters=filters)
    export_audit(user=user, entity=entity, file_format=file_format, count=count, filters=filters)
    return count


def export_audit(
    *, user: User, entity: str, file_format: str, count: int | None = None, filters: DealFilters | None = None
) -> None:
    """Record who exported what (exports carry customer data out of the system)."""
    detail: dict[str, Any] = {"format": file_format}
    if count is not None:
        detail["rows"] = count
    if filters is not None:
        detail["filters"] = {
            key: str(value) for key, value in vars(filters).items() if value not in (None, False, "")
        }
    audit_record(actor=user, action=f"export.{entity}", target=entity, detail=detail)


ENTITIES = [entity.value for entity in Entity]
