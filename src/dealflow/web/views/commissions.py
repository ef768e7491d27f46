"""Commissions pages: a rep's earnings, statements with the manager's workflow and exports, disputes,
and the deal page's what-if and splits. Plans: commission_plans.py; leaderboards and contests:
commission_contests.py."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dealflow.accounts.selectors import user_is_manager, user_list_visible
from dealflow.commissions import exports, insights, selectors
from dealflow.commissions.models import (
    Badge,
)
from dealflow.commissions.services import disputes, documents, splits, statements
from dealflow.commissions.services.plans import money_of
from dealflow.core import clock
from dealflow.core.downloads import file_response
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.core.parameters import is_number
from dealflow.deals.selectors import deal_get_for_user, user_can_write
from dealflow.deals.services.money import base_currency
from dealflow.web.views.workspace import AuthenticatedRequest, is_htmx, permission_errors_as_403


def _signed_minor(text: str, field: str) -> int:
    value = (text or "").strip()
    minor = money_of(value.lstrip("-+"), field=field)
    return -minor if value.startswith("-") else minor


def _back(request: AuthenticatedRequest, name: str, *args: Any) -> HttpResponseRedirect:
    return HttpResponseRedirect(
        reverse(name, args=args) + (f"?{request.GET.urlencode()}" if request.GET else "")
    )


# ----------------------------------------------------------------------------------------- earnings
@login_required
@require_GET
def earnings(request: AuthenticatedRequest) -> HttpResponse:
    """My earnings: this period so far, the next tier, the lines, what-if on my open deals, my badges."""
    today = clock.today()
    try:
        period = (
            selectors.period_parse(request.GET.get("period"), today=today)
            if request.GET.get("period")
            else None
        )
    except PermissionDeniedError:
        raise  # a 403 (permission_errors_as_403), not a message
    except ApplicationError as error:
        messages.error(request, error.message)
        period = None
    data = insights.earnings_for_user(user=request.user, today=today, period=period)
    open_deals = list(selectors.open_deals_of(user=request.user).order_by("-amount_minor")[:15])
    what_if = insights.what_if_for_deals(
        user=request.user, deals=open_deals, today=today, earnings=data if period is None else None
    )
    context = {
        "earnings": data,
        "currency": base_currency(),
        "deals": [(deal, what_if.get(deal.pk)) for deal in open_deals],
        "badges": Badge.objects.filter(user=request.user),
        "statements": selectors.statement_list_for_user(user=request.user, person_id=request.user.pk)[:12],
    }
    return render(request, "commissions/earnings.html", context)


@login_required
@require_GET
def deal_what_if(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """The deal page's commission panel (HTMX partial): "winning this adds EUR 1,240", the split and its
    history, and the form to change the split."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user)
    adds = insights.what_if_for_deals(user=request.user, deals=[deal], today=clock.today()).get(deal.pk)
    context = {
        "deal": deal,
        "adds": adds,
        "currency": base_currency(),
        "splits": selectors.deal_split_history(deal=deal),
        "people": user_list_visible(user=request.user),
        "can_edit": user_can_write(user=request.user),
        "rows": range(3),
    }
    return render(request, "commissions/_what_if.html", context)


