"""The deal page: fields edited in place, stage bar, timeline, activities, win/lose/reopen, upsell, new deal.

Every form on the page carries the deal's ``version`` and a signed ``snapshot`` of the values the user saw.
When a service refuses a stale version (ConflictError) the page lists, field by field, what the deal held
when the user opened it, what it holds now (theirs) and what the user submitted (yours), and offers to
re-apply the user's change on top of the current version instead of overwriting blindly.

The views are here; what they render with (the page's context, the conflict report) is in deal_page.py.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dealflow.accounts.models import User
from dealflow.accounts.selectors import user_get_assignable_for_user
from dealflow.contacts.selectors import organization_list_for_user
from dealflow.contacts.services import organization_create
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.deals.models import (
    Deal,
    DealStatus,
)
from dealflow.deals.selectors import (
    deal_get_for_user,
    pipeline_get_default,
    user_check_can_write,
)
from dealflow.deals.services import (
    activity_create,
    deal_create,
    deal_mark_lost,
    deal_mark_won,
    deal_move_to_stage,
    deal_reopen,
    deal_update,
)
from dealflow.deals.services.trash import follow_up_note_text
from dealflow.web.forms import form_add_application_error
from dealflow.web.forms.deals import (
    DEAL_FIELD_FORMS,
    DealActivityForm,
    DealCreateForm,
    DealLostForm,
    DealReopenForm,
    DealStageForm,
    DealWonForm,
)
from dealflow.web.views.deal_page import perform, workspace_context
from dealflow.web.views.workspace import (
    AuthenticatedRequest,
    permission_errors_as_403,
)

# ---- Views ----------------------------------------------------------------------------------------


@login_required
@require_GET
def deal_detail(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """The deal workspace."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user)
    return render(request, "web/deal/detail.html", workspace_context(request, deal))


def organization_for_name(*, name: str, user: User) -> Any:
    """An organization the user can see with this name (any case), else a new company-wide one."""
    text = (name or "").strip()
    if not text:
        return None
    existing = organization_list_for_user(user=user).filter(name__iexact=text).first()
    return existing or organization_create(name=text, by=user)


@login_required
@require_POST
@permission_errors_as_403
def deal_field_update(request: AuthenticatedRequest, deal_id: int, field: str) -> HttpResponse:
    """Save one in-place field of the deal page."""
    form_class = DEAL_FIELD_FORMS.get(field)
    if form_class is None:
        raise Http404("No such field.")
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    form = form_class(request.POST, user=request.user, deal=deal)

    def save(version: int | None) -> Deal:
        data = form.update_data()
        if "organization" in data:
            data["organization"] = organization_for_name(name=data["organization"], user=request.user)
        if "owner" in data and data["owner"].pk != deal.owner_id:
            data["owner"] = user_get_assignable_for_user(user_id=data["owner"].pk, user=request.user)
        return deal_update(deal=deal, by=request.user, data=data, expected_version=version, origin="web")

    return perform(request, deal, field, form, save, success=_("Saved."))


