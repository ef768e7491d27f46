"""Commissions pages: a rep's earnings, statements with the manager's workflow and exports, disputes,
plans for admins (with the preview), leaderboards, contests, preferences, and the deal page's what-if."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dealflow.accounts.models import Role, Team, User
from dealflow.accounts.selectors import user_access_scope, user_is_manager, user_list_visible
from dealflow.commissions import exports, insights, selectors
from dealflow.commissions.models import (
    Badge,
    LeaderboardVisibility,
    Measure,
    PeriodKind,
    RuleKind,
    TierMode,
)
from dealflow.commissions.services import disputes, gamification, splits, statements
from dealflow.commissions.services.plans import PlanInput, money_of, plan_assign, plan_create, plan_update
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.deals.selectors import deal_get_for_user, pipeline_list, user_can_write
from dealflow.deals.services.money import base_currency
from dealflow.web.views.workspace import AuthenticatedRequest, permission_errors_as_403


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
    what_if = insights.what_if_for_deals(user=request.user, deals=open_deals, today=today)
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
            person = people.get(int(user_id)) if user_id.isdigit() else None
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


@login_required
@require_GET
def statement_detail(request: AuthenticatedRequest, statement_id: int) -> HttpResponse:
    statement = selectors.statement_get_for_user(statement_id=statement_id, user=request.user)
    context = {
        "statement": statement,
        "lines": selectors.statement_lines(statement=statement),
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
def statement_pdf(request: AuthenticatedRequest, statement_id: int) -> HttpResponse:
    statement = selectors.statement_get_for_user(statement_id=statement_id, user=request.user)
    response = HttpResponse(exports.statement_pdf(statement=statement), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="{exports.statement_filename(statement=statement)}"'
    )
    return response


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
    line = statement.lines.filter(pk=int(line_id)).first() if line_id.isdigit() else None
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


# -------------------------------------------------------------------------------------------- plans
def _plan_input(data: Any) -> PlanInput:
    """The plan form: tiers as lines "from % : rate %", rate rules as lines "kind id-or-type : rate %"."""
    tiers = []
    for number, line in enumerate((data.get("tiers") or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.replace("%", "").split(":")
        if len(parts) != 2:
            raise ApplicationError(_("Tier line %(n)s: write it as 100 : 12.") % {"n": number}, field="tiers")
        tiers.append((parts[0].strip(), parts[1].strip()))
    rules = []
    for number, line in enumerate((data.get("rules") or "").splitlines(), start=1):
        if not line.strip():
            continue
        head, _sep, rate = line.replace("%", "").partition(":")
        words = head.split()
        if len(words) != 2 or words[0] not in RuleKind.values or not rate.strip():
            raise ApplicationError(
                _("Rule line %(n)s: write it as pipeline 3 : 15, product 7 : 20 or deal_type upsell : 5.")
                % {"n": number},
                field="rules",
            )
        key = {"product": "product_id", "pipeline": "pipeline_id", "deal_type": "deal_type"}[words[0]]
        rules.append({"kind": words[0], key: words[1], "rate_percent": rate.strip()})
    spiffs = []
    if (data.get("spiff_name") or "").strip():
        spiffs.append(
            {
                "name": data.get("spiff_name"),
                "starts_on": data.get("spiff_starts_on"),
                "ends_on": data.get("spiff_ends_on"),
                "bonus": data.get("spiff_bonus") or 0,
                "rate_percent": data.get("spiff_rate_percent") or 0,
                "min_amount": data.get("spiff_min_amount") or 0,
                "pipeline_id": data.get("spiff_pipeline_id") or None,
            }
        )
    return PlanInput(
        name=data.get("name", ""),
        description=data.get("description", ""),
        period_kind=data.get("period_kind", PeriodKind.QUARTER),
        base_rate_percent=data.get("base_rate_percent") or 0,
        tier_mode=data.get("tier_mode", TierMode.NONE),
        tiers=tiers,
        accelerator_multiplier=data.get("accelerator_multiplier") or 1,
        decelerator_floor_percent=data.get("decelerator_floor_percent") or None,
        decelerator_multiplier=data.get("decelerator_multiplier") or 1,
        cap=data.get("cap") or None,
        clawback_days=data.get("clawback_days") or 90,
        rules=rules,
        spiffs=spiffs,
    )


def _plan_form_context() -> dict[str, Any]:
    return {
        "period_kinds": PeriodKind.choices,
        "tier_modes": TierMode.choices,
        "pipelines": pipeline_list(),
        "currency": base_currency(),
    }


@login_required
def plan_list(request: AuthenticatedRequest) -> HttpResponse:
    """Plans (admins): the list and the form for a new one."""
    selectors.plan_check_admin(user=request.user)
    if request.method == "POST":
        try:
            plan = plan_create(data=_plan_input(request.POST), by=request.user)
        except PermissionDeniedError:
            raise  # a 403 (permission_errors_as_403), not a message
        except ApplicationError as error:
            messages.error(request, error.message)
            return render(
                request,
                "commissions/plans.html",
                {"plans": selectors.plan_list(), "form": request.POST, **_plan_form_context()},
                status=400,
            )
        messages.success(request, _("Plan created. Assign it to people, a team or a role."))
        return HttpResponseRedirect(reverse("web:commission_plan", args=[plan.pk]))
    return render(
        request,
        "commissions/plans.html",
        {"plans": selectors.plan_list(), "form": {}, **_plan_form_context()},
    )


@login_required
def plan_detail(request: AuthenticatedRequest, plan_id: int) -> HttpResponse:
    """A plan: edit, assignments, and the preview of a past period under it."""
    plan = selectors.plan_get_for_user(plan_id=plan_id, user=request.user)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "assign":
                data = request.POST
                user = (
                    User.objects.filter(pk=int(data["user"])).first()
                    if data.get("user", "").isdigit()
                    else None
                )
                team = (
                    Team.objects.filter(pk=int(data["team"])).first()
                    if data.get("team", "").isdigit()
                    else None
                )
                try:
                    starts = dt.date.fromisoformat(data.get("effective_from", ""))
                    ends = dt.date.fromisoformat(data["effective_to"]) if data.get("effective_to") else None
                except ValueError as error:
                    raise ApplicationError(
                        _("Dates must read YYYY-MM-DD."), field="effective_from"
                    ) from error
                plan_assign(
                    plan=plan,
                    user=user,
                    team=team,
                    role=data.get("role", ""),
                    effective_from=starts,
                    effective_to=ends,
                    by=request.user,
                )
                messages.success(request, _("Assigned."))
            else:
                plan_update(plan=plan, data=_plan_input(request.POST), by=request.user)
                messages.success(request, _("Plan saved. Draft statements follow on their next recompute."))
        except PermissionDeniedError:
            raise  # a 403 (permission_errors_as_403), not a message
        except ApplicationError as error:
            messages.error(request, error.message)
        return HttpResponseRedirect(reverse("web:commission_plan", args=[plan.pk]))
    try:
        period = selectors.period_parse(
            request.GET.get("period"), default_kind=plan.period_kind, today=clock.today()
        )
    except PermissionDeniedError:
        raise  # a 403 (permission_errors_as_403), not a message
    except ApplicationError as error:
        messages.error(request, error.message)
        period = selectors.period_parse(None, default_kind=plan.period_kind, today=clock.today())
    if not request.GET.get("period"):
        period = period.previous()
    preview = insights.plan_preview(plan=plan, period=period)
    form = {
        "name": plan.name,
        "description": plan.description,
        "period_kind": plan.period_kind,
        "base_rate_percent": plan.base_rate_percent.normalize(),
        "tier_mode": plan.tier_mode,
        "tiers": "\n".join(
            f"{tier.from_percent.normalize():f} : {tier.rate_percent.normalize():f}"
            for tier in plan.tiers.all()
        ),
        "rules": "\n".join(
            f"{rule.kind} {rule.product_id or rule.pipeline_id or rule.deal_type} : {rule.rate_percent.normalize():f}"
            for rule in plan.rules.all()
        ),
        "accelerator_multiplier": plan.accelerator_multiplier.normalize(),
        "decelerator_floor_percent": plan.decelerator_floor_percent.normalize()
        if plan.decelerator_floor_percent is not None
        else "",
        "decelerator_multiplier": plan.decelerator_multiplier.normalize(),
        "cap": Decimal(plan.cap_minor) / 100 if plan.cap_minor is not None else "",
        "clawback_days": plan.clawback_days,
    }
    context = {
        "plan": plan,
        "form": form,
        "preview": preview,
        "period": period,
        "preview_total": sum(row.preview_minor for row in preview),
        "actual_total": sum(row.actual_minor or 0 for row in preview),
        "assignments": selectors.assignment_list(plan=plan),
        "users": User.objects.filter(is_active=True).order_by("username"),
        "teams": Team.objects.all(),
        "roles": Role.choices,
        **_plan_form_context(),
    }
    return render(request, "commissions/plan.html", context)


# ------------------------------------------------------------------------------------- gamification
@login_required
def leaderboard(request: AuthenticatedRequest) -> HttpResponse:
    """Leaderboards by measure and period, contests, and the user's own preferences (POST saves them)."""
    if request.method == "POST":
        data = request.POST
        if data.get("action") == "settings":
            selectors.plan_check_admin(user=request.user)
            try:
                gamification.settings_set(
                    leaderboard_visibility=data.get("leaderboard_visibility", ""), by=request.user
                )
            except PermissionDeniedError:
                raise  # a 403 (permission_errors_as_403), not a message
            except ApplicationError as error:
                messages.error(request, error.message)
        else:
            gamification.preference_set(
                user=request.user,
                is_leaderboard_opt_out=data.get("is_leaderboard_opt_out") == "on",
                is_celebration_on=data.get("is_celebration_on") == "on",
                is_board_what_if_on=data.get("is_board_what_if_on") == "on",
            )
            messages.success(request, _("Preferences saved."))
        return HttpResponseRedirect(reverse("web:commission_leaderboard"))
    chosen = request.GET.get("measure", "")
    measure = chosen if chosen in Measure.values else str(Measure.WON_REVENUE)
    rows: list[insights.BoardRow] = []
    is_off = False
    try:
        period = selectors.period_parse(request.GET.get("period"), today=clock.today())
        team_id = int(request.GET["team"]) if request.GET.get("team", "").isdigit() else None
        rows = insights.leaderboard_for_user(
            user=request.user, measure=measure, period=period, team_id=team_id
        )
    except PermissionDeniedError:
        raise  # a 403 (permission_errors_as_403), not a message
    except ApplicationError as error:
        messages.error(request, error.message)
        period = selectors.period_parse(None, today=clock.today())
    except Http404:  # leaderboards are switched off: the page still shows contests and preferences
        is_off = True
    context = {
        "rows": rows,
        "measure": measure,
        "measures": Measure.choices,
        "period": period,
        "is_off": is_off,
        "currency": base_currency(),
        "contests": insights.contest_list_for_user(user=request.user),
        "preference": selectors.preference_for(user=request.user),
        "settings": selectors.settings_get(),
        "visibilities": LeaderboardVisibility.choices,
        "is_admin": user_access_scope(user=request.user).is_admin,
        "previous": period.previous().key,
        "next": period.next().key,
    }
    return render(request, "commissions/leaderboard.html", context)