@login_required
@require_POST
@permission_errors_as_403
def deal_split(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """Replace the deal's split from now on (people and shares adding up to 100; none: the owner)."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    people = {person.pk: person for person in user_list_visible(user=request.user)}
    shares = []
    try:
        for user_id, share in zip(request.POST.getlist("user"), request.POST.getlist("share"), strict=False):
            if not user_id and not share.strip():
                continue
            person = people.get(int(user_id)) if is_number(user_id) else None
            if person is None:
                raise ApplicationError(_("Pick a person for each share."), field="shares")
            shares.append((person, share))
        splits.deal_split_set(deal=deal, shares=shares, by=request.user, note=request.POST.get("note", ""))
        messages.success(request, _("Split saved."))
    except PermissionDeniedError:
        raise
    except ApplicationError as error:
        messages.error(request, error.message)
    return HttpResponseRedirect(reverse("web:deal_detail", args=[deal.pk]))


@login_required
@require_GET
def celebration(request: AuthenticatedRequest) -> HttpResponse:
    """The board's win celebration script, unless the user switched it off (HTMX partial)."""
    preference = selectors.preference_for(user=request.user)
    return render(request, "commissions/_celebration.html", {"is_on": preference.is_celebration_on})


@login_required
@require_GET
def board_what_if(request: AuthenticatedRequest) -> HttpResponse:
    """What winning each of the user's open deals adds, for the board cards (HTMX partial: a script puts
    each amount on its card); nothing unless the user switched the board what-if on."""
    adds = insights.board_what_if_for_user(user=request.user, today=clock.today())
    context = {"adds": sorted(adds.items()), "currency": base_currency()}
    return render(request, "commissions/_board_what_if_data.html", context)


# --------------------------------------------------------------------------------------- statements
@login_required
@require_GET
def statement_list(request: AuthenticatedRequest) -> HttpResponse:
    """Statements of a period the user may see; managers recompute, approve and export here."""
    try:
        period = selectors.period_parse(request.GET.get("period"), today=clock.today())
    except PermissionDeniedError:
        raise  # a 403 (permission_errors_as_403), not a message
    except ApplicationError as error:
        messages.error(request, error.message)
        period = selectors.period_parse(None, today=clock.today())
    rows = selectors.statement_list_for_user(user=request.user, period_key=period.key)
    context = {
        "period": period,
        "statements": rows,
        "currency": base_currency(),
        "is_manager": user_is_manager(user=request.user),
        "previous": period.previous().key,
        "next": period.next().key,
    }
    return render(request, "commissions/statements.html", context)


@login_required
@require_POST
@permission_errors_as_403
def statement_recompute(request: AuthenticatedRequest) -> HttpResponse:
    """Recompute the period's drafts for the people the user may see."""
    try:
        period = selectors.period_parse(request.POST.get("period"), today=clock.today())
        people = list(selectors.people_for_statements(user=request.user).values_list("pk", flat=True))
        saved = statements.statements_recompute(period=period, user_ids=people, by=request.user)
        messages.success(request, _("%(count)s statements recomputed.") % {"count": len(saved)})
    except PermissionDeniedError:
        raise  # a 403 (permission_errors_as_403), not a message
    except ApplicationError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("web:commission_statements"))
    return HttpResponseRedirect(reverse("web:commission_statements") + f"?period={period.key}")


# Lines a statement page shows at a time: a rep's draft with its dispute forms takes about 780 bytes a line, and a
# page stays under 200 KB of HTML (issue #19) whatever the statement holds (516 lines in the 1M-deal demo).
STATEMENT_LINES_PAGE = 100


@login_required
@require_GET
def statement_detail(request: AuthenticatedRequest, statement_id: int) -> HttpResponse:
    statement = selectors.statement_get_for_user(statement_id=statement_id, user=request.user)
    page = Paginator(selectors.statement_lines_queryset(statement=statement), STATEMENT_LINES_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "statement": statement,
        "lines": page.object_list,
        "page": page,
        "can_manage": selectors.statement_can_manage(statement=statement, user=request.user),
        "is_mine": statement.user_id == request.user.pk,
        "disputes": statement.disputes.prefetch_related("messages__author").select_related("opened_by"),
    }
    return render(request, "commissions/statement.html", context)


@login_required
@require_POST
@permission_errors_as_403
def statement_action(request: AuthenticatedRequest, statement_id: int, action: str) -> HttpResponse:
    """approve, return (to draft, with a reason), pay, adjust (signed amount + reason)."""
    statement = selectors.statement_get_for_user(statement_id=statement_id, user=request.user)
    data = request.POST
    try:
        if action == "approve":
            statements.statement_approve(statement=statement, by=request.user)
        elif action == "return":
            statements.statement_return_to_draft(
                statement=statement, by=request.user, reason=data.get("reason", "")
            )
        elif action == "pay":
            statements.statement_mark_paid(statement=statement, by=request.user)
        elif action == "adjust":
            statements.statement_adjust(
                statement=statement,
                amount_minor=_signed_minor(data.get("amount", ""), "amount"),
                reason=data.get("reason", ""),
                by=request.user,
            )
        elif action == "recompute":
            statements.statement_recompute(
                user=statement.user,
                period=selectors.period_parse(statement.period_key, today=clock.today()),
                by=request.user,
            )
        else:
            raise ApplicationError(_("Unknown action."), field="action")
        messages.success(request, _("Done."))
    except PermissionDeniedError:
        raise  # a 403 (permission_errors_as_403), not a message
    except ApplicationError as error:
        messages.error(request, error.message)
    return HttpResponseRedirect(reverse("web:commission_statement", args=[statement.pk]))


