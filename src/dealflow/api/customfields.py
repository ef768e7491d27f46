"""Custom field definitions (admins), the values of deals, organisations, persons and leads, and tags.

A value travels as JSON of its field's kind: text, long text, URL, e-mail, single choice and date as a
string (a date "YYYY-MM-DD"), number as a number, money as a decimal string in the field's currency,
multiple choice as a list of strings, checkbox as true/false. ``GET /custom-fields`` tells each key's kind.
"""

from __future__ import annotations

from typing import Any

from ninja import Query, Router, Schema, Status

from dealflow.api.base import ApiRequest
from dealflow.api.schemas import Id
from dealflow.contacts.selectors import organization_get_for_user, person_get_for_user
from dealflow.contacts.services import (
    contact_tags_add_bulk,
    contact_tags_set,
    organization_custom_values_set,
    person_custom_values_set,
)
from dealflow.core.errors import ApplicationError
from dealflow.core.money import from_minor
from dealflow.core.parameters import text_parameter
from dealflow.customfields.models import CustomField, Entity
from dealflow.customfields.selectors import custom_field_get, custom_field_list, custom_values_get
from dealflow.customfields.services import custom_field_create, custom_field_update
from dealflow.deals.selectors import (
    deal_get_for_user,
    lead_get_for_user,
    pipeline_get,
    settings_check_admin,
    user_check_can_write,
)
from dealflow.deals.services import (
    deal_custom_values_set,
    deal_tags_add_bulk,
    deal_tags_set,
    lead_custom_values_set,
)
from dealflow.tags.selectors import tag_list, tag_names_of

router = Router(tags=["Custom fields and tags"])

# What a custom value may be in JSON (its field's kind says which).
CustomValue = str | int | float | bool | list[str] | None


class CustomFieldOut(Schema):
    id: int
    entity: str
    key: str
    label: str
    kind: str
    is_required: bool
    choices: list[str]
    currency: str
    pipeline_id: int | None
    help_text: str
    order: int
    is_active: bool


class CustomFieldIn(Schema):
    entity: str
    key: str
    label: str
    kind: str
    is_required: bool = False
    choices: list[str] = []
    currency: str = ""
    pipeline_id: Id | None = None
    help_text: str = ""


class CustomFieldUpdateIn(Schema):
    label: str | None = None
    is_required: bool | None = None
    choices: list[str] | None = None
    help_text: str | None = None
    order: int | None = None
    is_active: bool | None = None
    pipeline_id: Id | None = None


class CustomFieldQuery(Schema):
    entity: str | None = None
    include_inactive: bool = False


@router.get("/custom-fields", response=list[CustomFieldOut])
def list_custom_fields(request: ApiRequest, query: Query[CustomFieldQuery]):
    """The custom fields of every entity (or of `entity`), in form order."""
    entities = [query.entity] if query.entity else list(Entity.values)
    if query.entity and query.entity not in Entity.values:
        raise ApplicationError("entity must be deal, organization, person or lead.", field="entity")
    return [
        field
        for entity in entities
        for field in custom_field_list(
            entity=entity, include_inactive=query.include_inactive, all_pipelines=True
        )
    ]


@router.post("/custom-fields", response={201: CustomFieldOut})
def create_custom_field(request: ApiRequest, payload: CustomFieldIn):
    """Define a custom field (admins). Its key names it in the API, exports and import mappings."""
    settings_check_admin(user=request.user)
    data = payload.dict()
    pipeline_id = data.pop("pipeline_id")
    data["pipeline"] = pipeline_get(pipeline_id=pipeline_id, field="pipeline_id") if pipeline_id else None
    return Status(201, custom_field_create(**data, by=request.user))


