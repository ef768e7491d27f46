"""Admin settings: pipelines and stages, lost reasons, exchange rates, users and teams.

Every view is admin-only: a signed-in non-admin gets 403 from ``deals.selectors.settings_check_admin``.
A refused change re-renders its page with the error next to the field the service named (status 400).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dealflow.accounts.models import Team, User
from dealflow.accounts.selectors import team_list_visible, user_list_visible
from dealflow.accounts.services import membership_remove, membership_set, team_create, user_create
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import LostReason, Pipeline, Stage, StageKind
from dealflow.deals.selectors import (
    exchange_rate_list,
    lost_reason_list,
    pipeline_get,
    pipeline_list,
    settings_check_admin,
    stage_list,
)
from dealflow.deals.services import (
    exchange_rate_set,
    lost_reason_create,
    lost_reason_update,
    pipeline_create,
    pipeline_update,
    stage_create,
    stage_deactivate,
    stage_reorder,
    stage_update,
)
from dealflow.web.forms import form_add_application_error
from dealflow.web.forms.settings import (
    ExchangeRateForm,
    LostReasonCreateForm,
    LostReasonForm,
    MembershipForm,
    PipelineCreateForm,
    PipelineForm,
    StageForm,
    TeamCreateForm,
    UserCreateForm,
)
from dealflow.web.views.workspace import AuthenticatedRequest, permission_errors_as_403

RATE_LIMIT = 300

Failed = tuple[str, forms.Form] | None


def admin_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in (else the sign-in page) and an admin (else 403)."""

    @functools.wraps(view)
    def wrapper(request: AuthenticatedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        settings_check_admin(user=request.user)
        return view(request, *args, **kwargs)

    return login_required(permission_errors_as_403(wrapper))


def _submit(
    request: AuthenticatedRequest,
    form: forms.Form,
    action: Callable[[dict[str, Any]], Any],
    *,
    success: str,
    redirect_to: Callable[[Any], str],
    page: Callable[[Failed], HttpResponse],
    key: str,
) -> HttpResponse:
    """Validate, call one service, and redirect (PRG) or re-render the page with the error in place."""
    if form.is_valid():
        try:
            with transaction.atomic():
                result = action(form.cleaned_data)
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            messages.success(request, success)
            return HttpResponseRedirect(redirect_to(result))
    response = page((key, form))
    response.status_code = 400
    return response


def _pick(failed: Failed, key: str, default: forms.Form) -> forms.Form:
    return failed[1] if failed and failed[0] == key else default


# ---- Pipelines ------------------------------------------------------------------------------------


def _home_page(request: AuthenticatedRequest, failed: Failed = None) -> HttpResponse:
    pipelines = list(pipeline_list(include_inactive=True))
    stages = list(stage_list(include_inactive=False))
    counts = {
        pipeline.pk: sum(1 for stage in stages if stage.pipeline_id == pipeline.pk) for pipeline in pipelines
    }
    context = {
        "tab": "pipelines",
        "pipelines": [{"pipeline": pipeline, "stage_count": counts[pipeline.pk]} for pipeline in pipelines],
        "create_form": _pick(failed, "create", PipelineCreateForm()),
    }
    return render(request, "web/settings/pipelines.html", context)


@admin_only
@require_GET
def settings_home(request: AuthenticatedRequest) -> HttpResponse:
    """Settings start on the pipelines."""
    return _home_page(request)


@admin_only
@require_POST
def settings_pipeline_create(request: AuthenticatedRequest) -> HttpResponse:
    form = PipelineCreateForm(request.POST)
    return _submit(
        request,
        form,
        lambda data: pipeline_create(
            name=data["name"], with_default_stages=data["with_default_stages"], by=request.user
        ),
        success=_("Pipeline created."),
        redirect_to=lambda pipeline: reverse("web:settings_pipeline", args=[pipeline.pk]),
        page=lambda failed: _home_page(request, failed),
        key="create",
    )


def _stage_form(stage: Stage, data: Any = None) -> StageForm:
    initial = {name: getattr(stage, name) for name in StageForm.base_fields}
    return StageForm(data, initial=initial, prefix=f"stage-{stage.pk}", closed=stage.is_closed)


def _pipeline_page(request: AuthenticatedRequest, pipeline: Pipeline, failed: Failed = None) -> HttpResponse:
    stages = list(stage_list(pipeline_id=pipeline.pk, include_inactive=True))
    open_stages = [stage for stage in stages if stage.kind == StageKind.OPEN and stage.is_active]
    rows = [
        {
            "stage": stage,
            "form": _pick(failed, f"stage-{stage.pk}", _stage_form(stage)),
            "is_first": bool(open_stages) and stage == open_stages[0],
            "is_last": bool(open_stages) and stage == open_stages[-1],
        }
        for stage in stages
    ]
    initial = {"name": pipeline.name, "is_default": pipeline.is_default, "is_active": pipeline.is_active}
    context = {
        "tab": "pipelines",
        "pipeline": pipeline,
        "rows": rows,
        "pipeline_form": _pick(failed, "pipeline", PipelineForm(initial=initial)),
        "stage_create_form": _pick(
            failed,
            "stage-new",
            StageForm(
                prefix="new", initial={"probability": 50, "rotting_days": 21, "forecast_category": "pipeline"}
            ),
        ),
    }
    return render(request, "web/settings/pipeline.html", context)


@admin_only
@require_GET
def settings_pipeline(request: AuthenticatedRequest, pipeline_id: int) -> HttpResponse:
    """One pipeline: its name and its stages."""
    return _pipeline_page(request, pipeline_get(pipeline_id=pipeline_id))


@admin_only
@require_POST
def settings_pipeline_update(request: AuthenticatedRequest, pipeline_id: int) -> HttpResponse:
    pipeline = pipeline_get(pipeline_id=pipeline_id)
    form = PipelineForm(request.POST)
    return _submit(
        request,
        form,
        lambda data: pipeline_update(pipeline=pipeline, data=data, by=request.user),
        success=_("Pipeline saved."),
        redirect_to=lambda _result: reverse("web:settings_pipeline", args=[pipeline.pk]),
        page=lambda failed: _pipeline_page(request, pipeline, failed),
        key="pipeline",
    )


@admin_only
@require_POST
def settings_stage_create(request: AuthenticatedRequest, pipeline_id: int) -> HttpResponse:
    pipeline = pipeline_get(pipeline_id=pipeline_id)
    form = StageForm(request.POST, prefix="new")
    return _submit(
        request,
        form,
        lambda data: stage_create(pipeline=pipeline, by=request.user, **data),
        success=_("Stage added."),
        redirect_to=lambda _stage: reverse("web:settings_pipeline", args=[pipeline.pk]),
        page=lambda failed: _pipeline_page(request, pipeline, failed),
        key="stage-new",
    )


def _stage(stage_id: int) -> Stage:
    stage = stage_list(include_inactive=True).filter(pk=stage_id).first()
    if stage is None:
        raise Http404("No such stage.")
    return stage


@admin_only
@require_POST
def settings_stage_update(request: AuthenticatedRequest, stage_id: int) -> HttpResponse:
    stage = _stage(stage_id)
    form = _stage_form(stage, request.POST)
    return _submit(
        request,
        form,
        lambda data: stage_update(stage=stage, data=data, by=request.user),
        success=_("Stage saved."),
        redirect_to=lambda _stage: reverse("web:settings_pipeline", args=[stage.pipeline_id]),
        page=lambda failed: _pipeline_page(request, stage.pipeline, failed),
        key=f"stage-{stage.pk}",
    )


@admin_only
@require_POST
def settings_stage_move(request: AuthenticatedRequest, stage_id: int) -> HttpResponse:
    """Move an open stage one place up or down."""
    stage = _stage(stage_id)
    order = [
        item.pk
        for item in stage_list(pipeline_id=stage.pipeline_id, include_inactive=True)
        if item.kind == StageKind.OPEN
    ]
    index = order.index(stage.pk) if stage.pk in order else -1
    target = index + (-1 if request.POST.get("direction") == "up" else 1)
    if index >= 0 and 0 <= target < len(order):
        order[index], order[target] = order[target], order[index]
        try:
            stage_reorder(pipeline=stage.pipeline, stage_ids=order, by=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
    return HttpResponseRedirect(reverse("web:settings_pipeline", args=[stage.pipeline_id]))


@admin_only
@require_POST
def settings_stage_deactivate(request: AuthenticatedRequest, stage_id: int) -> HttpResponse:
    """Retire an open stage that holds no open deal."""
    stage = _stage(stage_id)
    try:
        stage_deactivate(stage=stage, by=request.user)
    except ApplicationError as error:
        messages.error(request, f"{stage.name}: {error.message}")
    else:
        messages.success(request, _("Stage %(name)s retired.") % {"name": stage.name})
    return HttpResponseRedirect(reverse("web:settings_pipeline", args=[stage.pipeline_id]))


# ---- Lost reasons ---------------------------------------------------------------------------------


def _lost_reason_form(reason: LostReason, data: Any = None) -> LostReasonForm:
    initial = {"name": reason.name, "is_active": reason.is_active}
    return LostReasonForm(data, initial=initial, prefix=f"reason-{reason.pk}")


def _lost_reasons_page(request: AuthenticatedRequest, failed: Failed = None) -> HttpResponse:
    reasons = list(lost_reason_list(include_inactive=True))
    context = {
        "tab": "lost_reasons",
        "rows": [
            {"reason": reason, "form": _pick(failed, f"reason-{reason.pk}", _lost_reason_form(reason))}
            for reason in reasons
        ],
        "create_form": _pick(failed, "create", LostReasonCreateForm()),
    }
    return render(request, "web/settings/lost_reasons.html", context)


@admin_only
@require_http_methods(["GET", "POST"])
def settings_lost_reasons(request: AuthenticatedRequest) -> HttpResponse:
    """The managed list of lost reasons; POST adds one."""
    if request.method == "GET":
        return _lost_reasons_page(request)
    return _submit(
        request,
        LostReasonCreateForm(request.POST),
        lambda data: lost_reason_create(name=data["name"], by=request.user),
        success=_("Lost reason added."),
        redirect_to=lambda _reason: reverse("web:settings_lost_reasons"),
        page=lambda failed: _lost_reasons_page(request, failed),
        key="create",
    )


@admin_only
@require_POST
def settings_lost_reason_update(request: AuthenticatedRequest, reason_id: int) -> HttpResponse:
    reason = lost_reason_list(include_inactive=True).filter(pk=reason_id).first()
    if reason is None:
        raise Http404("No such lost reason.")
    return _submit(
        request,
        _lost_reason_form(reason, request.POST),
        lambda data: lost_reason_update(reason=reason, data=data, by=request.user),
        success=_("Lost reason saved."),
        redirect_to=lambda _reason: reverse("web:settings_lost_reasons"),
        page=lambda failed: _lost_reasons_page(request, failed),
        key=f"reason-{reason.pk}",
    )


# ---- Exchange rates -------------------------------------------------------------------------------


def _rates_page(request: AuthenticatedRequest, failed: Failed = None) -> HttpResponse:
    context = {
        "tab": "exchange_rates",
        "rates": list(exchange_rate_list()[:RATE_LIMIT]),
        "form": _pick(failed, "rate", ExchangeRateForm()),
    }
    return render(request, "web/settings/exchange_rates.html", context)


@admin_only
@require_http_methods(["GET", "POST"])
def settings_exchange_rates(request: AuthenticatedRequest) -> HttpResponse:
    """Rates to the base currency; POST sets a currency's rate from a day on."""
    if request.method == "GET":
        return _rates_page(request)
    return _submit(
        request,
        ExchangeRateForm(request.POST),
        lambda data: exchange_rate_set(**data, by=request.user),
        success=_("Exchange rate saved."),
        redirect_to=lambda _rate: reverse("web:settings_exchange_rates"),
        page=lambda failed: _rates_page(request, failed),
        key="rate",
    )


# ---- Users and teams ------------------------------------------------------------------------------


def _teams(request: AuthenticatedRequest) -> list[Team]:
    return list(team_list_visible(user=request.user).order_by("name"))


# Users a page: every user with a team-and-role form each made 285 KB of HTML and 3 s for 157 users (issue #19).
USERS_PAGE_SIZE = 25


def _users_page(request: AuthenticatedRequest, failed: Failed = None) -> HttpResponse:
    admin = request.user
    users = user_list_visible(user=admin).order_by("username", "id")
    number: Any = request.GET.get("page")
    if failed and failed[0].startswith("member-"):  # show the page of the user whose form failed
        member = users.filter(pk=int(failed[0].removeprefix("member-"))).values_list("username", flat=True)
        number = users.filter(username__lt=member[:1]).count() // USERS_PAGE_SIZE + 1
    page = Paginator(users.prefetch_related("memberships__team"), USERS_PAGE_SIZE).get_page(number)
    teams = _teams(request)
    context = {
        "tab": "users",
        "page": page,
        "rows": [
            {
                "user": user,
                "form": _pick(
                    failed, f"member-{user.pk}", MembershipForm(prefix=f"member-{user.pk}", teams=teams)
                ),
            }
            for user in page.object_list
        ],
        "teams": teams,
        "user_form": _pick(failed, "user", UserCreateForm(teams=teams)),
        "team_form": _pick(failed, "team", TeamCreateForm()),
    }
    return render(request, "web/settings/users.html", context)


@admin_only
@require_http_methods(["GET", "POST"])
def settings_users(request: AuthenticatedRequest) -> HttpResponse:
    """Users with their teams and roles; POST creates a user (and their first membership)."""
    if request.method == "GET":
        return _users_page(request)

    def create(data: dict[str, Any]) -> User:
        user = user_create(
            username=data["username"],
            password=data["password"],
            email=data["email"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            language=data["language"],
            by=request.user,
        )
        if data["team"] is not None:
            membership_set(user=user, team=data["team"], role=data["role"], by=request.user)
        return user

    return _submit(
        request,
        UserCreateForm(request.POST, teams=_teams(request)),
        create,
        success=_("User created."),
        redirect_to=lambda _user: reverse("web:settings_users"),
        page=lambda failed: _users_page(request, failed),
        key="user",
    )


def _user(request: AuthenticatedRequest, user_id: int) -> User:
    user = user_list_visible(user=request.user).filter(pk=user_id).first()
    if user is None:
        raise Http404("No such user.")
    return user


@admin_only
@require_POST
def settings_membership_set(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    """Put a user in a team with a role (or change the role)."""
    member = _user(request, user_id)
    return _submit(
        request,
        MembershipForm(request.POST, prefix=f"member-{member.pk}", teams=_teams(request)),
        lambda data: membership_set(user=member, team=data["team"], role=data["role"], by=request.user),
        success=_("Team and role saved for %(name)s.") % {"name": member.display_name},
        redirect_to=lambda _membership: reverse("web:settings_users"),
        page=lambda failed: _users_page(request, failed),
        key=f"member-{member.pk}",
    )


@admin_only
@require_POST
def settings_membership_remove(request: AuthenticatedRequest, user_id: int, team_id: int) -> HttpResponse:
    """Take a user out of a team."""
    member = _user(request, user_id)
    team: Team | None = team_list_visible(user=request.user).filter(pk=team_id).first()
    if team is None:
        raise Http404("No such team.")
    membership_remove(user=member, team=team, by=request.user)
    messages.success(request, _("%(name)s left %(team)s.") % {"name": member.display_name, "team": team.name})
    return HttpResponseRedirect(reverse("web:settings_users"))


@admin_only
@require_POST
def settings_team_create(request: AuthenticatedRequest) -> HttpResponse:
    return _submit(
        request,
        TeamCreateForm(request.POST),
        lambda data: team_create(
            name=data["name"], reps_see_team_deals=data["reps_see_team_deals"], by=request.user
        ),
        success=_("Team created."),
        redirect_to=lambda _team: reverse("web:settings_users"),
        page=lambda failed: _users_page(request, failed),
        key="team",
    )
