"""Commission plans for admins: the list, the plan page with its tiers, rules and preview, and assignments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from dealflow.accounts.models import Role, Team, User
from dealflow.commissions import insights, selectors
from dealflow.commissions.models import (
    PeriodKind,
    RuleKind,
    TierMode,
)
from dealflow.commissions.services.plans import PlanInput, plan_assign, plan_create, plan_update
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.core.parameters import is_number
from dealflow.deals.selectors import pipeline_list
from dealflow.deals.services.money import base_currency
from dealflow.web.views.workspace import AuthenticatedRequest


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
                    if is_number(data.get("user", ""))
                    else None
                )
                team = (
                    Team.objects.filter(pk=int(data["team"])).first()
                    if is_number(data.get("team", ""))
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
