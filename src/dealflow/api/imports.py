"""Imports (upload, preview, answer, confirm, poll) and exports of what the caller may see."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from ninja import Body, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from dealflow.api.base import MAX_PAGE, ApiRequest
from dealflow.core.errors import ApplicationError
from dealflow.deals.selectors import DealFilters
from dealflow.importers.export import EXPORT_ENTITIES, export_csv_stream, export_queryset, export_xlsx_bytes
from dealflow.importers.mapping import ImportOptions, options_from_dict
from dealflow.importers.models import ImportJob
from dealflow.importers.selectors import (
    import_check_allowed,
    import_job_get_for_user,
    import_job_list_for_user,
)
from dealflow.importers.services import (
    export_audit,
    import_job_confirm,
    import_job_create,
    import_job_delete,
    import_job_enqueue,
    import_job_progress,
    import_job_retry,
    import_job_set_options,
    import_jobs_expire,
)

router = Router(tags=["Imports"])


class ImportJobOut(Schema):
    id: int
    file_name: str
    file_size: int
    status: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    progress: dict[str, Any]
    options: dict[str, Any]
    preview: dict[str, Any]
    result: dict[str, Any]
    error: str

    @staticmethod
    def resolve_progress(job: ImportJob) -> dict[str, Any]:
        return import_job_progress(job=job)


class ImportStartIn(Schema):
    preset: str = ""
    mapping_id: int | None = None


class ImportConfirmIn(Schema):
    keep_valid: bool = False


@router.post("/imports", response={201: ImportJobOut})
def import_upload(request: ApiRequest, file: File[UploadedFile], payload: Form[ImportStartIn]):
    """Upload a CSV, XLSX or ZIP file; its check (the preview) runs in the background. Poll the job."""
    job = import_job_create(by=request.user, upload=file)
    import_job_set_options(
        job=job, options=ImportOptions(preset=payload.preset, mapping_id=payload.mapping_id)
    )
    return Status(201, import_job_enqueue(job=job, step="preview"))


@router.get("/imports", response=list[ImportJobOut])
def import_list(request: ApiRequest, limit: int = 20):
    """The caller's uploads (an admin sees all), newest first."""
    import_check_allowed(user=request.user)
    return list(import_job_list_for_user(user=request.user)[: max(1, min(limit, MAX_PAGE))])


@router.get("/imports/{job_id}", response=ImportJobOut)
def import_get(request: ApiRequest, job_id: int):
    """One upload: status, progress, the preview's counts, problems and questions, or the outcome."""
    import_jobs_expire()  # a job whose worker died answers "failed" with the reason
    return import_job_get_for_user(job_id=job_id, user=request.user)


@router.post("/imports/{job_id}/retry", response=ImportJobOut)
def import_retry(request: ApiRequest, job_id: int):
    """Check a failed upload again (for example after its worker died); 400 unless it failed."""
    job = import_job_get_for_user(job_id=job_id, user=request.user)
    return import_job_retry(job=job, by=request.user)


@router.delete("/imports/{job_id}", response={204: None})
def import_delete(request: ApiRequest, job_id: int):
    """Delete an upload and its file; 400 while it runs (unless its worker died)."""
    job = import_job_get_for_user(job_id=job_id, user=request.user)
    import_job_delete(job=job, by=request.user)
    return Status(204, None)


@router.post("/imports/{job_id}/options", response=ImportJobOut)
def import_set_options(request: ApiRequest, job_id: int, payload: Body[dict[str, Any]]):
    """Set the mapping and the answers (the keys of a TOML mapping file, as JSON) and check the file again."""
    import_check_allowed(user=request.user)
    job = import_job_get_for_user(job_id=job_id, user=request.user)
    import_job_set_options(job=job, options=options_from_dict(payload, where="options"))
    return import_job_enqueue(job=job, step="preview")


@router.post("/imports/{job_id}/confirm", response=ImportJobOut)
def import_confirm(request: ApiRequest, job_id: int, payload: ImportConfirmIn):
    """Import the checked file for real: all rows or none (or, with keep_valid, the valid rows)."""
    job = import_job_get_for_user(job_id=job_id, user=request.user)
    return import_job_confirm(job=job, by=request.user, keep_valid=payload.keep_valid)


@router.get("/exports/{entity}", response={200: None})
def export(request: ApiRequest, entity: str, format: str = "csv"):
    """Deals, leads, organizations, persons, activities or events as CSV or XLSX; deal list filters apply."""
    if entity not in EXPORT_ENTITIES:
        raise ApplicationError(
            f"Unknown export {entity!r}; use one of {', '.join(EXPORT_ENTITIES)}.", field="entity"
        )
    if format not in ("csv", "xlsx"):
        raise ApplicationError("format must be csv or xlsx.", field="format")
    filters = DealFilters.from_mapping(request.GET) if entity in ("deals", "events") else None
    columns, records = export_queryset(entity=entity, user=request.user, filters=filters)
    export_audit(user=request.user, entity=entity, file_format=format, filters=filters)
    response: HttpResponse | StreamingHttpResponse
    if format == "xlsx":
        response = HttpResponse(
            export_xlsx_bytes(columns, records, entity),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        response = StreamingHttpResponse(
            export_csv_stream(columns, records), content_type="text/csv; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="dealflow-{entity}.{format}"'
    return response