@login_required
@require_POST
@permission_errors_as_403
def deal_stage_update(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """Move the deal to another open stage (the stage bar)."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    form = DealStageForm(request.POST, deal=deal)
    return perform(
        request,
        deal,
        "stage",
        form,
        lambda version: deal_move_to_stage(
            deal=deal,
            stage=form.cleaned_data["stage"],
            by=request.user,
            expected_version=version,
            origin="web",
        ),
        success=_("Stage changed."),
    )


@login_required
@require_POST
@permission_errors_as_403
def deal_mark_won_view(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """Close the deal as won."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    form = DealWonForm(request.POST, deal=deal)
    return perform(
        request,
        deal,
        "won",
        form,
        lambda version: deal_mark_won(
            deal=deal, by=request.user, note=form.cleaned_data["note"], expected_version=version, origin="web"
        ),
        success=_("The deal is won. A post-sale follow-up is scheduled."),
    )


@login_required
@require_POST
@permission_errors_as_403
def deal_mark_lost_view(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """Close the deal as lost, with a reason."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    form = DealLostForm(request.POST, deal=deal)
    return perform(
        request,
        deal,
        "lost",
        form,
        lambda version: deal_mark_lost(
            deal=deal,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
            by=request.user,
            expected_version=version,
            origin="web",
        ),
        success=_("The deal is marked lost."),
    )


@login_required
@require_POST
@permission_errors_as_403
def deal_reopen_view(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """Reopen a won or lost deal."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    form = DealReopenForm(request.POST, deal=deal)
    return perform(
        request,
        deal,
        "reopen",
        form,
        lambda version: deal_reopen(
            deal=deal,
            stage=form.cleaned_data["stage"],
            by=request.user,
            expected_version=version,
            origin="web",
        ),
        success=lambda: " ".join(
            part for part in (_("The deal is open again."), follow_up_note_text(deal)) if part
        ),
    )


@login_required
@require_POST
@permission_errors_as_403
def deal_activity_create(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """Log a note, call, meeting or e-mail on the deal, or plan a task."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    form = DealActivityForm(request.POST)

    def create(version: int | None) -> Any:
        data = form.cleaned_data
        # A note is done when written (the service sets it); "already done" logs a past call or meeting.
        done_at = (data["due_at"] or clock.now()) if data["is_done"] else None
        return activity_create(
            owner=request.user,
            by=request.user,
            deal=deal,
            person=deal.person,
            kind=data["kind"],
            subject=data["subject"],
            notes=data["notes"],
            due_at=data["due_at"],
            done_at=done_at,
            origin="web",
        )

    return perform(request, deal, "activity", form, create, success=_("Activity added."))


@login_required
@require_http_methods(["GET", "POST"])
@permission_errors_as_403
def deal_create_view(request: AuthenticatedRequest) -> HttpResponse:
    """A new deal; with ``?parent=<won deal>`` an upsell of that customer."""
    user = request.user
    user_check_can_write(user=user)
    parent = _parent_deal(request)
    initial = _create_initial(user, parent)
    if parent is None and request.GET.get("organization"):
        initial["organization"] = request.GET["organization"][:200]  # "New deal" on an organization's page
    form = DealCreateForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                owner = data["owner"]
                if owner.pk != user.pk:
                    owner = user_get_assignable_for_user(user_id=owner.pk, user=user)
                deal = deal_create(
                    title=data["title"],
                    owner=owner,
                    by=user,
                    pipeline=data["pipeline"],
                    stage=data["stage"],
                    amount=data["amount"],
                    currency=data["currency"],
                    expected_close_on=data["expected_close_on"],
                    organization=organization_for_name(name=data["organization"], user=user),
                    person=parent.person if parent else None,
                    source=data["source"],
                    parent=parent,
                    origin="web",
                )
        except PermissionDeniedError:
            raise
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            messages.success(request, _("Deal created."))
            return HttpResponseRedirect(reverse("web:deal_detail", args=[deal.pk]))
    status = 400 if request.method == "POST" else 200
    return render(request, "web/deal/create.html", {"form": form, "parent": parent}, status=status)


def _parent_deal(request: AuthenticatedRequest) -> Deal | None:
    raw = request.POST.get("parent") or request.GET.get("parent")
    if not raw:
        return None
    try:
        parent_id = int(raw)
    except ValueError as error:
        raise Http404("No such deal.") from error
    parent = deal_get_for_user(deal_id=parent_id, user=request.user)
    if parent.status != DealStatus.WON:
        raise Http404("An upsell starts from a won deal.")
    return parent


def _create_initial(user: Any, parent: Deal | None) -> dict[str, Any]:
    initial: dict[str, Any] = {"owner": user, "currency": "EUR", "pipeline": pipeline_get_default()}
    if parent is not None:
        initial.update(
            {
                "title": _("Upsell: %(title)s") % {"title": parent.title},
                "pipeline": parent.pipeline,
                "organization": parent.organization.name if parent.organization else "",
                "currency": parent.currency,
                "owner": parent.owner,
                "source": parent.source,
                "parent": parent.pk,
            }
        )
    return initial
