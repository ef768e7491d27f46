"""The leads inbox: open leads grouped by source, the qualification checklist, convert or disqualify."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import BooleanField, Case, Q, Value, When
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dealflow.accounts.selectors import owner_editable_q, user_get_assignable_for_user
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.core.pagination import CappedPaginator
from dealflow.core.parameters import boolean_parameter, text_parameter
from dealflow.deals.models import Lead, LeadStatus
from dealflow.deals.selectors import (
    lead_get_for_user,
    lead_inbox_rows,
    lead_list_for_user,
    pipeline_get_default,
    user_can_write,
    user_check_can_write,
)
from dealflow.deals.services import lead_convert, lead_create, lead_disqualify, lead_qualify, lead_update
from dealflow.web.forms import form_add_application_error
from dealflow.web.forms.leads import (
    CHECKLIST,
    LeadChecklistForm,
    LeadConvertForm,
    LeadCreateForm,
    LeadDisqualifyForm,
)
from dealflow.web.views.deal import organization_for_name
from dealflow.web.views.workspace import AuthenticatedRequest, is_htmx, permission_errors_as_403

INBOX_STATUSES = f"{LeadStatus.NEW},{LeadStatus.WORKING},{LeadStatus.QUALIFIED}"
# 25 cards a page: 50 made 193 KB of HTML and 300-400 ms at 1M deals (issue #19); 298 on one page, 27,000 px
# (issue 15).
INBOX_PAGE_SIZE = 25
CHECKLIST_FIELDS = [name for name, _label, _help in CHECKLIST] + ["qualification_notes"]


def _checklist_form(lead: Lead, data: Any = None) -> LeadChecklistForm:
    initial = {name: getattr(lead, name) for name in CHECKLIST_FIELDS}
    return LeadChecklistForm(data, initial=initial, prefix=f"lead-{lead.pk}")


def _lead_card(lead: Lead, form: LeadChecklistForm | None = None, *, can_edit: bool = True) -> dict[str, Any]:
    """What ``_lead.html`` shows of one lead: the checklist's inputs as plain values (name, id, label, ticked),
    which the template writes out itself; Django's widget templates took half the inbox's time (issue #19)."""
    form = form or _checklist_form(lead)
    checks = []
    for name, label, help_text in CHECKLIST:
        field = form[name]
        checks.append(
            {
                "name": field.html_name,
                "id": field.auto_id,
                "label": label,
                "help": help_text,
                "checked": bool(field.value()),
            }
        )
    notes = form["qualification_notes"]
    return {
        "lead": lead,
        "form": form,
        "checks": checks,
        "notes": {"name": notes.html_name, "id": notes.auto_id, "value": notes.value() or ""},
        "disqualify_reason_label": LeadDisqualifyForm.base_fields["reason"].label,
        "can_edit": can_edit,
    }


@login_required
@require_GET
def lead_inbox(request: AuthenticatedRequest) -> HttpResponse:
    """New, working and qualified (not yet converted) leads, grouped by source."""
    search = text_parameter(request.GET, "q")
    mine = boolean_parameter(request.GET, "mine")
    leads = lead_list_for_user(
        user=request.user, status=INBOX_STATUSES, search=search, owner_id=request.user.pk if mine else None
    ).order_by("source__order", "source__name", "-created_at", "-id")
    may_edit = owner_editable_q(user=request.user)
    leads = leads.annotate(
        is_editable=Value(True)
        if may_edit == Q()
        else Case(When(may_edit, then=Value(True)), default=Value(False), output_field=BooleanField())
    )
    # Read source by source (issue #19).
    page = CappedPaginator(
        leads,
        INBOX_PAGE_SIZE,
        rows=lambda offset, limit: lead_inbox_rows(leads=leads, offset=offset, limit=limit),
    ).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    # A teammate's lead (team visibility) is shown read-only: the page's leads say which the user may change.
    editable = {lead.pk for lead in shown if lead.is_editable}
    groups: list[dict[str, Any]] = []
    for lead in shown:
        if not groups or groups[-1]["source"].pk != lead.source_id:
            groups.append({"source": lead.source, "cards": []})
        groups[-1]["cards"].append(_lead_card(lead, can_edit=lead.pk in editable))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "groups": groups,
        "page": page,
        "query": query.urlencode(),
        "search": search or "",
        "mine": mine,
        "count": page.paginator.count,
        "can_write": user_can_write(user=request.user),
    }
    return render(request, "web/leads/inbox.html", context)


