"""Writes that span the address book and the pipeline (contacts sit below deals in the layers)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction
from django.http import QueryDict

from dealflow.accounts.models import Membership, User
from dealflow.accounts.services import audit_record
from dealflow.contacts.models import Organization, Person, person_name_of
from dealflow.contacts.search import organization_document, person_document
from dealflow.contacts.services import organization_purge, organization_update, person_purge, person_update
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.core.money import from_minor
from dealflow.customfields.selectors import custom_values_get
from dealflow.customfields.services import custom_values_store
from dealflow.deals.models import Activity, Deal, EventKind, Lead
from dealflow.deals.selectors import DealFilters, deal_ordering, user_check_can_write
from dealflow.deals.services import deal_update
from dealflow.deals.services.history import event_record
from dealflow.deals.services.search import activity_document, deal_document, lead_document, record_document
from dealflow.directory.models import ContactMerge, SavedView
from dealflow.quotes.models import Quote
from dealflow.search.models import SearchEntry, SearchKind
from dealflow.search.services import (
    SearchDocument,
    search_index_add_many,
    search_index_put,
    search_index_put_many,
)
from dealflow.tags.selectors import tag_names_of
from dealflow.tags.services import tag_links_set

REBUILD_CHUNK = 5000


# What the organization, person and activity documents read: only these columns are loaded. A rebuild of a
# 1M-deal demo spent most of its time building whole model instances and parsing their timestamps
# (docs/benchmarks.md, "Search rebuild"); deals and leads are read as plain values (``_record_documents``).
_INSTANCE_COLUMNS: dict[Any, tuple[str, ...]] = {
    Organization: ("owner_id", "name", "website", "industry", "country"),
    Person: ("owner_id", "first_name", "last_name", "email", "phone", "job_title", "organization__name"),
    Activity: ("owner_id", "subject", "notes", "deal__title"),
}


def _documents() -> Iterator[SearchDocument]:
    # In this order: the search lists the newest entries first, by id.
    sources: list[tuple[Any, Any, tuple[str, ...]]] = [
        (Organization, organization_document, ()),
        (Person, person_document, ("organization",)),
        (Deal, SearchKind.DEAL, ()),
        (Lead, SearchKind.LEAD, ()),
        (Activity, activity_document, ("deal",)),
    ]
    for model, document_of, related in sources:
        last = 0
        while True:
            if isinstance(document_of, str):  # a deal or a lead: plain values
                rows = model.objects.filter(pk__gt=last).order_by("pk").values_list(*_DOCUMENT_FIELDS)
                chunk = list(rows[:REBUILD_CHUNK])
                yield from _record_documents(document_of, chunk)
            else:
                queryset = model.objects.select_related(*related).only(*_INSTANCE_COLUMNS[model])
                chunk = list(queryset.filter(pk__gt=last).order_by("pk")[:REBUILD_CHUNK])
                yield from (document_of(record) for record in chunk)
            if not chunk:
                break
            last = chunk[-1][0] if isinstance(document_of, str) else chunk[-1].pk


def _record_documents(kind: str, rows: Iterable[tuple[Any, ...]]) -> Iterator[SearchDocument]:
    """Deal or lead documents from rows of ``_DOCUMENT_FIELDS``; ``record_document`` is what ``deal_document``
    and ``lead_document`` build too."""
    for pk, owner_id, title, organization, first_name, last_name, email in rows:
        yield record_document(
            kind=kind,
            pk=pk,
            owner_id=owner_id,
            title=title,
            organization=organization or "",
            person=person_name_of(first_name, last_name, email) if first_name is not None else "",
        )


@transaction.atomic
def search_rebuild(*, indexes_after: bool = False) -> int:
    """Refill the search index from the records (after a bulk load or a restore); returns the entry count.

    The same document functions as the services, so a rebuilt entry equals one the services wrote.
    ``indexes_after``: into an idle database (a big demo load), the entries' indexes are built once after
    them (``search_index_add_many``).
    """
    SearchEntry.objects.all().delete()
    return search_index_add_many(documents=_documents(), indexes_after=indexes_after)


_DOCUMENT_FIELDS = (
    "id", "owner_id", "title", "organization__name", "person__first_name", "person__last_name", "person__email",
)  # fmt: skip


@transaction.atomic
def search_index_bulk_loaded(*, deal_ids: list[int], lead_ids: list[int], indexes_after: bool = False) -> int:
    """Index deals and leads a bulk writer created (they bypass the services that index one at a time).

    The rows are read as plain values, a range of ids at a time (the writer's new ids; a Python set keeps
    out any other row in the range): model instances and 5,000-value ``IN`` lists were most of a big
    import's indexing time (docs/benchmarks.md, "Import"). ``record_document`` is what ``deal_document``
    and ``lead_document`` build too. ``indexes_after``: a big load into an idle database (the bulk writer's
    ``defer_indexes``), whose entries' indexes are built once after them (``search_index_add_many``).
    """
    sources: list[tuple[Any, str, list[int]]] = [
        (Deal, SearchKind.DEAL, sorted(deal_ids)),
        (Lead, SearchKind.LEAD, sorted(lead_ids)),
    ]

    def documents() -> Iterator[SearchDocument]:
        for model, kind, ids in sources:
            for start in range(0, len(ids), REBUILD_CHUNK):
                chunk = ids[start : start + REBUILD_CHUNK]
                wanted = set(chunk)
                span = (chunk[0], chunk[-1])
                stale = [
                    entry_id
                    for entry_id, object_id in SearchEntry.objects.filter(
                        kind=kind, object_id__range=span
                    ).values_list("id", "object_id")
                    if object_id in wanted
                ]
                if stale:  # an id used before (SQLite reuses the highest ids of deleted rows)
                    SearchEntry.objects.filter(id__in=stale).delete()
                rows = model.objects.filter(id__range=span).order_by("id").values_list(*_DOCUMENT_FIELDS)
                yield from _record_documents(
                    kind, (row for row in rows.iterator(chunk_size=REBUILD_CHUNK) if row[0] in wanted)
                )

    return search_index_add_many(documents=documents(), indexes_after=indexes_after)


# ---- Privacy: export and erase a person (GDPR articles 15, 17 and 20) ----------------------------------

ERASED_NAME = "(erased)"
ERASED_ACTIVITY_SUBJECT = "Activity with an erased person"


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


@transaction.atomic
def person_export(*, person: Person, by: User | None) -> dict[str, Any]:
    """Everything Dealflow holds about a person, as plain JSON types; the export is written to the audit log.

    ``person`` comes from ``person_get_for_user``: the caller may see them. Deals, leads and activities are
    those that name the person, whoever owns them (the person's right to access is not the reader's view).
    """
    organization = person.organization
    export: dict[str, Any] = {
        "kind": "dealflow.person.export",
        "version": 1,
        "exported_at": _iso(clock.now()),
        "person": {
            "id": person.pk,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "phone": person.phone,
            "job_title": person.job_title,
            "organization": {"id": organization.pk, "name": organization.name} if organization else None,
            "owner": person.owner.username if person.owner else None,
            "created_at": _iso(person.created_at),
            "updated_at": _iso(person.updated_at),
            "external_source": person.external_source,
            "external_id": person.external_id,
            "custom_fields": custom_values_get(entity="person", object_id=person.pk),
            "tags": tag_names_of(entity="person", object_id=person.pk),
        },
        "deals": [
            {
                "id": deal.pk,
                "title": deal.title,
                "status": deal.status,
                "amount": str(from_minor(deal.amount_minor, deal.currency)),
                "currency": deal.currency,
                "created_at": _iso(deal.created_at),
                "closed_on": _iso(deal.closed_on),
            }
            for deal in Deal.objects.filter(person=person).order_by("id")
        ],
        "leads": [
            {"id": lead.pk, "title": lead.title, "status": lead.status, "created_at": _iso(lead.created_at)}
            for lead in Lead.objects.filter(person=person).order_by("id")
        ],
        "activities": [
            {
                "id": activity.pk,
                "kind": activity.kind,
                "subject": activity.subject,
                "notes": activity.notes,
                "due_at": _iso(activity.due_at),
                "done_at": _iso(activity.done_at),
                "deal_id": activity.deal_id,
            }
            for activity in Activity.objects.filter(person=person).order_by("id")
        ],
    }
    audit_record(
        actor=by, action="person.exported", target=f"person:{person.pk}", detail={"person_id": person.pk}
    )
    return export


@transaction.atomic
def person_erase(*, person: Person, by: User | None) -> Person:
    """Anonymise a person everywhere and keep the figures: name, e-mail, phone, job title, external id,
    custom values and tags go; the subjects and notes of activities that name them go, and so do their name
    and address on quotes; their deals and leads keep their amounts and history but point at "(erased)". Written to the audit log (without the
    personal data)."""
    if by is not None:
        user_check_can_write(user=by)
    old_name, old_email = person.full_name, person.email
    quotes = Quote.objects.filter(deal__person=person)
    if old_email:
        quotes.filter(recipient_email__iexact=old_email).update(recipient_email="")
    quotes.filter(customer_name=old_name).update(customer_name=ERASED_NAME)
    Person.objects.filter(pk=person.pk).update(
        first_name="",
        last_name=ERASED_NAME,
        email="",
        phone="",
        job_title="",
        external_id="",
        updated_at=clock.now(),
    )
    person.refresh_from_db()
    custom_values_store(entity="person", object_id=person.pk, document={})
    tag_links_set(entity="person", object_id=person.pk, names=[])
    activities = Activity.objects.filter(person=person)
    erased_activities = activities.update(subject=ERASED_ACTIVITY_SUBJECT, notes="")
    search_index_put(document=person_document(person))
    search_index_put_many(
        documents=[activity_document(activity) for activity in activities.select_related("deal")]
    )
    search_index_put_many(
        documents=[
            deal_document(deal) for deal in Deal.objects.filter(person=person).select_related("organization")
        ]
    )
    search_index_put_many(
        documents=[
            lead_document(lead) for lead in Lead.objects.filter(person=person).select_related("organization")
        ]
    )
    audit_record(
        actor=by,
        action="person.erased",
        target=f"person:{person.pk}",
        detail={"person_id": person.pk, "activities": erased_activities},
    )
    return person


# ---- Merging duplicates -----------------------------------------------------------------------------


def _snapshot(contact: Organization | Person) -> dict[str, Any]:
    names = (
        ("name", "website", "industry", "country", "owner_id", "external_source", "external_id")
        if isinstance(contact, Organization)
        else ("first_name", "last_name", "email", "phone", "job_title", "organization_id", "owner_id")
    )
    return {name: getattr(contact, name) for name in names} | {"created_at": _iso(contact.created_at)}


def _move_deals(*, deals: Any, column: str, survivor: Any, merged_name: str, by: User | None) -> list[int]:
    """Point each deal at the survivor through the deal service and record the change in its history."""
    moved = []
    for deal in deals.select_related("organization", "person").order_by("id"):
        deal_update(deal=deal, by=by, data={column: survivor}, origin="merge")
        event_record(
            deal=deal,
            kind=EventKind.FIELD_CHANGED,
            by=by,
            field=column,
            from_value=merged_name,
            to_value=str(survivor),
            origin="merge",
            note=f"Merged {column} #{survivor.pk}",
        )
        moved.append(deal.pk)
    return moved


def _merge_extras(*, entity: str, survivor: Any, merged: Any) -> None:
    """Tags of both; custom values of the survivor, with the merged record's where the survivor has none."""
    names = tag_names_of(entity=entity, object_id=survivor.pk) + tag_names_of(
        entity=entity, object_id=merged.pk
    )
    tag_links_set(entity=entity, object_id=survivor.pk, names=names)
    values = custom_values_get(entity=entity, object_id=merged.pk) | {
        key: value
        for key, value in custom_values_get(entity=entity, object_id=survivor.pk).items()
        if value not in (None, "", [])
    }
    if values:
        custom_values_store(entity=entity, object_id=survivor.pk, document=values)


