"""Team pulse, one-on-ones: series, meetings (agenda, shared and private notes, action items), calendar files
and the deals a rep's manager may want to raise.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dealflow.accounts.models import User
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import DealEvent, EventKind
from dealflow.deals.selectors import DealFilters, deal_list_for_user
from dealflow.metrics.calculations import stale_days
from dealflow.people import selectors, services
from dealflow.people.calendar import meeting_ics, series_ics
from dealflow.web.forms import form_add_application_error
from dealflow.web.forms.people import ActionItemForm, SeriesForm
from dealflow.web.views.people import action_items_partial
from dealflow.web.views.workspace import (
    AuthenticatedRequest,
    is_htmx,
    permission_errors_as_403,
    redirect_next,
)

ATTENTION_LIMIT = 20
# --- One-on-ones --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@permission_errors_as_403
def people_one_on_ones(request: AuthenticatedRequest) -> HttpResponse:
    """The user's one-on-one series, and (for managers) a form to start one."""
    form = SeriesForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            series = services.one_on_one_series_create(
                manager=request.user, by=request.user, **form.cleaned_data
            )
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            messages.success(request, _("One-on-one planned."))
            return HttpResponseRedirect(reverse("web:people_series", args=[series.pk]))
    context = {
        "series_list": selectors.one_on_one_series_list_for_user(user=request.user),
        "form": form if form.has_partners() else None,
    }
    return render(request, "web/people/one_on_ones.html", context)


def _deals_needing_attention(*, rep: User, viewer: User) -> list[dict[str, Any]]:
    """The rep's open deals the viewer may see that are overdue, stale (past the stage's rotting days) or slipping."""
    today, now = clock.today(), clock.now()
    deals = list(
        deal_list_for_user(
            user=viewer, filters=DealFilters(owner_id=rep.pk, status="open"), order="expected_close_on"
        )[:500]
    )
    pushes: dict[int, int] = {}
    for deal_id, before, after in DealEvent.objects.filter(
        deal_id__in=[deal.pk for deal in deals], kind=EventKind.CLOSE_DATE_CHANGED
    ).values_list("deal_id", "from_value", "to_value"):
        if before and after and after > before:  # ISO dates compare as text
            pushes[deal_id] = pushes.get(deal_id, 0) + 1
    rows = []
    for deal in deals:
        reasons = []
        if deal.expected_close_on and deal.expected_close_on < today:
            reasons.append(
                _("close date passed %(days)d days ago") % {"days": (today - deal.expected_close_on).days}
            )
        idle = stale_days(
            now=now,
            last_activity_at=deal.last_activity_at,
            stage_entered_at=deal.stage_entered_at,
            rotting_days=deal.stage.rotting_days,
        )
        if idle is not None:
            reasons.append(_("stale for %(days)d days") % {"days": idle})
        if pushes.get(deal.pk):
            reasons.append(
                ngettext(
                    "close date pushed back once", "close date pushed back %(count)d times", pushes[deal.pk]
                )
                % {"count": pushes[deal.pk]}
            )
        if reasons:
            rows.append({"deal": deal, "reasons": reasons})
    return rows[:ATTENTION_LIMIT]


@login_required
@require_GET
def people_series(request: AuthenticatedRequest, series_id: int) -> HttpResponse:
    """A rep's one-on-one page: the next meeting, earlier meetings and the rep's deals needing attention."""
    series = selectors.one_on_one_series_get_for_user(series_id=series_id, user=request.user)
    context = {
        "series": series,
        "next_meeting": selectors.meeting_next_for_series(series=series),
        "meetings": selectors.meeting_list_for_series(series=series),
        "attention": _deals_needing_attention(rep=series.rep, viewer=request.user),
        "is_participant": request.user.pk in series.participant_ids(),
    }
    return render(request, "web/people/series.html", context)


@login_required
@require_POST
@permission_errors_as_403
def people_series_stop(request: AuthenticatedRequest, series_id: int) -> HttpResponse:
    series = selectors.one_on_one_series_get_for_user(series_id=series_id, user=request.user)
    services.one_on_one_series_stop(series=series, by=request.user)
    messages.success(request, _("This one-on-one no longer repeats."))
    return HttpResponseRedirect(reverse("web:people_series", args=[series.pk]))


