"""Import wizard (upload -> mapping -> preview -> confirm -> progress) and exports of what the user may see."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dealflow.accounts.models import User
from dealflow.core.errors import ApplicationError
from dealflow.core.parameters import choice_parameter
from dealflow.deals.selectors import DealFilters
from dealflow.importers.export import EXPORT_ENTITIES, export_csv_stream, export_queryset, export_xlsx_bytes
from dealflow.importers.fields import ENTITY_LABELS, FIELDS, Entity
from dealflow.importers.mapping import ImportOptions, SheetOptions
from dealflow.importers.models import ImportJob, ImportStatus
from dealflow.importers.presets import PRESET_LABELS
from dealflow.importers.selectors import (
    import_check_allowed,
    import_job_get_for_user,
    import_job_list_for_user,
    import_mapping_list,
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
    import_mapping_save,
    import_preview,
)
from dealflow.web.views.deals import deal_filters_from_query
from dealflow.web.views.workspace import AuthenticatedRequest, is_htmx, permission_errors_as_403


@login_required
@permission_errors_as_403
@require_http_methods(["GET", "POST"])
def import_start(request: AuthenticatedRequest) -> HttpResponse:
    """Upload a file; its check (the preview) starts at once in the background."""
    import_check_allowed(user=request.user)
    error = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ApplicationError(_("Choose a file to upload."), field="file")
            job = import_job_create(by=request.user, upload=upload)
            options = ImportOptions(
                preset=request.POST.get("preset", ""), mapping_id=_int(request.POST.get("mapping"))
            )
            import_job_set_options(job=job, options=options)
            import_job_enqueue(job=job, step="preview")
            return redirect("web:import_detail", job_id=job.pk)
        except ApplicationError as failure:
            error = failure.message
    context = {
        "jobs": import_job_list_for_user(user=request.user)[:20],
        "mappings": import_mapping_list(),
        "presets": PRESET_LABELS,
        "error": error,
    }
    return render(request, "web/imports/start.html", context, status=400 if error else 200)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@login_required
@permission_errors_as_403
@require_GET
def import_detail(request: AuthenticatedRequest, job_id: int) -> HttpResponse:
    """One upload: its progress, its preview (mapping, questions, problems, counts) or its outcome."""
    import_check_allowed(user=request.user)
    import_jobs_expire()  # a job whose worker died shows as failed, with the reason, and can be retried
    job = import_job_get_for_user(job_id=job_id, user=request.user)
    return render(request, "web/imports/detail.html", _detail_context(job))


def _detail_context(job: ImportJob) -> dict[str, Any]:
    preview = job.preview or {}
    sheets = []
    for index, sheet in enumerate(preview.get("sheets", [])):
        entity = Entity(sheet["entity"])
        sheets.append(
            {
                "index": index,
                "sheet": sheet,
                "entity": entity.value,
                "columns": [(header, sheet["columns"].get(header, "")) for header in sheet["headers"]],
                "fields": [(spec.name, spec.label) for spec in FIELDS[entity]],
            }
        )
    return {
        "job": job,
        "preview": preview,
        "sheets": sheets,
        "entities": [(entity.value, label) for entity, label in ENTITY_LABELS.items()],
        "progress": import_job_progress(job=job),
        "options": ImportOptions.from_json(job.options),
        "users": User.objects.filter(is_active=True).order_by("username"),
        "can_save_mapping": len(preview.get("sheets", [])) == 1,
    }


@login_required
@permission_errors_as_403
@require_GET
def import_progress(request: AuthenticatedRequest, job_id: int) -> HttpResponse:
    """The progress bar, polled by HTMX; once the job stops running the page reloads itself."""
    import_jobs_expire()
    job = import_job_get_for_user(job_id=job_id, user=request.user)
    response = render(
        request, "web/imports/_progress.html", {"job": job, "progress": import_job_progress(job=job)}
    )
    if not job.is_running and is_htmx(request):
        response["HX-Refresh"] = "true"
    return response


def _options_from_post(job: ImportJob, data) -> ImportOptions:
    """The wizard's form (entities, column mapping, answers to the preview's questions) as ImportOptions."""
    options = ImportOptions.from_json(job.options)
    preview = job.preview or {}
    options.source = str(data.get("source", options.source) or "").strip()
    options.currency = str(data.get("currency", options.currency) or "").strip().upper()
    options.default_owner = str(data.get("default_owner", options.default_owner) or "")
    options.title_template = str(data.get("title_template", options.title_template) or "").strip()
    options.create_owners = data.get("create_owners") == "on"
    options.create_stages = data.get("create_stages") == "on"
    for index, sheet in enumerate(preview.get("sheets", [])):
        own = options.sheets.get(sheet["name"]) or SheetOptions()
        entity = data.get(f"entity-{index}")
        if entity:
            own.entity = entity
        if entity == sheet["entity"]:
            for column, header in enumerate(sheet["headers"]):
                name = data.get(f"column-{index}-{column}")
                if name is not None:
                    own.columns[header] = name
        else:
            own.columns = {}
        options.sheets[sheet["name"]] = own
    for index, question in enumerate(preview.get("questions", [])):
        answer = data.get(f"answer-{index}")
        if not answer:
            continue
        kind, key = question["kind"], question["key"]
        if kind == "undated" and answer == "date:":
            day = str(data.get(f"answer-date-{index}") or "")
            if not day:
                raise ApplicationError(_("Give the fixed date for the rows without a date."), field="undated")
            answer = f"date:{day}"
        if kind in ("dates", "decimal"):
            own = options.sheets.setdefault(question["sheet"], SheetOptions())
            getattr(own, "dates" if kind == "dates" else "decimal")[key] = answer
        else:
            getattr(options, kind)[key] = answer
    return options


@login_required
@permission_errors_as_403
@require_POST
def import_options(request: AuthenticatedRequest, job_id: int) -> HttpResponse:
    """Store the mapping and answers, then check the file again with them."""
    import_check_allowed(user=request.user)
    job = import_job_get_for_user(job_id=job_id, user=request.user)
    try:
        import_job_set_options(job=job, options=_options_from_post(job, request.POST))
        import_job_enqueue(job=job, step="preview")
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("web:import_detail", job_id=job.pk)


@login_required
@permission_errors_as_403
@require_POST
def import_confirm(request: AuthenticatedRequest, job_id: int) -> HttpResponse:
    """Import for real (in the background): all rows, or with keep_valid only the valid ones."""
    import_check_allowed(user=request.user)
    job = import_job_get_for_user(job_id=job_id, user=request.user)
    try:
        import_job_confirm(job=job, by=request.user, keep_valid=request.POST.get("keep_valid") == "on")
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("web:import_detail", job_id=job.pk)


@login_required
@permission_errors_as_403
@require_POST
def import_mapping_save_view(request: AuthenticatedRequest, job_id: int) -> HttpResponse:
    """Save this file's mapping under a name; files with the same headers get it automatically."""
    import_check_allowed(user=request.user)
    job = import_job_get_for_user(job_id=job_id, user=request.user)
    try:
        plan = import_preview(
            path=job.file_path,
            by=request.user,
            options=ImportOptions.from_json(job.options),
            name=job.file_name,
        )
        mapping = import_mapping_save(name=request.POST.get("name", ""), plan=plan, by=request.user)
        messages.success(request, _("Mapping %(name)s saved.") % {"name": mapping.name})
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("web:import_detail", job_id=job.pk)


