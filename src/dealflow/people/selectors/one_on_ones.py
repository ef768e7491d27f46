"""One-on-ones: series, meetings, agenda items, private notes and action items behind their gates."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet
from django.http import Http404

from dealflow.accounts.models import Membership, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.people.models import (
    ActionItem,
    AgendaItem,
    OneOnOneMeeting,
    OneOnOneSeries,
    PrivateNote,
)

# --- One-on-ones ----------------------------------------------------------------------------------


def one_on_one_partner_list(*, manager: User) -> QuerySet[User]:
    """People a manager may hold one-on-ones with: members of the teams they manage (everyone for admins)."""
    scope = user_access_scope(user=manager)
    users = User.objects.filter(is_active=True).exclude(pk=manager.pk)
    if scope.is_admin:
        return users
    if not scope.managed_team_ids:
        return users.none()
    members = Membership.objects.filter(team_id__in=scope.managed_team_ids).values("user_id")
    return users.filter(pk__in=members)


def one_on_one_series_list_for_user(*, user: User) -> QuerySet[OneOnOneSeries]:
    """Series the user takes part in (as manager or rep); admins see every series, never private notes."""
    scope = user_access_scope(user=user)
    series = OneOnOneSeries.objects.select_related("manager", "rep")
    if scope.user_id is None:
        return series.none()
    if not scope.is_admin:
        series = series.filter(Q(manager_id=scope.user_id) | Q(rep_id=scope.user_id))
    return series.order_by("-is_active", "rep__first_name", "rep__username", "id")


def one_on_one_series_get_for_user(*, series_id: int, user: User) -> OneOnOneSeries:
    series = one_on_one_series_list_for_user(user=user).filter(pk=series_id).first()
    if series is None:
        raise Http404("No such one-on-one.")
    return series


def meeting_list_for_series(*, series: OneOnOneSeries) -> QuerySet[OneOnOneMeeting]:
    return OneOnOneMeeting.objects.filter(series=series).order_by("-scheduled_at")


def meeting_next_for_series(*, series: OneOnOneSeries) -> OneOnOneMeeting | None:
    """The first meeting not yet held."""
    return (
        OneOnOneMeeting.objects.filter(series=series, completed_at__isnull=True)
        .order_by("scheduled_at")
        .first()
    )


def meeting_get_for_user(*, meeting_id: int, user: User) -> OneOnOneMeeting:
    """A meeting of a series the user may read (participants, admins), or 404."""
    meeting = (
        OneOnOneMeeting.objects.filter(
            pk=meeting_id, series__in=one_on_one_series_list_for_user(user=user).values("pk")
        )
        .select_related("series__manager", "series__rep")
        .first()
    )
    if meeting is None:
        raise Http404("No such meeting.")
    return meeting


def agenda_list_for_meeting(*, meeting: OneOnOneMeeting) -> QuerySet[AgendaItem]:
    return (
        AgendaItem.objects.filter(meeting=meeting).select_related("added_by", "carried_from").order_by("id")
    )


def agenda_item_get_for_user(*, item_id: int, user: User) -> AgendaItem:
    item = (
        AgendaItem.objects.filter(
            pk=item_id, meeting__series__in=one_on_one_series_list_for_user(user=user).values("pk")
        )
        .select_related("meeting__series")
        .first()
    )
    if item is None:
        raise Http404("No such agenda item.")
    return item


def private_note_text_for_user(*, meeting: OneOnOneMeeting, user: User) -> str:
    """The user's own private note on a meeting. There is deliberately no way to read anyone else's."""
    return (
        PrivateNote.objects.filter(meeting=meeting, author_id=user.pk).values_list("text", flat=True).first()
        or ""
    )


def action_item_list_for_meeting(*, meeting: OneOnOneMeeting) -> QuerySet[ActionItem]:
    return (
        ActionItem.objects.filter(meeting=meeting).select_related("owner").order_by("done_at", "due_on", "id")
    )


def action_item_list_open_for_user(*, user: User) -> QuerySet[ActionItem]:
    """The user's open action items from their one-on-ones, soonest due first (for "My activities")."""
    return (
        ActionItem.objects.filter(owner_id=user.pk, done_at__isnull=True)
        .select_related("meeting__series__manager", "meeting__series__rep")
        .order_by(F("due_on").asc(nulls_last=True), "id")
    )


def action_item_get_for_user(*, item_id: int, user: User) -> ActionItem:
    item = (
        ActionItem.objects.filter(
            pk=item_id, meeting__series__in=one_on_one_series_list_for_user(user=user).values("pk")
        )
        .select_related("meeting__series", "owner")
        .first()
    )
    if item is None:
        raise Http404("No such action item.")
    return item
