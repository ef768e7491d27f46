"""Background tasks (django-tasks): check and import an uploaded file while the browser polls progress."""

from __future__ import annotations

from django_tasks import task

from dealflow.importers import services
from dealflow.importers.models import ImportJob


@task()
def import_job_preview_task(job_id: int) -> str:
    """Check an uploaded file (the preview); returns the job's status."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    return services.import_job_preview(job=job).status


@task()
def import_job_apply_task(job_id: int) -> str:
    """Import an uploaded file for real; returns the job's status."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    return services.import_job_apply(job=job).status


@task()
def import_jobs_expire_task() -> int:
    """Fail running jobs whose worker died (the lease expired) and sweep upload folders of dead jobs."""
    expired = services.import_jobs_expire()
    services.import_uploads_sweep()
    return expired
