"""Notifications: the page, the bell (HTMX, so pages pay no query for it), mark read, preferences and the
personal calendar feed (its .ics is the one route opened without a session: the URL's secret is the key)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dealflow.core.errors import ApplicationError
from dealflow.notifications.calendar import calendar_feed_build
from dealflow.notifications.models import Channel
from dealflow.notifications.selectors import (
    calendar_feed_active_for_user,
    notification_get_for_user,
    notification_list_for_user,
    notification_unread_count,
    preference_list_for_user,
)
from dealflow.notifications.services import (
    calendar_feed_authenticate,
    calendar_feed_create,
    calendar_feed_revoke,
    notification_mark_all_read,
    notification_mark_read,
    preferences_set,
)
from dealflow.web.views.workspace import AuthenticatedRequest

PAGE = 50


@login_required
@require_GET
def notification_list(request: AuthenticatedRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1"
    paginator = Paginator(notification_list_for_user(user=request.user, unread_only=unread_only), PAGE)
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "page": page,
        "unread_only": unread_only,
        "unread": notification_unread_count(user=request.user),
    }
    return render(request, "notifications/list.html", context)


@login_required
@require_GET
def notification_bell(request: AuthenticatedRequest) -> HttpResponse:
    """The bell with its count, swapped into every page's top bar by HTMX."""
    return render(
        request, "notifications/_bell.html", {"unread": notification_unread_count(user=request.user)}
    )


@login_required
@require_POST
def notification_read(request: AuthenticatedRequest, notification_id: int) -> HttpResponse:
    """Mark one read and open what it is about (someone else's notification is a 404)."""
    notification = notification_get_for_user(notification_id=notification_id, user=request.user)
    notification_mark_read(notification=notification, by=request.user)
    target = notification.url
    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("web:notifications")
    return HttpResponseRedirect(target)


@login_required
@require_POST
def notification_read_all(request: AuthenticatedRequest) -> HttpResponse:
    count = notification_mark_all_read(user=request.user)
    messages.success(request, _("%(count)s notifications marked read.") % {"count": count})
    return HttpResponseRedirect(reverse("web:notifications"))


class PreferencesForm(forms.Form):
    """One choice per kind; digests offer e-mail or off only."""

    def __init__(self, *args, rows, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for row in rows:
            choices = Channel.choices
            if row.is_digest:
                choices = [(Channel.EMAIL, Channel.EMAIL.label), (Channel.OFF, Channel.OFF.label)]
            self.fields[row.kind] = forms.ChoiceField(label=row.label, choices=choices, initial=row.channel)


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: AuthenticatedRequest) -> HttpResponse:
    """Per-kind channels, and the calendar feed (a new URL is shown once, on the answer that makes it)."""
    rows = preference_list_for_user(user=request.user)
    form = PreferencesForm(request.POST or None, rows=rows)
    feed_url = None
    if request.method == "POST":
        action = request.POST.get("action", "preferences")
        if action == "feed_create":
            _feed, secret = calendar_feed_create(user=request.user)
            feed_url = request.build_absolute_uri(reverse("web:calendar_feed", args=[secret]))
            form = PreferencesForm(rows=rows)
        elif action == "feed_revoke":
            calendar_feed_revoke(user=request.user)
            messages.success(request, _("The calendar URL no longer works."))
            return HttpResponseRedirect(reverse("web:notification_settings"))
        elif form.is_valid():
            try:
                preferences_set(user=request.user, channels=form.cleaned_data)
            except ApplicationError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, _("Notification settings saved."))
                return HttpResponseRedirect(reverse("web:notification_settings"))
    context = {
        "form": form,
        "feed": calendar_feed_active_for_user(user=request.user),
        "feed_url": feed_url,
    }
    return render(request, "notifications/settings.html", context, status=400 if form.errors else 200)


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The .ics of the user whose live secret this is; any other token is a 404 (nothing to learn)."""
    user = calendar_feed_authenticate(secret=token)
    if user is None:
        raise Http404("No such calendar.")
    response = HttpResponse(calendar_feed_build(user=user), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response
