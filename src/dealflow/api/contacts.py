"""Contacts: organizations and the people who work there."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Query, Router, Schema, Status

from dealflow.accounts.selectors import user_get_assignable_for_user
from dealflow.api.base import ApiRequest, paginate
from dealflow.api.schemas import Id, Offset, PageOut, UserRef
from dealflow.api.trash import TrashedOut, trashed_out
from dealflow.contacts.models import Person
from dealflow.contacts.selectors import (
    organization_duplicates_for_user,
    organization_get_for_user,
    organization_list_for_user,
    person_duplicates_for_user,
    person_get_for_user,
    person_list_for_user,
)
from dealflow.contacts.services import organization_create, person_create
from dealflow.deals.selectors import user_check_can_write
from dealflow.directory.services import (
    organization_change,
    organization_merge,
    person_change,
    person_erase,
    person_export,
    person_merge,
)
from dealflow.directory.trash import contact_delete

router = Router(tags=["Contacts"])


class OrganizationOut(Schema):
    id: int
    name: str
    website: str
    industry: str
    country: str
    owner: UserRef | None
    created_at: dt.datetime


class PersonOut(Schema):
    id: int
    first_name: str
    last_name: str
    full_name: str
    email: str
    phone: str
    job_title: str
    organization_id: int | None
    organization: str | None
    owner: UserRef | None
    created_at: dt.datetime

    @staticmethod
    def resolve_organization(person: Person) -> str | None:
        return person.organization.name if person.organization else None


class ContactQuery(Schema):
    q: str | None = None
    owner: Id | None = None
    order: str | None = None
    limit: int = 50
    offset: Offset = 0


class PersonQuery(ContactQuery):
    organization: Id | None = None


class OrganizationIn(Schema):
    name: str
    website: str = ""
    industry: str = ""
    country: str = ""
    owner_id: Id | None = None


class OrganizationUpdateIn(Schema):
    name: str | None = None
    website: str | None = None
    industry: str | None = None
    country: str | None = None
    owner_id: Id | None = None


class PersonIn(Schema):
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    job_title: str = ""
    organization_id: Id | None = None
    owner_id: Id | None = None


class PersonUpdateIn(Schema):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    job_title: str | None = None
    organization_id: Id | None = None
    owner_id: Id | None = None


def contact_references(data: dict[str, Any], *, user) -> dict[str, Any]:
    """Resolve owner and organization ids; a null owner makes the contact the company's."""
    resolved: dict[str, Any] = {}
    for name, value in data.items():
        if name == "owner_id":
            resolved["owner"] = value and user_get_assignable_for_user(user_id=value, user=user, field=name)
        elif name == "organization_id":
            resolved["organization"] = value and organization_get_for_user(
                organization_id=value, user=user, field=name
            )
        else:
            resolved[name] = value
    return resolved


@router.get("/organizations", response=PageOut[OrganizationOut])
def list_organizations(request: ApiRequest, query: Query[ContactQuery]):
    organizations = organization_list_for_user(
        user=request.user, search=query.q, owner_id=query.owner, order=query.order
    )
    return paginate(organizations, limit=query.limit, offset=query.offset)


@router.post("/organizations", response={201: OrganizationOut})
def create_organization(request: ApiRequest, payload: OrganizationIn):
    user_check_can_write(user=request.user)
    data = contact_references(payload.dict(), user=request.user)
    return Status(201, organization_create(by=request.user, **data))


@router.get("/organizations/{organization_id}", response=OrganizationOut)
def get_organization(request: ApiRequest, organization_id: Id):
    return organization_get_for_user(organization_id=organization_id, user=request.user)


@router.patch("/organizations/{organization_id}", response=OrganizationOut)
def update_organization(request: ApiRequest, organization_id: Id, payload: OrganizationUpdateIn):
    organization = organization_get_for_user(
        organization_id=organization_id, user=request.user, for_write=True
    )
    data = contact_references(payload.dict(exclude_unset=True), user=request.user)
    return organization_change(organization=organization, data=data, by=request.user)


@router.delete("/organizations/{organization_id}", response=TrashedOut)
def delete_organization(request: ApiRequest, organization_id: Id, with_records: bool = False):
    """Move an organization to the trash. When deals, leads or people refer to it, 400 names how many,
    unless `with_records=true`: then they go to the trash with it (and come back with it on restore)."""
    organization = organization_get_for_user(
        organization_id=organization_id, user=request.user, for_write=True
    )
    user_check_can_write(user=request.user)
    went = contact_delete(contact=organization, by=request.user, with_records=with_records)
    return trashed_out(kind="organization", record_id=organization_id, went=went)


@router.get("/persons", response=PageOut[PersonOut])
def list_persons(request: ApiRequest, query: Query[PersonQuery]):
    people = person_list_for_user(
        user=request.user,
        search=query.q,
        organization_id=query.organization,
        owner_id=query.owner,
        order=query.order,
    )
    return paginate(people, limit=query.limit, offset=query.offset)