@login_required
def contest_detail(request: AuthenticatedRequest, contest_id: int) -> HttpResponse:
    contest = insights.contest_get_for_user(contest_id=contest_id, user=request.user)
    context = {
        "contest": contest,
        "rows": insights.contest_progress(contest=contest),
        "currency": base_currency(),
        "is_finished": contest.ends_on < clock.today(),
    }
    return render(request, "commissions/contest.html", context)


@login_required
@require_POST
def contest_create(request: AuthenticatedRequest) -> HttpResponse:
    selectors.plan_check_admin(user=request.user)
    data = request.POST
    try:
        try:
            starts, ends = (
                dt.date.fromisoformat(data.get("starts_on", "")),
                dt.date.fromisoformat(data.get("ends_on", "")),
            )
        except ValueError as error:
            raise ApplicationError(_("Dates must read YYYY-MM-DD."), field="starts_on") from error
        team = Team.objects.filter(pk=int(data["team"])).first() if data.get("team", "").isdigit() else None
        contest = gamification.contest_create(
            name=data.get("name", ""),
            measure=data.get("measure", ""),
            starts_on=starts,
            ends_on=ends,
            target=data.get("target", ""),
            prize=data.get("prize", ""),
            team=team,
            is_for_teams=data.get("is_for_teams") == "on",
            by=request.user,
        )
    except PermissionDeniedError:
        raise  # a 403 (permission_errors_as_403), not a message
    except ApplicationError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("web:commission_leaderboard"))
    return HttpResponseRedirect(reverse("web:commission_contest", args=[contest.pk]))