def _record_merge(
    *, kind: str, survivor: Any, merged: Any, snapshot: dict, moved: dict, by: User | None
) -> ContactMerge:
    merge = ContactMerge.objects.create(
        kind=kind,
        survivor_id=survivor.pk,
        survivor_name=str(survivor)[:200],
        merged_id=merged.pk,
        merged_name=str(merged)[:200],
        merged_data=snapshot,
        moved=moved,
        by=by if by is not None and by.pk else None,
        at=clock.now(),
    )
    audit_record(
        actor=by,
        action=f"{kind}.merged",
        target=f"{kind}:{survivor.pk}",
        detail={"merged_id": merged.pk, "merged_name": str(merged), "merge_id": merge.pk, **moved},
    )
    return merge


@transaction.atomic
def organization_merge(*, survivor: Organization, merged: Organization, by: User | None) -> ContactMerge:
    """Fold ``merged`` into ``survivor``: every deal (with a history event), lead and person moves over, tags
    and custom values join, empty fields are filled; ``merged`` is deleted; the merge is recorded for review
    and in the audit log. Both come from ``organization_get_for_user(for_write=True)``."""
    if survivor.pk == merged.pk:
        raise ApplicationError("Pick two different organizations to merge.", field="merged")
    if by is not None:
        user_check_can_write(user=by)
    snapshot = _snapshot(merged)
    moved = {
        "deals": _move_deals(
            deals=Deal.all_objects.filter(organization=merged),  # those in the trash follow too
            column="organization",
            survivor=survivor,
            merged_name=merged.name,
            by=by,
        ),
        "leads": list(
            Lead.all_objects.filter(organization=merged).order_by("id").values_list("id", flat=True)
        ),
        "persons": list(
            Person.all_objects.filter(organization=merged).order_by("id").values_list("id", flat=True)
        ),
    }
    Lead.all_objects.filter(pk__in=moved["leads"]).update(organization=survivor)
    Person.all_objects.filter(pk__in=moved["persons"]).update(organization=survivor)
    _merge_extras(entity="organization", survivor=survivor, merged=merged)
    fill = {
        name: getattr(merged, name)
        for name in ("website", "industry", "country")
        if not getattr(survivor, name)
    }
    if fill:
        organization_update(organization=survivor, data=fill, by=by)
    merge = _record_merge(
        kind="organization", survivor=survivor, merged=merged, snapshot=snapshot, moved=moved, by=by
    )
    organization_purge(organization=merged, by=by)
    search_index_put_many(
        documents=[
            lead_document(lead)
            for lead in Lead.objects.filter(pk__in=moved["leads"]).select_related("organization", "person")
        ]
        + [
            person_document(person)
            for person in Person.objects.filter(pk__in=moved["persons"]).select_related("organization")
        ]
    )
    return merge