@login_required
@require_GET
def statement_pdf(request: AuthenticatedRequest, statement_id: int) -> HttpResponseBase:
    """The kept PDF when it is current; else a page that waits for the worker to draw it (202), polled by
    HTMX until it offers the download."""
    statement = selectors.statement_get_for_user(statement_id=statement_id, user=request.user)
    document = documents.statement_pdf_get(statement=statement)
    if document.pdf is not None and not is_htmx(request):
        return file_response(request, document.download())
    context = {"statement": statement, "document": document}
    if is_htmx(request):
        return render(request, "commissions/_statement_pdf_wait.html", context)
    return render(request, "commissions/statement_pdf_wait.html", context, status=202)


@login_required
@require_GET
def payroll_export(request: AuthenticatedRequest, export_format: str) -> HttpResponse:
    """The period's statements the user may see, as CSV or XLSX."""
    from dealflow.accounts.services import audit_record

    try:
        period = selectors.period_parse(request.GET.get("period"), today=clock.today())
    except PermissionDeniedError:
        raise  # a 403 (permission_errors_as_403), not a message
    except ApplicationError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("web:commission_statements"))
    rows = selectors.statement_list_for_user(user=request.user, period_key=period.key)
    audit_record(
        actor=request.user,
        action="commissions.payroll_exported",
        target=period.key,
        detail={"format": export_format, "count": rows.count()},
    )
    if export_format == "xlsx":
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        response = HttpResponse(exports.payroll_xlsx(statements=rows), content_type=content_type)
    else:
        response = HttpResponse(exports.payroll_csv(statements=rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="payroll-{period.key}.{export_format}"'
    return response


# ----------------------------------------------------------------------------------------- disputes
@login_required
@require_POST
@permission_errors_as_403
def dispute_open(request: AuthenticatedRequest, statement_id: int) -> HttpResponse:
    statement = selectors.statement_get_for_user(statement_id=statement_id, user=request.user)
    line_id = request.POST.get("line") or ""
    line = statement.lines.filter(pk=int(line_id)).first() if is_number(line_id) else None
    try:
        disputes.dispute_open(
            statement=statement, line=line, body=request.POST.get("body", ""), by=request.user
        )
        messages.success(request, _("Your question went to your manager."))
    except PermissionDeniedError:
        raise  # a 403 (permission_errors_as_403), not a message
    except ApplicationError as error:
        messages.error(request, error.message)
    return HttpResponseRedirect(reverse("web:commission_statement", args=[statement.pk]))


@login_required
@require_POST
@permission_errors_as_403
def dispute_action(request: AuthenticatedRequest, dispute_id: int, action: str) -> HttpResponse:
    """reply, or resolve (with an adjustment amount, or a note)."""
    dispute = selectors.dispute_get_for_user(dispute_id=dispute_id, user=request.user)
    try:
        if action == "reply":
            disputes.dispute_reply(dispute=dispute, body=request.POST.get("body", ""), by=request.user)
        elif action == "resolve":
            amount = request.POST.get("adjustment", "").strip()
            disputes.dispute_resolve(
                dispute=dispute,
                by=request.user,
                note=request.POST.get("body", ""),
                adjustment_minor=_signed_minor(amount, "adjustment") if amount else None,
            )
        else:
            raise ApplicationError(_("Unknown action."), field="action")
    except PermissionDeniedError:
        raise  # a 403 (permission_errors_as_403), not a message
    except ApplicationError as error:
        messages.error(request, error.message)
    return HttpResponseRedirect(
        reverse("web:commission_statement", args=[dispute.statement_id]) + f"#dispute-{dispute.pk}"
    )