def _ics_response(body: bytes, name: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.ics"'
    return response


@login_required
@require_GET
def people_series_ics(request: AuthenticatedRequest, series_id: int) -> HttpResponse:
    series = selectors.one_on_one_series_get_for_user(series_id=series_id, user=request.user)
    upcoming = selectors.meeting_next_for_series(series=series)
    starts_at = upcoming.scheduled_at if upcoming else series.first_meeting_at
    return _ics_response(series_ics(series=series, starts_at=starts_at), f"one-on-one-{series.pk}")


def _meeting_context(request: AuthenticatedRequest, meeting) -> dict[str, Any]:
    series = meeting.series
    participants = [series.manager, series.rep]
    return {
        "meeting": meeting,
        "series": series,
        "agenda": selectors.agenda_list_for_meeting(meeting=meeting),
        "action_items": selectors.action_item_list_for_meeting(meeting=meeting),
        "private_note": selectors.private_note_text_for_user(meeting=meeting, user=request.user),
        "is_participant": request.user.pk in series.participant_ids(),
        "action_form": ActionItemForm(participants=participants, initial={"owner": series.rep_id}),
        "today": clock.today(),
    }


@login_required
@require_GET
def people_meeting(request: AuthenticatedRequest, meeting_id: int) -> HttpResponse:
    """One meeting: shared agenda and notes, the viewer's own private note, action items."""
    meeting = selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    return render(request, "web/people/meeting.html", _meeting_context(request, meeting))


@login_required
@require_GET
def people_meeting_ics(request: AuthenticatedRequest, meeting_id: int) -> HttpResponse:
    meeting = selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    return _ics_response(meeting_ics(meeting=meeting), f"one-on-one-meeting-{meeting.pk}")


def _after_meeting_change(
    request: AuthenticatedRequest, meeting, partial: str, error: ApplicationError | None = None
) -> HttpResponse:
    """HTMX gets the changed section back; a plain form post goes back to the meeting page."""
    if is_htmx(request):
        context = _meeting_context(request, meeting)
        context["error"] = error.message if error else None
        return render(request, partial, context, status=400 if error else 200)
    if error:
        messages.error(request, error.message)
    return redirect_next(request, reverse("web:people_meeting", args=[meeting.pk]))


@login_required
@require_POST
@permission_errors_as_403
def people_agenda_add(request: AuthenticatedRequest, meeting_id: int) -> HttpResponse:
    meeting = selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    try:
        services.agenda_item_add(meeting=meeting, text=request.POST.get("text", ""), by=request.user)
    except ApplicationError as error:
        return _after_meeting_change(request, meeting, "web/people/_agenda.html", error)
    return _after_meeting_change(request, meeting, "web/people/_agenda.html")


@login_required
@require_POST
@permission_errors_as_403
def people_agenda_toggle(request: AuthenticatedRequest, item_id: int) -> HttpResponse:
    item = selectors.agenda_item_get_for_user(item_id=item_id, user=request.user)
    services.agenda_item_set_done(item=item, is_done=request.POST.get("is_done") == "1", by=request.user)
    return _after_meeting_change(request, item.meeting, "web/people/_agenda.html")


@login_required
@require_POST
@permission_errors_as_403
def people_meeting_notes(request: AuthenticatedRequest, meeting_id: int) -> HttpResponse:
    """Save the shared notes, or (``kind=private``) the viewer's own private note."""
    meeting = selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    text = request.POST.get("text", "")
    try:
        if request.POST.get("kind") == "private":
            services.private_note_set(meeting=meeting, text=text, by=request.user)
        else:
            services.meeting_shared_notes_set(meeting=meeting, text=text, by=request.user)
    except ApplicationError as error:
        if is_htmx(request):  # the autosave: the status line says what went wrong, the text stays
            return HttpResponse(escape(error.message), status=400)
        messages.error(request, error.message)
    else:
        if is_htmx(request):  # the autosave (or the button, with scripts on): only this part was saved
            stamp = timezone.localtime().strftime("%H:%M")
            return HttpResponse(_("Saved at %(time)s.") % {"time": stamp})
        messages.success(request, _("Notes saved."))
    return HttpResponseRedirect(reverse("web:people_meeting", args=[meeting.pk]))


@login_required
@require_POST
@permission_errors_as_403
def people_action_add(request: AuthenticatedRequest, meeting_id: int) -> HttpResponse:
    meeting = selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    participants = {
        meeting.series.manager_id: meeting.series.manager,
        meeting.series.rep_id: meeting.series.rep,
    }
    form = ActionItemForm(request.POST, participants=list(participants.values()))
    if not form.is_valid():
        error = ApplicationError(" ".join(str(message) for message in form.errors.values()), field="text")
        return _after_meeting_change(request, meeting, "web/people/_actions.html", error)
    data = form.cleaned_data
    try:
        services.action_item_add(
            meeting=meeting,
            text=data["text"],
            owner=participants[data["owner"]],
            due_on=data["due_on"],
            by=request.user,
        )
    except ApplicationError as error:
        return _after_meeting_change(request, meeting, "web/people/_actions.html", error)
    return _after_meeting_change(request, meeting, "web/people/_actions.html")


@login_required
@require_POST
@permission_errors_as_403
def people_action_toggle(request: AuthenticatedRequest, item_id: int) -> HttpResponse:
    """Mark an action item done or open; from "My activities" the partial list comes back."""
    item = selectors.action_item_get_for_user(item_id=item_id, user=request.user)
    services.action_item_set_done(item=item, is_done=request.POST.get("is_done") == "1", by=request.user)
    if request.POST.get("from") == "activities":
        return (
            action_items_partial(request)
            if is_htmx(request)
            else redirect_next(request, reverse("web:people_home"))
        )
    return _after_meeting_change(request, item.meeting, "web/people/_actions.html")


@login_required
@require_POST
@permission_errors_as_403
def people_meeting_complete(request: AuthenticatedRequest, meeting_id: int) -> HttpResponse:
    """Mark the meeting held; open agenda items move to the next meeting, which opens."""
    meeting = selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    try:
        following = services.meeting_complete(
            meeting=meeting,
            by=request.user,
            # What was typed and not saved yet (the page copies both boxes into this form).
            shared_notes=request.POST.get("shared_notes"),
            private_note=request.POST.get("private_note"),
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("web:people_meeting", args=[meeting.pk]))
    local = timezone.localtime(following.scheduled_at)
    messages.success(
        request, _("Meeting held. Next one: %(when)s.") % {"when": local.strftime("%Y-%m-%d %H:%M")}
    )
    return HttpResponseRedirect(reverse("web:people_meeting", args=[following.pk]))