@transaction.atomic
def person_merge(*, survivor: Person, merged: Person, by: User | None) -> ContactMerge:
    """Fold ``merged`` into ``survivor``: deals (with a history event), leads and activities move over, tags
    and custom values join, empty contact details are filled; ``merged`` is deleted; recorded and audited."""
    if survivor.pk == merged.pk:
        raise ApplicationError("Pick two different people to merge.", field="merged")
    if by is not None:
        user_check_can_write(user=by)
    snapshot = _snapshot(merged)
    moved = {
        "deals": _move_deals(
            deals=Deal.all_objects.filter(person=merged),  # those in the trash follow too
            column="person",
            survivor=survivor,
            merged_name=str(merged),
            by=by,
        ),
        "leads": list(Lead.all_objects.filter(person=merged).order_by("id").values_list("id", flat=True)),
        "activities": list(
            Activity.all_objects.filter(person=merged).order_by("id").values_list("id", flat=True)
        ),
    }
    Lead.all_objects.filter(pk__in=moved["leads"]).update(person=survivor)
    Activity.all_objects.filter(pk__in=moved["activities"]).update(person=survivor)
    _merge_extras(entity="person", survivor=survivor, merged=merged)
    fill: dict[str, Any] = {
        name: getattr(merged, name)
        for name in ("first_name", "last_name", "email", "phone", "job_title", "organization")
        if not getattr(survivor, name) and getattr(merged, name)
    }
    if fill:
        person_update(person=survivor, data=fill, by=by)
    merge = _record_merge(
        kind="person", survivor=survivor, merged=merged, snapshot=snapshot, moved=moved, by=by
    )
    person_purge(person=merged, by=by)
    search_index_put_many(
        documents=[
            lead_document(lead)
            for lead in Lead.objects.filter(pk__in=moved["leads"]).select_related("organization", "person")
        ]
    )
    return merge