@login_required
@require_POST
@permission_errors_as_403
def lead_checklist(request: AuthenticatedRequest, lead_id: int) -> HttpResponse:
    """Save the qualification checklist of one lead (HTMX re-renders its card)."""
    lead = lead_get_for_user(lead_id=lead_id, user=request.user, for_write=True)
    form = _checklist_form(lead, request.POST)
    if form.is_valid():
        try:
            lead = lead_update(lead=lead, data=form.cleaned_data, by=request.user)
        except PermissionDeniedError:
            raise
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            form = _checklist_form(lead)
            if not is_htmx(request):
                messages.success(request, _("Checklist saved."))
                return HttpResponseRedirect(reverse("web:lead_inbox"))
    return render(
        request, "web/leads/_lead.html", _lead_card(lead, form), status=200 if is_htmx(request) else 400
    )


@login_required
@require_http_methods(["GET", "POST"])
@permission_errors_as_403
def lead_create_view(request: AuthenticatedRequest) -> HttpResponse:
    """A new lead."""
    user = request.user
    user_check_can_write(user=user)
    form = LeadCreateForm(request.POST or None, user=user, initial={"owner": user})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                owner = data["owner"]
                if owner.pk != user.pk:
                    owner = user_get_assignable_for_user(user_id=owner.pk, user=user)
                lead_create(
                    title=data["title"],
                    source=data["source"],
                    owner=owner,
                    by=user,
                    organization=organization_for_name(name=data["organization"], user=user),
                    **{name: data[name] for name in CHECKLIST_FIELDS},
                )
        except PermissionDeniedError:
            raise
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            messages.success(request, _("Lead created."))
            return HttpResponseRedirect(reverse("web:lead_inbox"))
    return render(request, "web/leads/create.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
@permission_errors_as_403
def lead_convert_view(request: AuthenticatedRequest, lead_id: int) -> HttpResponse:
    """Qualify the lead (if not yet) and turn it into a deal in the chosen pipeline."""
    user = request.user
    lead = lead_get_for_user(lead_id=lead_id, user=user, for_write=request.method == "POST")
    initial = {name: getattr(lead, name) for name in CHECKLIST_FIELDS}
    initial.update({"title": lead.title, "pipeline": pipeline_get_default(), "currency": "EUR"})
    form = LeadConvertForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                if lead.status != LeadStatus.QUALIFIED:
                    lead = lead_qualify(lead=lead, by=user, **{name: data[name] for name in CHECKLIST_FIELDS})
                deal = lead_convert(
                    lead=lead,
                    by=user,
                    title=data["title"],
                    pipeline=data["pipeline"],
                    amount=data["amount"],
                    currency=data["currency"],
                    expected_close_on=data["expected_close_on"],
                    origin="web",
                )
        except PermissionDeniedError:
            raise
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            messages.success(request, _("The lead is now a deal."))
            return HttpResponseRedirect(reverse("web:deal_detail", args=[deal.pk]))
    context = {"lead": lead, "form": form, "checklist": CHECKLIST}
    return render(request, "web/leads/convert.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
@permission_errors_as_403
def lead_disqualify_view(request: AuthenticatedRequest, lead_id: int) -> HttpResponse:
    """Close a lead as disqualified, with the reason."""
    lead = lead_get_for_user(lead_id=lead_id, user=request.user, for_write=True)
    form = LeadDisqualifyForm(request.POST)
    try:
        if not form.is_valid():
            raise ApplicationError(_("Say why the lead is disqualified."), field="reason")
        lead_disqualify(lead=lead, reason=form.cleaned_data["reason"], by=request.user)
    except PermissionDeniedError:
        raise
    except ApplicationError as error:
        messages.error(request, f"{lead.title}: {error.message}")
    else:
        messages.success(request, _("Lead disqualified: %(title)s") % {"title": lead.title})
    return HttpResponseRedirect(reverse("web:lead_inbox"))
