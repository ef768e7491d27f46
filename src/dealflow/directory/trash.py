"""The trash across the address book and the pipeline: deleting an organisation or a person (with what
refers to them, when asked), the trash page's list, and restore and purge of any kind of record.

Who sees what in the trash (docs/trash.md): an admin sees, restores and purges everything; anyone else
sees and restores the records they deleted themselves and may still change; only admins purge. Anything
else answers 404, as if it were not there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import Http404

from dealflow.accounts.models import User
from dealflow.accounts.selectors import owner_editable_q, user_is_admin
from dealflow.accounts.services import audit_record
from dealflow.contacts.models import Organization, Person
from dealflow.contacts.search import organization_document, person_document
from dealflow.contacts.selectors import contact_editable_q
from dealflow.contacts.services import organization_purge, person_purge
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.deals.models import Activity, Deal, Lead
from dealflow.deals.services.trash import (
    activity_delete,
    activity_purge,
    activity_restore,
    deal_delete,
    deal_purge,
    deal_restore,
    lead_delete,
    lead_purge,
    lead_restore,
)
from dealflow.search.services import search_index_put, search_index_remove

TRASH_KINDS = ("deal", "lead", "organization", "person", "activity")
TRASH_PAGE_LIMIT = 200


def _model(kind: str) -> Any:
    models = {
        "deal": Deal,
        "lead": Lead,
        "organization": Organization,
        "person": Person,
        "activity": Activity,
    }
    if kind not in models:
        raise Http404("No such kind of record.")
    return models[kind]


def _editable_q(kind: str, user: User) -> Q:
    if kind in ("organization", "person"):
        return contact_editable_q(user=user)
    return owner_editable_q(user=user)


def trash_visible_q(*, kind: str, user: User) -> Q:
    """The records in the trash ``user`` may see: all for an admin, else those they deleted and may change."""
    deleted = Q(deleted_at__isnull=False)
    if kind == "deal":
        deleted &= Q(purged_at__isnull=True)
    if user_is_admin(user=user):
        return deleted
    return deleted & Q(deleted_by_id=user.pk) & _editable_q(kind, user)


@dataclass(frozen=True)
class TrashItem:
    kind: str
    pk: int
    name: str
    deleted_at: dt.datetime
    deleted_by: str


def _name(kind: str, record: Any) -> str:
    if kind == "activity":
        return record.subject
    if kind == "person":
        return record.full_name
    if kind == "organization":
        return record.name
    return record.title


def trash_list_for_user(
    *, user: User, kind: str | None = None, limit: int = TRASH_PAGE_LIMIT
) -> list[TrashItem]:
    """What the user may see in the trash, newest deletion first (at most ``limit`` of each kind)."""
    if kind is not None and kind not in TRASH_KINDS:
        raise ApplicationError(f"No such kind {kind!r}; use one of {', '.join(TRASH_KINDS)}.", field="kind")
    items: list[TrashItem] = []
    for each in (kind,) if kind else TRASH_KINDS:
        records = (
            _model(each)
            .all_objects.filter(trash_visible_q(kind=each, user=user))
            .select_related("deleted_by")
            .order_by("-deleted_at", "-id")[:limit]
        )
        items += [
            TrashItem(
                each,
                record.pk,
                _name(each, record),
                record.deleted_at,
                record.deleted_by.display_name if record.deleted_by else "",
            )
            for record in records
        ]
    items.sort(key=lambda item: (item.deleted_at, item.pk), reverse=True)
    return items


def trash_get_for_user(*, kind: str, record_id: int, user: User) -> Any:
    """One record in the trash the user may see there, else 404."""
    record = _model(kind).all_objects.filter(trash_visible_q(kind=kind, user=user), pk=record_id).first()
    if record is None:
        raise Http404("No such record in the trash.")
    return record


# --- Organisations and persons ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Dependents:
    deals: int
    leads: int
    people: int

    @property
    def total(self) -> int:
        return self.deals + self.leads + self.people

    def describe(self) -> str:
        parts = [
            (self.deals, "deal", "deals"),
            (self.leads, "lead", "leads"),
            (self.people, "person", "people"),
        ]
        return ", ".join(f"{count} {one if count == 1 else many}" for count, one, many in parts if count)


def contact_dependents(*, contact: Organization | Person) -> Dependents:
    """The live deals, leads and (for an organisation) people that refer to a contact."""
    return Dependents(
        deals=contact.deals.count(),
        leads=contact.leads.count(),
        people=contact.people.count() if isinstance(contact, Organization) else 0,
    )


def _check_may_delete_records(*, contact: Organization | Person, by: User | None) -> None:
    if by is None or user_is_admin(user=by):
        return
    for related in (contact.deals, contact.leads):
        if related.exclude(owner_editable_q(user=by)).exists():
            raise PermissionDeniedError(
                f"Deals or leads you may not change refer to {contact}; ask their manager or an admin.",
                field="with_records",
            )


@transaction.atomic
def contact_delete(
    *,
    contact: Organization | Person,
    by: User | None,
    with_records: bool = False,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Move an organisation or a person to the trash. When deals, leads or people refer to it, refuse and
    name how many, unless ``with_records``: then they go to the trash too, in the same step (and come back
    with it). Returns what went, by kind."""
    kind = "organization" if isinstance(contact, Organization) else "person"
    if contact.deleted_at is not None:
        raise ApplicationError(f"{contact} is already in the trash.", field=kind)
    dependents = contact_dependents(contact=contact)
    if dependents.total and not with_records:
        raise ApplicationError(
            f"{dependents.describe()} refer to {contact}. Delete them with it, or move them first.",
            field="with_records",
        )
    _check_may_delete_records(contact=contact, by=by)
    at = at or clock.now()  # one moment for everything that goes together, so it comes back together
    went: dict[str, list[int]] = {"deals": [], "leads": [], "persons": []}
    for deal in contact.deals.select_related("stage").order_by("id"):
        deal_delete(deal=deal, by=by, at=at, origin=f"{kind}:{contact.pk}")
        went["deals"].append(deal.pk)
    for lead in contact.leads.order_by("id"):
        lead_delete(lead=lead, by=by, at=at)
        went["leads"].append(lead.pk)
    if isinstance(contact, Organization):
        for person in contact.people.order_by("id"):
            person_went = contact_delete(contact=person, by=by, with_records=True, at=at)
            went["persons"].append(person.pk)
            went["deals"] += person_went["deals"]
            went["leads"] += person_went["leads"]
    type(contact).all_objects.filter(pk=contact.pk).update(deleted_at=at, deleted_by=by)
    contact.deleted_at, contact.deleted_by = at, by
    search_index_remove(kind=kind, object_ids=[contact.pk])
    audit_record(
        actor=by,
        action=f"{kind}.deleted",
        target=f"{kind}:{contact.pk}",
        detail={"name": str(contact), **went},
    )
    return went


