"""Writes to organizations and people (the contacts deals and leads link to)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealflow.accounts.models import User
from dealflow.accounts.selectors import owner_editable_q
from dealflow.contacts.models import Organization, Person
from dealflow.contacts.search import organization_document, person_document
from dealflow.contacts.selectors import contact_used_by_others
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.customfields.services import custom_values_set
from dealflow.search.services import search_index_add_many, search_index_put, search_index_remove
from dealflow.tags.selectors import tag_names_of
from dealflow.tags.services import tag_links_set, tag_names_parse

_ORGANIZATION_FIELDS = {"name", "website", "industry", "country", "owner"}
_PERSON_FIELDS = {"first_name", "last_name", "email", "phone", "job_title", "organization", "owner"}
_SOURCE_FIELDS = {"external_source", "external_id"}  # which record of another system a contact stands for


def _text(value: Any, *, field: str, max_length: int, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise ApplicationError(f"{field.replace('_', ' ').capitalize()} is required.", field=field)
    if len(text) > max_length:
        raise ApplicationError(f"{field} has at most {max_length} characters.", field=field)
    return text


def _country(value: Any) -> str:
    code = str(value or "").strip().upper()
    if code and (len(code) != 2 or not code.isalpha() or not code.isascii()):
        raise ApplicationError("Country must be a two-letter ISO 3166 code.", field="country")
    return code


def _email(value: Any) -> str:
    text = str(value or "").strip().lower()
    if len(text) > 254:
        raise ApplicationError("An e-mail address has at most 254 characters.", field="email")
    if text:
        try:
            validate_email(text)
        except ValidationError as error:
            raise ApplicationError(f"{value!r} is not an e-mail address.", field="email") from error
    return text


def _owner(value: Any) -> User | None:
    if value is not None and (not isinstance(value, User) or not value.is_active):
        raise ApplicationError("Pick an active user as owner.", field="owner")
    return value


def _check_shared_contact_change(
    *, contact: Organization | Person, values: dict[str, Any], renamed: tuple[str, ...], by: User | None
) -> None:
    """Role rules for a contact other people's deals use: the owner may become only someone ``by`` may
    assign records to (themself, for a rep), and nobody renames or takes over a contact that deals or
    leads ``by`` may not change refer to (another team's): that is for their manager or an admin."""
    if by is None:  # the system (a migration, the demo): no person to hold to role rules
        return
    owner_changes = "owner" in values and values["owner"] != contact.owner
    name_changes = any(name in values and values[name] != getattr(contact, name) for name in renamed)
    if not owner_changes and not name_changes:
        return
    if owner_changes and values["owner"] is not None:
        assignable = User.objects.filter(owner_editable_q(user=by, owner_field="pk"), pk=values["owner"].pk)
        if not assignable.exists():
            raise PermissionDeniedError(
                _("You cannot give %(name)s to %(owner)s.") % {"name": contact, "owner": values["owner"]},
                field="owner",
            )
    if contact_used_by_others(contact=contact, user=by):
        raise PermissionDeniedError(
            _(
                "Deals or leads of other people that you cannot change use %(name)s, so you cannot rename "
                "it or change its owner; ask their manager or an admin."
            )
            % {"name": contact},
            field="owner" if owner_changes else renamed[0],
        )


def _organization_values(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in _ORGANIZATION_FIELDS:
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
        if name == "name":
            values[name] = _text(value, field="name", max_length=200, required=True)
        elif name in ("website",):
            values[name] = _text(value, field=name, max_length=200)
        elif name == "industry":
            values[name] = _text(value, field=name, max_length=80)
        elif name == "country":
            values[name] = _country(value)
        else:
            values[name] = _owner(value)
    return values


@transaction.atomic
def organization_create(
    *,
    name: str,
    by: User | None = None,
    owner: User | None = None,
    website: str = "",
    industry: str = "",
    country: str = "",
    at: dt.datetime | None = None,
    external_source: str = "",
    external_id: str = "",
) -> Organization:
    """Create an organization (a customer or prospect company)."""
    values = _organization_values(
        {"name": name, "website": website, "industry": industry, "country": country, "owner": owner}
    )
    organization = Organization.objects.create(
        **values, created_at=at or clock.now(), external_source=external_source, external_id=external_id
    )
    search_index_put(document=organization_document(organization))
    return organization


@transaction.atomic
def organization_update(
    *, organization: Organization, data: dict[str, Any], by: User | None = None
) -> Organization:
    """Change an organization's name, website, industry, country or owner."""
    values = _organization_values(data)
    _check_shared_contact_change(contact=organization, values=values, renamed=("name",), by=by)
    for name, value in values.items():
        setattr(organization, name, value)
    organization.save()
    search_index_put(document=organization_document(organization))
    return organization


def _person_values(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in _PERSON_FIELDS:
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
        if name in ("first_name", "last_name"):
            values[name] = _text(value, field=name, max_length=100)
        elif name == "email":
            values[name] = _email(value)
        elif name == "phone":
            values[name] = _text(value, field=name, max_length=40)
        elif name == "job_title":
            values[name] = _text(value, field=name, max_length=120)
        elif name == "organization":
            if value is not None and not isinstance(value, Organization):
                raise ApplicationError("Pick an organization.", field="organization")
            values[name] = value
        else:
            values[name] = _owner(value)
    return values


def _check_person_named(person: Person) -> None:
    if not (person.first_name or person.last_name or person.email):
        raise ApplicationError("A person needs a name or an e-mail address.", field="last_name")


@transaction.atomic
def person_create(
    *,
    by: User | None = None,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    job_title: str = "",
    organization: Organization | None = None,
    owner: User | None = None,
    at: dt.datetime | None = None,
    external_source: str = "",
    external_id: str = "",
) -> Person:
    """Create a person, optionally working at an organization; a name or an e-mail address is required."""
    person = Person(
        **_person_values(
            {
                "first_name": first_name,
                "last_name": last_name,
                "email": email,
                "phone": phone,
                "job_title": job_title,
                "organization": organization,
                "owner": owner,
            }
        ),
        created_at=at or clock.now(),
        external_source=external_source,
        external_id=external_id,
    )
    _check_person_named(person)
    person.save()
    search_index_put(document=person_document(person))
    return person


@transaction.atomic
def person_update(*, person: Person, data: dict[str, Any], by: User | None = None) -> Person:
    """Change a person's name, contact details, organization or owner."""
    values = _person_values(data)
    _check_shared_contact_change(contact=person, values=values, renamed=("first_name", "last_name"), by=by)
    for name, value in values.items():
        setattr(person, name, value)
    _check_person_named(person)
    person.save()
    search_index_put(document=person_document(person))
    return person


@transaction.atomic
def organization_purge(*, organization: Organization, by: User | None = None) -> None:
    """Delete an organization for good (a merge, or the trash): refused while any deal, lead or person,
    in the trash or not, refers to it, since its name is part of their record."""
    deals = organization.deals(manager="all_objects").count()
    leads = organization.leads(manager="all_objects").count()
    if deals or leads:
        raise ApplicationError(
            f"{deals} deal(s) and {leads} lead(s), counting those in the trash, refer to {organization.name}; "
            "purge or move them first.",
            field="organization",
        )
    if organization.people(manager="all_objects").exists():
        raise ApplicationError("Move or delete the people of this organization first.", field="organization")
    search_index_remove(kind="organization", object_ids=[organization.pk])
    organization.delete()


@transaction.atomic
def person_purge(*, person: Person, by: User | None = None) -> None:
    """Delete a person for good: refused while any deal or lead, in the trash or not, refers to them."""
    deals = person.deals(manager="all_objects").count()
    leads = person.leads(manager="all_objects").count()
    if deals or leads:
        raise ApplicationError(
            f"{deals} deal(s) and {leads} lead(s), counting those in the trash, refer to {person.full_name}; "
            "purge or move them first.",
            field="person",
        )
    search_index_remove(kind="person", object_ids=[person.pk])
    person.delete()


@transaction.atomic
def organization_custom_values_set(
    *, organization: Organization, values: dict[str, Any], by: User | None = None
) -> dict[str, Any]:
    """Set custom field values of an organization (only the keys given); errors name the field."""
    return custom_values_set(entity="organization", object_id=organization.pk, values=values).after


@transaction.atomic
def person_custom_values_set(
    *, person: Person, values: dict[str, Any], by: User | None = None
) -> dict[str, Any]:
    """Set custom field values of a person (only the keys given); errors name the field."""
    return custom_values_set(entity="person", object_id=person.pk, values=values).after


@transaction.atomic
def contact_tags_set(*, contact: Organization | Person, tags: Any, by: User | None = None) -> list[str]:
    """Make an organization's or a person's tags exactly ``tags`` (names; new ones are created)."""
    entity = "organization" if isinstance(contact, Organization) else "person"
    tag_links_set(entity=entity, object_id=contact.pk, names=tag_names_parse(tags))
    return tag_names_of(entity=entity, object_id=contact.pk)


@transaction.atomic
def contact_tags_add_bulk(
    *, contacts: list[Organization] | list[Person], tags: Any, by: User | None = None
) -> int:
    """Add ``tags`` to each organization or person (bulk tagging); returns how many changed."""
    names = tag_names_parse(tags)
    if not names:
        raise ApplicationError("Name at least one tag.", field="tags")
    changed = 0
    for contact in contacts:
        entity = "organization" if isinstance(contact, Organization) else "person"
        current = tag_names_of(entity=entity, object_id=contact.pk)
        added, _removed = tag_links_set(entity=entity, object_id=contact.pk, names=[*current, *names])
        changed += bool(added)
    return changed


def _insert_many(model: type[models.Model], objects: list[Any]) -> None:
    """INSERT unsaved ``objects`` of ``model`` and set their ids: one multi-row ``INSERT ... RETURNING id``
    per batch of prepared tuples (SQLite 3.35+ and PostgreSQL both return the ids in row order).

    ``bulk_create`` does the same statement but prepares every value of every row through its field (about
    a seventh of a 5,000-deal import's CPU); the contacts' values are already plain str/int/None, checked by
    ``_organization_values``/``_person_values``, so only the datetimes need the backend's adaptation.
    ``updated_at`` (``auto_now``) is set to now, as ``bulk_create`` would.
    """
    if not objects:
        return
    now = timezone.now()
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    attnames = [field.attname for field in fields]
    adapt = connection.ops.adapt_datetimefield_value
    datetimes = {index for index, field in enumerate(fields) if isinstance(field, models.DateTimeField)}
    for obj in objects:
        obj.updated_at = now
    if connection.vendor == "sqlite":
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    else:
        limit = 65535  # PostgreSQL's parameters per statement
    per_batch = max(1, min(2000, limit // len(fields)))
    quote = connection.ops.quote_name
    # Table and column names come from the model, the values go in as parameters.
    head = "INSERT INTO {} ({}) VALUES ".format(  # noqa: S608
        quote(model._meta.db_table), ", ".join(quote(str(field.column)) for field in fields)
    )
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    pk_column = quote(str(model._meta.pk.column))
    adapted: dict[dt.datetime, Any] = {}
    alias = connection.alias
    with connection.cursor() as cursor:
        for start in range(0, len(objects), per_batch):
            batch = objects[start : start + per_batch]
            parameters: list[Any] = []
            for obj in batch:
                row = [getattr(obj, attname) for attname in attnames]
                for index in datetimes:
                    value = row[index]
                    if value is not None:  # the rows of a call share created_at/updated_at: adapt each once
                        row[index] = (
                            adapted[value] if value in adapted else adapted.setdefault(value, adapt(value))
                        )
                parameters.extend(row)
            cursor.execute(f"{head}{', '.join([row_sql] * len(batch))} RETURNING {pk_column}", parameters)
            for obj, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = alias


@transaction.atomic
def organizations_create_many(
    *, records: list[dict[str, Any]], at: dt.datetime | None = None
) -> list[Organization]:
    """Create many organizations at once (an import), indexed for search like ``organization_create``'s.

    Each record holds ``name`` and optionally ``website``, ``industry``, ``country``, ``owner``,
    ``external_source`` and ``external_id``, checked by the same rules; the organizations come back in
    order, with their ids.
    """
    moment = at or clock.now()
    organizations = [
        Organization(
            **_organization_values(
                {name: value for name, value in record.items() if name not in _SOURCE_FIELDS}
            ),
            created_at=moment,
            external_source=record.get("external_source", ""),
            external_id=record.get("external_id", ""),
        )
        for record in records
    ]
    _insert_many(Organization, organizations)
    search_index_add_many(documents=(organization_document(organization) for organization in organizations))
    return organizations


@transaction.atomic
def persons_create_many(*, records: list[dict[str, Any]], at: dt.datetime | None = None) -> list[Person]:
    """Create many persons at once (an import), checked and indexed like ``person_create``'s; ``records``
    hold its fields (``organization`` an Organization or its id) plus ``external_source``/``external_id``."""
    moment = at or clock.now()
    organization_ids = [
        record["organization"] for record in records if isinstance(record.get("organization"), int)
    ]
    organizations = Organization.objects.in_bulk(organization_ids)
    persons = []
    for record in records:
        values = dict(record)
        organization = values.pop("organization", None)
        if isinstance(organization, int):
            organization = organizations.get(organization)
            if organization is None:
                raise ApplicationError("Pick an organization.", field="organization")
        person = Person(
            **_person_values({name: value for name, value in values.items() if name not in _SOURCE_FIELDS}),
            organization=organization,
            created_at=moment,
            external_source=values.get("external_source", ""),
            external_id=values.get("external_id", ""),
        )
        _check_person_named(person)
        persons.append(person)
    _insert_many(Person, persons)
    search_index_add_many(documents=(person_document(person) for person in persons))
    return persons
