"""The global search (press "/" or Ctrl-K anywhere): results as you type, only what the user may see."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dealflow.contacts.selectors import organization_get_for_user, person_get_for_user
from dealflow.core.errors import ApplicationError
from dealflow.deals.selectors import activity_get_for_user, deal_get_for_user, lead_get_for_user
from dealflow.search.models import SearchKind
from dealflow.search.selectors import search_for_user
from dealflow.web.views.workspace import AuthenticatedRequest, is_htmx

RESULT_LIMIT = 20


@login_required
@require_GET
def search(request: AuthenticatedRequest) -> HttpResponse:
    """The first 20 matches; HTMX gets the result list alone (the dialog asks on every keystroke)."""
    query = (request.GET.get("q") or "").strip()[:200]
    kind = request.GET.get("kind") or None
    error = ""
    try:
        results = search_for_user(
            user=request.user, query=query, kinds=[kind] if kind else None, limit=RESULT_LIMIT
        )
    except ApplicationError as failure:
        results, error = [], failure.message
    context = {"query": query, "results": results, "error": error, "kinds": SearchKind.choices, "kind": kind}
    template = "web/search/_results.html" if is_htmx(request) else "web/search/page.html"
    return render(request, template, context)


@login_required
@require_GET
def search_open(request: AuthenticatedRequest, kind: str, object_id: int) -> HttpResponse:
    """Open a result on its own page, after the same access check as that page (404 when not the user's)."""
    user = request.user
    if kind == SearchKind.DEAL:
        return HttpResponseRedirect(
            reverse("web:deal_detail", args=[deal_get_for_user(deal_id=object_id, user=user).pk])
        )
    if kind == SearchKind.ORGANIZATION:
        organization = organization_get_for_user(organization_id=object_id, user=user)
        return HttpResponseRedirect(reverse("web:organization_detail", args=[organization.pk]))
    if kind == SearchKind.PERSON:
        person = person_get_for_user(person_id=object_id, user=user)
        return HttpResponseRedirect(reverse("web:person_detail", args=[person.pk]))
    if kind == SearchKind.LEAD:
        lead = lead_get_for_user(lead_id=object_id, user=user)
        return HttpResponseRedirect(
            f"{reverse('web:lead_inbox')}?{urlencode({'q': lead.title})}#lead-{lead.pk}"
        )
    if kind == SearchKind.ACTIVITY:
        activity = activity_get_for_user(activity_id=object_id, user=user)
        if activity.deal_id:
            return HttpResponseRedirect(reverse("web:deal_detail", args=[activity.deal_id]))
        if activity.person_id:
            return HttpResponseRedirect(reverse("web:person_detail", args=[activity.person_id]))
        return HttpResponseRedirect(reverse("web:my_activities"))
    raise Http404("No such kind of record.")