@router.patch("/custom-fields/{field_id}", response=CustomFieldOut)
def update_custom_field(request: ApiRequest, field_id: Id, payload: CustomFieldUpdateIn):
    """Relabel, require, reorder, retire or change the options of a field (admins)."""
    settings_check_admin(user=request.user)
    data = payload.dict(exclude_unset=True)
    if "pipeline_id" in data:
        pipeline_id = data.pop("pipeline_id")
        data["pipeline"] = pipeline_get(pipeline_id=pipeline_id, field="pipeline_id") if pipeline_id else None
    return custom_field_update(field=custom_field_get(field_id=field_id), data=data, by=request.user)


class CustomValuesOut(Schema):
    values: dict[str, CustomValue]


class CustomValuesIn(Schema):
    values: dict[str, CustomValue]


def values_out(entity: str, document: dict[str, Any], *, pipeline_id: int | None = None) -> dict[str, Any]:
    """The API form of a values document: money as a decimal string; every field of the record listed."""
    fields: list[CustomField] = custom_field_list(entity=entity, pipeline_id=pipeline_id)
    values: dict[str, Any] = {}
    for field in fields:
        value = document.get(field.key)
        if field.kind == "money" and value is not None:
            value = str(from_minor(int(value), field.currency or "EUR"))
        values[field.key] = value
    return {"values": values}


@router.get("/deals/{deal_id}/custom-fields", response=CustomValuesOut, tags=["Deals"])
def get_deal_custom_values(request: ApiRequest, deal_id: Id):
    deal = deal_get_for_user(deal_id=deal_id, user=request.user)
    return values_out(
        Entity.DEAL, custom_values_get(entity=Entity.DEAL, object_id=deal.pk), pipeline_id=deal.pipeline_id
    )


@router.patch("/deals/{deal_id}/custom-fields", response=CustomValuesOut, tags=["Deals"])
def set_deal_custom_values(request: ApiRequest, deal_id: Id, payload: CustomValuesIn):
    """Set the given keys (null clears one); every change is an event in the deal's history."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    document = deal_custom_values_set(deal=deal, values=payload.values, by=request.user, origin="api")
    return values_out(Entity.DEAL, document, pipeline_id=deal.pipeline_id)


@router.get("/organizations/{organization_id}/custom-fields", response=CustomValuesOut, tags=["Contacts"])
def get_organization_custom_values(request: ApiRequest, organization_id: Id):
    organization = organization_get_for_user(organization_id=organization_id, user=request.user)
    return values_out(
        Entity.ORGANIZATION, custom_values_get(entity=Entity.ORGANIZATION, object_id=organization.pk)
    )


@router.patch("/organizations/{organization_id}/custom-fields", response=CustomValuesOut, tags=["Contacts"])
def set_organization_custom_values(request: ApiRequest, organization_id: Id, payload: CustomValuesIn):
    organization = organization_get_for_user(
        organization_id=organization_id, user=request.user, for_write=True
    )
    document = organization_custom_values_set(
        organization=organization, values=payload.values, by=request.user
    )
    return values_out(Entity.ORGANIZATION, document)


@router.get("/persons/{person_id}/custom-fields", response=CustomValuesOut, tags=["Contacts"])
def get_person_custom_values(request: ApiRequest, person_id: Id):
    person = person_get_for_user(person_id=person_id, user=request.user)
    return values_out(Entity.PERSON, custom_values_get(entity=Entity.PERSON, object_id=person.pk))


@router.patch("/persons/{person_id}/custom-fields", response=CustomValuesOut, tags=["Contacts"])
def set_person_custom_values(request: ApiRequest, person_id: Id, payload: CustomValuesIn):
    person = person_get_for_user(person_id=person_id, user=request.user, for_write=True)
    return values_out(
        Entity.PERSON, person_custom_values_set(person=person, values=payload.values, by=request.user)
    )


@router.get("/leads/{lead_id}/custom-fields", response=CustomValuesOut, tags=["Leads"])
def get_lead_custom_values(request: ApiRequest, lead_id: Id):
    lead = lead_get_for_user(lead_id=lead_id, user=request.user)
    return values_out(Entity.LEAD, custom_values_get(entity=Entity.LEAD, object_id=lead.pk))


@router.patch("/leads/{lead_id}/custom-fields", response=CustomValuesOut, tags=["Leads"])
def set_lead_custom_values(request: ApiRequest, lead_id: Id, payload: CustomValuesIn):
    lead = lead_get_for_user(lead_id=lead_id, user=request.user, for_write=True)
    return values_out(Entity.LEAD, lead_custom_values_set(lead=lead, values=payload.values, by=request.user))


class TagsOut(Schema):
    tags: list[str]


class TagsIn(Schema):
    tags: list[str]


class BulkTagsIn(Schema):
    ids: list[Id]
    tags: list[str]


class BulkTagsOut(Schema):
    changed: int


class TagOut(Schema):
    id: int
    name: str


@router.get("/tags", response=list[TagOut])
def list_tags(request: ApiRequest, q: str = ""):
    """Every tag (or those whose name contains `q`), by name."""
    # Checked and read here, as /products: a NUL byte is a 400 naming `q`, not a 500 while writing the answer.
    return list(tag_list(search=text_parameter({"q": q}, "q") or ""))


@router.put("/deals/{deal_id}/tags", response=TagsOut, tags=["Deals"])
def set_deal_tags(request: ApiRequest, deal_id: Id, payload: TagsIn):
    """Make the deal's tags exactly these (new names become tags); a change is an event in its history."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    return {"tags": deal_tags_set(deal=deal, tags=payload.tags, by=request.user, origin="api")}


