"""Reads that join the address book to the pipeline: an organization's or a person's deals, leads,
activities, notes and timeline, each filtered by what the reader may see.

Contacts sit below deals in the layers, so these reads live here, above both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from dealflow.accounts.models import Membership, User
from dealflow.accounts.selectors import owner_visibility_q, user_is_admin
from dealflow.contacts.models import Organization, Person
from dealflow.contacts.selectors import contact_shared_visible_q
from dealflow.core.errors import PermissionDeniedError
from dealflow.deals.models import Activity, ActivityKind, Deal, DealEvent, DealStatus, Lead
from dealflow.directory.models import ContactMerge, SavedView

# A contact page shows this many of each kind; the count says how many there are in all. 50 made a person's
# page 89 KB and 0.5-0.8 s at 1M deals, most of it rendering activity rows and the timeline (issue #19).
OVERVIEW_LIMIT = 25


@dataclass
class ContactOverview:
    """What a contact page shows, already limited to what the reader may see."""

    open_deals: list[Deal] = field(default_factory=list)
    won_deals: list[Deal] = field(default_factory=list)
    lost_deals: list[Deal] = field(default_factory=list)
    deal_counts: dict[str, int] = field(default_factory=dict)
    leads: list[Lead] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)  # calls, meetings, e-mails, tasks
    notes: list[Activity] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)


def _deals_of(contact: Organization | Person, user: User) -> QuerySet[Deal]:
    column = "organization_id" if isinstance(contact, Organization) else "person_id"
    return Deal.objects.filter(owner_visibility_q(user=user), **{column: contact.pk}).select_related(
        "owner", "stage", "pipeline"
    )


def _activities_q(contact: Organization | Person) -> Q:
    """Activities about the contact: on its deals, its leads, or its persons (an organization) or itself.

    One id set from a UNION of three indexed lookups. The same OR across the joined deal, lead and person
    made the database read every activity (0.4 s per list at 20,000 deals; the page runs three such lists).
    """
    rows = Activity._base_manager.order_by().values(
        "pk"
    )  # trashed rows go by the default manager of the outer query
    if isinstance(contact, Organization):
        parts = [
            rows.filter(deal__organization_id=contact.pk),
            rows.filter(lead__organization_id=contact.pk),
            rows.filter(person__organization_id=contact.pk),
        ]
    else:
        parts = [
            rows.filter(person_id=contact.pk),
            rows.filter(deal__person_id=contact.pk),
            rows.filter(lead__person_id=contact.pk),
        ]
    return Q(pk__in=parts[0].union(*parts[1:]))


def contact_overview_for_user(*, contact: Organization | Person, user: User) -> ContactOverview:
    """Deals (open, won, lost), leads, activities, notes, people and a timeline of a contact the user sees.

    ``contact`` comes from ``organization_get_for_user`` / ``person_get_for_user``: the gate ran already.
    """
    overview = ContactOverview()
    deals = _deals_of(contact, user)
    for status, target in (
        (DealStatus.OPEN, overview.open_deals),
        (DealStatus.WON, overview.won_deals),
        (DealStatus.LOST, overview.lost_deals),
    ):
        ordering = ("expected_close_on", "id") if status == DealStatus.OPEN else ("-closed_on", "-id")
        target.extend(deals.filter(status=status).order_by(*ordering)[:OVERVIEW_LIMIT])
    statuses = (DealStatus.OPEN, DealStatus.WON, DealStatus.LOST)
    overview.deal_counts = deals.order_by().aggregate(
        **{status: Count("pk", filter=Q(status=status)) for status in statuses}
    )
    lead_column = "organization_id" if isinstance(contact, Organization) else "person_id"
    overview.leads = list(
        Lead.objects.filter(owner_visibility_q(user=user), **{lead_column: contact.pk})
        .select_related("owner", "source")
        .order_by("-created_at", "-id")[:OVERVIEW_LIMIT]
    )
    activities = (
        Activity.objects.filter(owner_visibility_q(user=user))
        .filter(_activities_q(contact))
        .select_related("owner", "deal", "lead", "person")
    )
    overview.notes = list(
        activities.filter(kind=ActivityKind.NOTE).order_by("-created_at", "-id")[:OVERVIEW_LIMIT]
    )
    overview.activities = list(
        activities.exclude(kind=ActivityKind.NOTE).order_by("done_at", "due_at", "-id")[:OVERVIEW_LIMIT]
    )
    if isinstance(contact, Organization):
        overview.people = list(
            Person.objects.filter(organization_id=contact.pk)
            .filter(contact_shared_visible_q(model=Person, user=user))
            .order_by("last_name", "first_name", "id")[:OVERVIEW_LIMIT]
        )
    overview.timeline = _timeline(deals, activities)
    return overview


def _timeline(deals: QuerySet[Deal], activities: QuerySet[Activity]) -> list[dict[str, Any]]:
    """The newest events of the contact's visible deals and its done activities, newest first."""
    events = list(
        DealEvent.objects.filter(deal_id__in=deals.values("pk"))
        .select_related("deal", "actor", "from_stage", "to_stage")
        .order_by("-occurred_at", "-id")[:OVERVIEW_LIMIT]
    )
    items: list[dict[str, Any]] = [
        {"type": "event", "at": event.occurred_at, "event": event} for event in events
    ]
    done = activities.filter(done_at__isnull=False).order_by("-done_at", "-id")[:OVERVIEW_LIMIT]
    items += [{"type": "activity", "at": activity.done_at, "activity": activity} for activity in done]
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    items.sort(key=lambda item: item["at"] or epoch, reverse=True)
    return items[:OVERVIEW_LIMIT]


def contact_merge_list_for_user(*, user: User) -> QuerySet[ContactMerge]:
    """Every merge of organizations and persons, newest first: for admins, who review them."""
    if not user_is_admin(user=user):
        raise PermissionDeniedError("Only an admin may review merges.", field="user")
    return ContactMerge.objects.select_related("by").order_by("-at", "-id")


def saved_view_list_for_user(*, user: User) -> QuerySet[SavedView]:
    """The user's saved deals-list views and those shared with a team the user belongs to."""
    teams = Membership.objects.filter(user_id=user.pk).values("team_id")
    return (
        SavedView.objects.filter(Q(owner_id=user.pk) | Q(team_id__in=teams))
        .select_related("owner", "team")
        .order_by("name", "id")
    )


def saved_view_get_for_user(*, view_id: int, user: User) -> SavedView:
    """One saved view the user owns or shares through a team, else 404."""
    view = saved_view_list_for_user(user=user).filter(pk=view_id).first()
    if view is None:
        raise Http404("No such saved view.")
    return view
