"""Saved views of the deals list: save the current filters and sort under a name (optionally for a team),
reopen one, delete one's own."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dealflow.accounts.selectors import team_list_visible
from dealflow.core.errors import ApplicationError
from dealflow.core.parameters import is_number
from dealflow.directory.selectors import saved_view_get_for_user, saved_view_list_for_user
from dealflow.directory.services import saved_view_delete, saved_view_save
from dealflow.web.views.workspace import AuthenticatedRequest, permission_errors_as_403


@login_required
@require_POST
def saved_view_create(request: AuthenticatedRequest) -> HttpResponse:
    """Save the deals list's query (the ``query`` field) under ``name``; ``team`` shares it."""
    team = request.POST.get("team", "")
    query = request.POST.get("query", "")
    try:
        view = saved_view_save(
            owner=request.user,
            name=request.POST.get("name", ""),
            query=query,
            team_id=int(team) if is_number(team) else None,
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(f"{reverse('web:deal_list')}?{query.lstrip('?')}")
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    return HttpResponseRedirect(reverse("web:saved_view_open", args=[view.pk]))


@login_required
@require_GET
def saved_view_open(request: AuthenticatedRequest, view_id: int) -> HttpResponse:
    """The deals list with the view's filters and sort."""
    view = saved_view_get_for_user(view_id=view_id, user=request.user)
    return HttpResponseRedirect(f"{reverse('web:deal_list')}?{view.query}&view={view.pk}")


@login_required
@require_POST
@permission_errors_as_403
def saved_view_remove(request: AuthenticatedRequest, view_id: int) -> HttpResponse:
    """Delete one of the user's own saved views."""
    view = saved_view_get_for_user(view_id=view_id, user=request.user)
    saved_view_delete(view=view, by=request.user)
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return HttpResponseRedirect(reverse("web:deal_list"))


def saved_views_context(request: AuthenticatedRequest) -> dict:
    """What the deals list shows of saved views: the user's and their teams', the open one, the query."""
    query = request.GET.copy()
    for name in ("page", "view"):
        query.pop(name, None)
    current = request.GET.get("view", "")
    return {
        "saved_views": list(saved_view_list_for_user(user=request.user)),
        "saved_view_current": int(current) if is_number(current) else None,
        "saved_view_query": query.urlencode(),
        "saved_view_teams": list(team_list_visible(user=request.user).filter(memberships__user=request.user)),
    }