# ---- Saved views of the deals list ---------------------------------------------------------------------


@transaction.atomic
def saved_view_save(*, owner: User, name: str, query: str, team_id: int | None = None) -> SavedView:
    """Save (or overwrite, by name) the deals list's filters and sort under a name; ``team_id`` shares it
    with a team of the owner's. The query is checked as the list would read it, naming the bad filter."""
    text = " ".join(str(name or "").split())
    if not text:
        raise ApplicationError("Name the view.", field="name")
    if len(text) > 80:
        raise ApplicationError("A view's name has at most 80 characters.", field="name")
    parsed = QueryDict(str(query or "").lstrip("?"), mutable=True)
    parsed.pop("page", None)
    DealFilters.from_mapping(parsed)  # an ApplicationError names the filter at fault
    if parsed.get("order"):
        deal_ordering(str(parsed["order"]))
    if team_id is not None and not Membership.objects.filter(user=owner, team_id=team_id).exists():
        raise ApplicationError("Share a view only with a team you belong to.", field="team")
    view, _ = SavedView.objects.update_or_create(
        owner=owner,
        name=text,
        defaults={"query": parsed.urlencode()[:2000], "team_id": team_id, "created_at": clock.now()},
    )
    return view


@transaction.atomic
def saved_view_delete(*, view: SavedView, by: User) -> None:
    """Delete a saved view (its owner's to delete)."""
    if view.owner_id != by.pk:
        raise PermissionDeniedError("Only its owner deletes a saved view.", field="view")
    view.delete()


