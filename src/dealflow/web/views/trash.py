"""Delete (to the trash), undo, restore and purge from the web UI, and the trash page.

A delete from a detail page redirects to the list with a message that carries an Undo button for a few
seconds (it posts to restore); a delete from a list row (HTMX) removes the row and raises the same toast.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dealflow.accounts.selectors import user_is_admin
from dealflow.contacts.selectors import organization_get_for_user, person_get_for_user
from dealflow.core.errors import ApplicationError
from dealflow.core.parameters import is_number
from dealflow.deals.selectors import (
    activity_get_for_user,
    deal_get_for_user,
    lead_get_for_user,
    user_check_can_write,
)
from dealflow.deals.services.trash import deal_delete
from dealflow.directory.trash import (
    TRASH_KINDS,
    contact_dependents,
    trash_delete,
    trash_get_for_user,
    trash_list_for_user,
    trash_purge,
    trash_restore,
)
from dealflow.web.views.workspace import AuthenticatedRequest, is_htmx, permission_errors_as_403, safe_next

LISTS = {
    "deal": "web:deal_list",
    "lead": "web:lead_inbox",
    "organization": "web:organization_list",
    "person": "web:person_list",
    "activity": "web:my_activities",
}
DETAILS = {
    "deal": "web:deal_detail",
    "organization": "web:organization_detail",
    "person": "web:person_detail",
}


def _kind(kind: str) -> str:
    if kind not in TRASH_KINDS:
        raise Http404("No such kind of record.")
    return kind


def _record_for_write(kind: str, record_id: int, user: Any) -> Any:
    """The record through its own gate: 404 for what the user may not see, 403 for a read-only role."""
    if kind == "deal":
        return deal_get_for_user(deal_id=record_id, user=user, for_write=True)
    if kind == "lead":
        return lead_get_for_user(lead_id=record_id, user=user, for_write=True)
    if kind == "activity":
        return activity_get_for_user(activity_id=record_id, user=user, for_write=True)
    if kind == "organization":
        return organization_get_for_user(organization_id=record_id, user=user, for_write=True)
    return person_get_for_user(person_id=record_id, user=user, for_write=True)


def _undo_toast(text: str, url: str) -> str:
    return json.dumps({"dealflow:toast": {"text": text, "level": "success", "undo": {"url": url}}})


def _error(error: ApplicationError) -> HttpResponse:
    response = HttpResponse(error.message, status=error.status_code, content_type="text/plain; charset=utf-8")
    response["HX-Trigger"] = json.dumps({"dealflow:toast": {"text": error.message, "level": "error"}})
    return response


def _restore_url(kind: str, record_id: int) -> str:
    return reverse("web:trash_restore", args=[kind, record_id])


@login_required
@require_POST
@permission_errors_as_403
def record_delete(request: AuthenticatedRequest, kind: str, record_id: int) -> HttpResponse:
    """Move a record to the trash; answer with an Undo that posts to restore."""
    kind = _kind(kind)
    record = _record_for_write(kind, record_id, request.user)
    user_check_can_write(user=request.user)
    version = request.POST.get("version") or ""
    name = str(record)
    try:
        if kind == "deal":
            deal_delete(
                deal=record,
                by=request.user,
                expected_version=int(version) if is_number(version) else None,
                origin="web",
            )
        else:
            with_records = request.POST.get("with_records") == "1"
            trash_delete(kind=kind, record=record, by=request.user, with_records=with_records)
    except ApplicationError as error:
        if is_htmx(request):
            return _error(error)
        messages.error(request, error.message)
        back = reverse(DETAILS[kind], args=[record_id]) if kind in DETAILS else reverse(LISTS[kind])
        return HttpResponseRedirect(safe_next(request, back))
    text = _("“%(name)s” is in the trash.") % {"name": name}
    if is_htmx(request):
        response = HttpResponse("")
        response["HX-Trigger"] = _undo_toast(text, _restore_url(kind, record_id))
        return response
    messages.success(request, text, extra_tags="undo:" + _restore_url(kind, record_id))
    return HttpResponseRedirect(reverse(LISTS[kind]))


@login_required
@require_POST
@permission_errors_as_403
def record_restore(request: AuthenticatedRequest, kind: str, record_id: int) -> HttpResponse:
    """Bring a record back (the Undo button and the trash page); go to it, or back to the trash page."""
    kind = _kind(kind)
    record = trash_get_for_user(kind=kind, record_id=record_id, user=request.user)
    fallback = reverse(DETAILS[kind], args=[record_id]) if kind in DETAILS else reverse(LISTS[kind])
    try:
        trash_restore(kind=kind, record=record, by=request.user)
    except ApplicationError as error:
        if is_htmx(request):
            return _error(error)
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("web:trash"))
    messages.success(request, _("“%(name)s” is back.") % {"name": str(record)})
    target = safe_next(request, fallback)
    if is_htmx(request):
        response = HttpResponse("")
        response["HX-Redirect"] = target
        return response
    return HttpResponseRedirect(target)


@login_required
@require_POST
@permission_errors_as_403
def record_purge(request: AuthenticatedRequest, kind: str, record_id: int) -> HttpResponse:
    """Delete a record in the trash for good (admins; the form asks for confirmation first)."""
    kind = _kind(kind)
    record = trash_get_for_user(kind=kind, record_id=record_id, user=request.user)
    name = str(record)
    try:
        trash_purge(kind=kind, record=record, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("“%(name)s” is purged for good.") % {"name": name})
    return HttpResponseRedirect(reverse("web:trash"))


@login_required
@require_GET
def trash_page(request: AuthenticatedRequest) -> HttpResponse:
    """What the user may see in the trash: all for admins, else what they deleted themselves."""
    kind = request.GET.get("kind") or None
    if kind is not None and kind not in TRASH_KINDS:
        kind = None
    items = trash_list_for_user(user=request.user, kind=kind)
    return render(
        request,
        "web/trash/trash.html",
        {
            "items": items,
            "kind": kind or "",
            "kinds": TRASH_KINDS,
            "is_admin": user_is_admin(user=request.user),
        },
    )


def delete_context(*, contact: Any) -> dict[str, Any]:
    """What a contact page's delete form says: how many deals, leads and people would go with it."""
    dependents = contact_dependents(contact=contact)
    return {"delete_dependents": dependents.describe() if dependents.total else ""}