@router.post("/persons", response={201: PersonOut})
def create_person(request: ApiRequest, payload: PersonIn):
    user_check_can_write(user=request.user)
    data = contact_references(payload.dict(), user=request.user)
    return Status(201, person_create(by=request.user, **data))


@router.get("/persons/{person_id}", response=PersonOut)
def get_person(request: ApiRequest, person_id: Id):
    return person_get_for_user(person_id=person_id, user=request.user)


@router.patch("/persons/{person_id}", response=PersonOut)
def update_person(request: ApiRequest, person_id: Id, payload: PersonUpdateIn):
    person = person_get_for_user(person_id=person_id, user=request.user, for_write=True)
    data = contact_references(payload.dict(exclude_unset=True), user=request.user)
    return person_change(person=person, data=data, by=request.user)


@router.delete("/persons/{person_id}", response=TrashedOut)
def delete_person(request: ApiRequest, person_id: Id, with_records: bool = False):
    """Move a person to the trash; with deals or leads referring to them, 400 names how many unless
    `with_records=true` (they go to the trash too)."""
    person = person_get_for_user(person_id=person_id, user=request.user, for_write=True)
    user_check_can_write(user=request.user)
    went = contact_delete(contact=person, by=request.user, with_records=with_records)
    return trashed_out(kind="person", record_id=person_id, went=went)


@router.get("/persons/{person_id}/export", response=dict)
def export_person(request: ApiRequest, person_id: Id):
    """Everything held about a person (deals, leads, activities, custom fields, tags) as JSON; audited."""
    person = person_get_for_user(person_id=person_id, user=request.user)
    return person_export(person=person, by=request.user)


@router.post("/persons/{person_id}/erase", response=PersonOut)
def erase_person(request: ApiRequest, person_id: Id):
    """Anonymise a person everywhere (their deals keep their figures); audited. Cannot be undone."""
    person = person_get_for_user(person_id=person_id, user=request.user, for_write=True)
    return person_erase(person=person, by=request.user)


class DuplicateOut(Schema):
    id: int
    name: str
    score: int
    reasons: list[str]

    @staticmethod
    def resolve_id(duplicate) -> int:
        return duplicate.contact.pk

    @staticmethod
    def resolve_name(duplicate) -> str:
        return str(duplicate.contact)


class OrganizationDuplicateQuery(Schema):
    name: str = ""
    website: str = ""


class PersonDuplicateQuery(Schema):
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    organization_id: Id | None = None


class MergeIn(Schema):
    merged_id: Id


class MergeOut(Schema):
    id: int
    kind: str
    survivor_id: int
    merged_id: int
    merged_name: str
    moved: dict[str, list[int]]
    at: dt.datetime


@router.get("/organizations-duplicates", response=list[DuplicateOut])
def organization_duplicates(request: ApiRequest, query: Query[OrganizationDuplicateQuery]):
    """Organizations the caller may see that look like this one (same name without legal forms, a similar
    name, the same website domain): ask before creating."""
    return organization_duplicates_for_user(user=request.user, name=query.name, website=query.website)


@router.get("/persons-duplicates", response=list[DuplicateOut])
def person_duplicates(request: ApiRequest, query: Query[PersonDuplicateQuery]):
    """People the caller may see that look like this one (same e-mail, same phone in E.164, a similar name
    at the same organization)."""
    organization = (
        organization_get_for_user(
            organization_id=query.organization_id, user=request.user, field="organization_id"
        )
        if query.organization_id
        else None
    )
    return person_duplicates_for_user(
        user=request.user,
        first_name=query.first_name,
        last_name=query.last_name,
        email=query.email,
        phone=query.phone,
        organization=organization,
    )


@router.post("/organizations/{organization_id}/merge", response=MergeOut)
def merge_organization(request: ApiRequest, organization_id: Id, payload: MergeIn):
    """Fold organization ``merged_id`` into this one (deals, leads, people move; the other is deleted)."""
    survivor = organization_get_for_user(organization_id=organization_id, user=request.user, for_write=True)
    merged = organization_get_for_user(
        organization_id=payload.merged_id, user=request.user, for_write=True, field="merged_id"
    )
    return organization_merge(survivor=survivor, merged=merged, by=request.user)


@router.post("/persons/{person_id}/merge", response=MergeOut)
def merge_person(request: ApiRequest, person_id: Id, payload: MergeIn):
    """Fold person ``merged_id`` into this one (deals, leads, activities move; the other is deleted)."""
    survivor = person_get_for_user(person_id=person_id, user=request.user, for_write=True)
    merged = person_get_for_user(
        person_id=payload.merged_id, user=request.user, for_write=True, field="merged_id"
    )
    return person_merge(survivor=survivor, merged=merged, by=request.user)