@transaction.atomic
def contact_restore(*, contact: Organization | Person, by: User | None) -> dict[str, Any]:
    """Bring an organisation or a person back, with the deals, leads and people deleted with it."""
    kind = "organization" if isinstance(contact, Organization) else "person"
    if contact.deleted_at is None:
        raise ApplicationError(f"{contact} is not in the trash.", field=kind)
    if isinstance(contact, Person) and contact.organization_id:
        organization = Organization.all_objects.filter(pk=contact.organization_id).first()
        if organization is not None and organization.deleted_at not in (None, contact.deleted_at):
            raise ApplicationError(
                f"Their organisation {organization.name} is in the trash; restore it first.", field="person"
            )
    at = contact.deleted_at
    type(contact).all_objects.filter(pk=contact.pk).update(deleted_at=None, deleted_by=None)
    contact.deleted_at, contact.deleted_by = None, None
    back: dict[str, list[int]] = {"deals": [], "leads": [], "persons": []}
    if isinstance(contact, Organization):
        for person in Person.all_objects.filter(organization=contact, deleted_at=at).order_by("id"):
            person_back = contact_restore(contact=person, by=by)
            back["persons"].append(person.pk)
            back["deals"] += person_back["deals"]
            back["leads"] += person_back["leads"]
    for deal in (
        Deal.all_objects.filter(Q(organization=contact) if kind == "organization" else Q(person=contact))
        .filter(deleted_at=at, purged_at__isnull=True)
        .select_related("stage")
        .order_by("id")
    ):
        if _live_contacts(deal):
            deal_restore(deal=deal, by=by, origin=f"{kind}:{contact.pk}")
            back["deals"].append(deal.pk)
    for lead in (
        Lead.all_objects.filter(Q(organization=contact) if kind == "organization" else Q(person=contact))
        .filter(deleted_at=at)
        .order_by("id")
    ):
        if _live_contacts(lead):
            lead_restore(lead=lead, by=by)
            back["leads"].append(lead.pk)
    search_index_put(
        document=organization_document(contact)
        if isinstance(contact, Organization)
        else person_document(contact)
    )
    audit_record(
        actor=by,
        action=f"{kind}.restored",
        target=f"{kind}:{contact.pk}",
        detail={"name": str(contact), **back},
    )
    return back


