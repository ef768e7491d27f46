"""Reads of import jobs and saved mappings, with who may import."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from dealflow.accounts.models import User
from dealflow.accounts.selectors import user_access_scope
from dealflow.core.errors import PermissionDeniedError
from dealflow.importers.models import ImportJob, ImportMapping


def import_check_allowed(*, user: User) -> None:
    """Admins import anything; managers import records owned by their teams; others may not import."""
    scope = user_access_scope(user=user)
    if scope.user_id is None or not (scope.is_admin or scope.is_manager):
        raise PermissionDeniedError("Only admins and managers may import.", field="user")


def import_job_list_for_user(*, user: User) -> QuerySet[ImportJob]:
    """The user's own import jobs (all jobs for an admin), newest first."""
    jobs = ImportJob.objects.select_related("created_by")
    if not user_access_scope(user=user).is_admin:
        jobs = jobs.filter(created_by=user)
    return jobs.order_by("-created_at", "-id")


def import_job_get_for_user(*, job_id: int, user: User) -> ImportJob:
    """One import job, or 404 when it is missing or someone else's."""
    job = import_job_list_for_user(user=user).filter(pk=job_id).first()
    if job is None:
        raise Http404("No such import.")
    return job


def import_mapping_list() -> QuerySet[ImportMapping]:
    return ImportMapping.objects.order_by("name")


def import_mapping_get(*, mapping_id: int) -> ImportMapping:
    mapping = ImportMapping.objects.filter(pk=mapping_id).first()
    if mapping is None:
        raise Http404("No such mapping.")
    return mapping