@login_required
@permission_errors_as_403
@require_POST
def import_delete(request: AuthenticatedRequest, job_id: int) -> HttpResponse:
    """Forget an upload and delete its file."""
    job = import_job_get_for_user(job_id=job_id, user=request.user)
    try:
        import_job_delete(job=job, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("web:import_detail", job_id=job.pk)
    return redirect("web:import_start")


@login_required
@permission_errors_as_403
@require_POST
def import_retry(request: AuthenticatedRequest, job_id: int) -> HttpResponse:
    """Check a failed upload again (a worker that died, a file fixed on disk by an admin)."""
    job = import_job_get_for_user(job_id=job_id, user=request.user)
    try:
        import_job_retry(job=job, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("web:import_detail", job_id=job.pk)


@login_required
@require_GET
def import_rejects(request: AuthenticatedRequest, job_id: int) -> FileResponse:
    """The rows an import with keep_valid rejected, as CSV with the reasons."""
    job = import_job_get_for_user(job_id=job_id, user=request.user)
    if job.status != ImportStatus.DONE or not job.rejects_path:
        raise Http404("No rejected rows.")
    return FileResponse(
        open(job.rejects_path, "rb"), as_attachment=True, filename=f"rejected-{job.file_name}.csv"
    )


def _export_response(
    request: AuthenticatedRequest, entity: str, filters: DealFilters | None
) -> HttpResponseBase:
    file_format = choice_parameter(request.GET, "format", ("csv", "xlsx"), default="csv") or "csv"
    columns, records = export_queryset(entity=entity, user=request.user, filters=filters)
    export_audit(user=request.user, entity=entity, file_format=file_format, filters=filters)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response: HttpResponse | StreamingHttpResponse
    if file_format == "xlsx":
        response = HttpResponse(
            export_xlsx_bytes(columns, records, entity),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        response = StreamingHttpResponse(
            export_csv_stream(columns, records), content_type="text/csv; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="dealflow-{entity}-{stamp}.{file_format}"'
    return response


@login_required
@require_GET
def deal_export(request: AuthenticatedRequest) -> HttpResponseBase:
    """The deals list as it is filtered now, as CSV (or ?format=xlsx), with only the deals the user may see."""
    try:
        filters = deal_filters_from_query(request.GET)
    except ApplicationError as error:
        return HttpResponse(error.message, status=400, content_type="text/plain; charset=utf-8")
    return _export_response(request, "deals", filters)


@login_required
@require_GET
def export(request: AuthenticatedRequest, entity: str) -> HttpResponseBase:
    """Leads, organizations, persons, activities or events (of visible deals) as CSV or XLSX."""
    if entity not in EXPORT_ENTITIES:
        raise Http404("Unknown export.")
    try:
        filters = deal_filters_from_query(request.GET) if entity in ("deals", "events") else None
    except ApplicationError as error:
        return HttpResponse(error.message, status=400, content_type="text/plain; charset=utf-8")
    return _export_response(request, entity, filters)