def _live_contacts(record: Deal | Lead) -> bool:
    """Whether both contacts of a deal or lead are out of the trash (the other may still be in it)."""
    for model, pk in ((Organization, record.organization_id), (Person, record.person_id)):
        if pk and model.all_objects.filter(pk=pk, deleted_at__isnull=False).exists():
            return False
    return True


# --- Restore and purge, any kind ---------------------------------------------------------------------------


@transaction.atomic
def trash_restore(*, kind: str, record: Any, by: User | None) -> Any:
    """Restore one record of the trash through its kind's service (events and audit entries written there)."""
    if kind == "deal":
        return deal_restore(deal=record, by=by)
    if kind == "lead":
        return lead_restore(lead=record, by=by)
    if kind == "activity":
        return activity_restore(activity=record, by=by)
    return contact_restore(contact=record, by=by)


@transaction.atomic
def trash_purge(*, kind: str, record: Any, by: User) -> None:
    """Delete one record of the trash for good (admins only; written to the audit log)."""
    if not user_is_admin(user=by):
        raise PermissionDeniedError("Only an admin may purge the trash.", field="user")
    if record.deleted_at is None:
        raise ApplicationError("Only a record in the trash can be purged.", field=kind)
    if kind == "deal":
        deal_purge(deal=record, by=by)
    elif kind == "lead":
        lead_purge(lead=record, by=by)
    elif kind == "activity":
        activity_purge(activity=record, by=by)
    else:
        name = str(record)
        if kind == "organization":
            organization_purge(organization=record, by=by)
        else:
            person_purge(person=record, by=by)
        audit_record(actor=by, action=f"{kind}.purged", target=f"{kind}:{record.pk}", detail={"name": name})


def trash_delete(*, kind: str, record: Any, by: User, with_records: bool = False) -> dict[str, Any]:
    """Move one record to the trash through its kind's service (the web, API and CLI doors call this)."""
    if kind == "deal":
        deal_delete(deal=record, by=by)
        return {"deals": [record.pk]}
    if kind == "lead":
        lead_delete(lead=record, by=by)
        return {"leads": [record.pk]}
    if kind == "activity":
        activity_delete(activity=record, by=by)
        return {"activities": [record.pk]}
    return contact_delete(contact=record, by=by, with_records=with_records)


def trash_count_for_user(*, user: User) -> int:
    return sum(
        _model(kind).all_objects.filter(trash_visible_q(kind=kind, user=user)).count() for kind in TRASH_KINDS
    )