@router.get("/deals/{deal_id}/tags", response=TagsOut, tags=["Deals"])
def get_deal_tags(request: ApiRequest, deal_id: Id):
    deal = deal_get_for_user(deal_id=deal_id, user=request.user)
    return {"tags": tag_names_of(entity="deal", object_id=deal.pk)}


@router.post("/bulk-tags/deals", response=BulkTagsOut, tags=["Deals"])
def bulk_tag_deals(request: ApiRequest, payload: BulkTagsIn):
    """Add tags to many deals you may change; any id you may not change answers 404 and changes nothing."""
    user_check_can_write(user=request.user)
    deals = [
        deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
        for deal_id in dict.fromkeys(payload.ids)
    ]
    return {"changed": deal_tags_add_bulk(deals=deals, tags=payload.tags, by=request.user, origin="api")}


@router.put("/organizations/{organization_id}/tags", response=TagsOut, tags=["Contacts"])
def set_organization_tags(request: ApiRequest, organization_id: Id, payload: TagsIn):
    organization = organization_get_for_user(
        organization_id=organization_id, user=request.user, for_write=True
    )
    return {"tags": contact_tags_set(contact=organization, tags=payload.tags, by=request.user)}


@router.put("/persons/{person_id}/tags", response=TagsOut, tags=["Contacts"])
def set_person_tags(request: ApiRequest, person_id: Id, payload: TagsIn):
    person = person_get_for_user(person_id=person_id, user=request.user, for_write=True)
    return {"tags": contact_tags_set(contact=person, tags=payload.tags, by=request.user)}


@router.post("/bulk-tags/organizations", response=BulkTagsOut, tags=["Contacts"])
def bulk_tag_organizations(request: ApiRequest, payload: BulkTagsIn):
    """Add tags to many organisations you may change."""
    organizations = [
        organization_get_for_user(organization_id=pk, user=request.user, for_write=True)
        for pk in dict.fromkeys(payload.ids)
    ]
    return {"changed": contact_tags_add_bulk(contacts=organizations, tags=payload.tags, by=request.user)}


@router.post("/bulk-tags/persons", response=BulkTagsOut, tags=["Contacts"])
def bulk_tag_persons(request: ApiRequest, payload: BulkTagsIn):
    """Add tags to many persons you may change."""
    persons = [
        person_get_for_user(person_id=pk, user=request.user, for_write=True)
        for pk in dict.fromkeys(payload.ids)
    ]
    return {"changed": contact_tags_add_bulk(contacts=persons, tags=payload.tags, by=request.user)}
