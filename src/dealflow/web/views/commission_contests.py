"""Leaderboards and contests: the leaderboard page with the user's own preferences, and contests."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dealflow.accounts.models import Team
from dealflow.accounts.selectors import user_access_scope
from dealflow.commissions import insights, selectors
from dealflow.commissions.models import (
    LeaderboardVisibility,
    Measure,
)
from dealflow.commissions.services import gamification
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.core.parameters import is_number
from dealflow.deals.services.money import base_currency
from dealflow.web.views.workspace import AuthenticatedRequest


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
        team_id = int(request.GET["team"]) if is_number(request.GET.get("team", "")) else None
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
        team = Team.objects.filter(pk=int(data["team"])).first() if is_number(data.get("team", "")) else None
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
