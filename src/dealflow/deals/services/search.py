"""What a deal, a lead or an activity is found by in the global search (search app); the deal, lead and
activity services call these after each write that changes the words or the owner."""

from __future__ import annotations

from dealflow.deals.models import Activity, Deal, Lead
from dealflow.search.models import SearchKind
from dealflow.search.services import SearchDocument, search_index_put


def _name(contact: object) -> str:
    return str(contact) if contact is not None else ""


def deal_document(deal: Deal) -> SearchDocument:
    return record_document(
        kind=SearchKind.DEAL,
        pk=deal.pk,
        owner_id=deal.owner_id,
        title=deal.title,
        organization=_name(deal.organization) if deal.organization_id else "",
        person=_name(deal.person) if deal.person_id else "",
    )


def lead_document(lead: Lead) -> SearchDocument:
    return record_document(
        kind=SearchKind.LEAD,
        pk=lead.pk,
        owner_id=lead.owner_id,
        title=lead.title,
        organization=_name(lead.organization) if lead.organization_id else "",
        person=_name(lead.person) if lead.person_id else "",
    )


def record_document(
    *, kind: str, pk: int, owner_id: int | None, title: str, organization: str, person: str
) -> SearchDocument:
    """A deal's or a lead's entry from its columns and its organization's and person's names, so a bulk load
    can index rows read as plain values (``directory.services.search_index_bulk_loaded``)."""
    return SearchDocument(
        kind=kind,
        object_id=pk,
        owner_id=owner_id,
        title=title,
        subtitle=organization,
        text=" ".join((title, organization, person)),
    )


def activity_document(activity: Activity) -> SearchDocument:
    about = activity.deal.title if activity.deal_id and activity.deal else ""
    return SearchDocument(
        kind=SearchKind.ACTIVITY,
        object_id=activity.pk,
        owner_id=activity.owner_id,
        title=activity.subject,
        subtitle=about,
        text=" ".join((activity.subject, activity.notes[:1000])),
    )


def deal_search_index(deal: Deal) -> None:
    search_index_put(document=deal_document(deal))


def lead_search_index(lead: Lead) -> None:
    search_index_put(document=lead_document(lead))


def activity_search_index(activity: Activity) -> None:
    search_index_put(document=activity_document(activity))