# ---- Renames reach the search entries that carry the name ----------------------------------------------


def _reindex_named(contact: Organization | Person) -> None:
    """Refresh the entries of the deals, leads (and, for an organisation, people) that show its name."""
    column = "organization" if isinstance(contact, Organization) else "person"
    search_index_put_many(
        documents=[
            deal_document(deal)
            for deal in Deal.objects.filter(**{column: contact}).select_related("organization", "person")
        ]
        + [
            lead_document(lead)
            for lead in Lead.objects.filter(**{column: contact}).select_related("organization", "person")
        ]
    )
    if isinstance(contact, Organization):
        search_index_put_many(
            documents=[
                person_document(person)
                for person in Person.objects.filter(organization=contact).select_related("organization")
            ]
        )


@transaction.atomic
def organization_change(*, organization: Organization, data: dict[str, Any], by: User | None) -> Organization:
    """Change an organisation (contacts' rules) and, when its name changes, the search entries of its
    deals, leads and people, which are found by it."""
    old_name = organization.name
    organization = organization_update(organization=organization, data=data, by=by)
    if organization.name != old_name:
        _reindex_named(organization)
    return organization


@transaction.atomic
def person_change(*, person: Person, data: dict[str, Any], by: User | None) -> Person:
    """Change a person and, when their name changes, the search entries of their deals and leads."""
    old_name = person.full_name
    person = person_update(person=person, data=data, by=by)
    if person.full_name != old_name:
        _reindex_named(person)
    return person
