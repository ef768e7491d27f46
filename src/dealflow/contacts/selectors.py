"""Reads of organizations and people, with the access gates every door uses.

A contact without an owner belongs to the company and everybody signed in sees it; an owned contact
follows its owner's visibility (the same rule as deals and leads).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from dealflow.accounts.models import Membership, User
from dealflow.accounts.selectors import owner_editable_q, owner_visibility_q, user_access_scope
from dealflow.contacts.models import Organization, Person
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.tags.selectors import tag_filter

ORGANIZATION_ORDERINGS = {
    "name": ["name", "id"],
    "-name": ["-name", "-id"],
    "created_at": ["created_at", "id"],
    "-created_at": ["-created_at", "-id"],
    "country": ["country", "name", "id"],
    "-country": ["-country", "-name", "-id"],
}
PERSON_ORDERINGS = {
    "name": ["last_name", "first_name", "id"],
    "-name": ["-last_name", "-first_name", "-id"],
    "created_at": ["created_at", "id"],
    "-created_at": ["-created_at", "-id"],
    "organization": ["organization__name", "last_name", "id"],
    "-organization": ["-organization__name", "-last_name", "-id"],
}


def contact_visible_q(*, user: User) -> Q:
    """Contacts the user may see: the company's (no owner) and those of owners the user may see."""
    scope = user_access_scope(user=user)
    if scope.user_id is None:
        return Q(pk__in=[])
    if scope.sees_everything:
        return Q()  # not ORed below: Q(...) | Q() drops the empty Q and with it "everything"
    return Q(owner__isnull=True) | owner_visibility_q(user=user)


def contact_editable_q(*, user: User) -> Q:
    """Contacts the user may change: the company's (unless read-only analyst) and editable owners' ones."""
    scope = user_access_scope(user=user)
    if scope.user_id is None:
        return Q(pk__in=[])
    if scope.is_admin:
        return Q()
    editable = owner_editable_q(user=user)
    if scope.is_analyst and not scope.is_manager:
        return editable
    return Q(owner__isnull=True) | editable


def _ordering(order: str | None, choices: dict[str, list[str]]) -> list[str]:
    if not order:
        return next(iter(choices.values()))
    if order not in choices:
        raise ApplicationError(f"Cannot order by {order!r}; use {', '.join(choices)}.", field="order")
    return choices[order]


def _contact_filters(
    contacts: QuerySet, *, entity: str, team_id: int | None, country: str | None, tag: str | None
) -> QuerySet:
    """The list filters organizations and people share: owner's team, country, tag."""
    if team_id is not None:
        contacts = contacts.filter(owner_id__in=Membership.objects.filter(team_id=team_id).values("user_id"))
    if country:
        code = country.strip().upper()
        if len(code) != 2 or not code.isalpha():
            raise ApplicationError("Country must be a two-letter ISO 3166 code.", field="country")
        contacts = contacts.filter(
            **{"country" if entity == "organization" else "organization__country": code}
        )
    if tag:
        contacts = tag_filter(contacts, entity=entity, name=tag)
    return contacts


def organization_list_for_user(
    *,
    user: User,
    search: str | None = None,
    owner_id: int | None = None,
    order: str | None = None,
    team_id: int | None = None,
    country: str | None = None,
    tag: str | None = None,
) -> QuerySet[Organization]:
    """Organizations the user may see, optionally searched by name or website and filtered."""
    organizations = Organization.objects.filter(contact_visible_q(user=user)).select_related("owner")
    if search:
        organizations = organizations.filter(Q(name__icontains=search) | Q(website__icontains=search))
    if owner_id is not None:
        organizations = organizations.filter(owner_id=owner_id)
    organizations = _contact_filters(
        organizations, entity="organization", team_id=team_id, country=country, tag=tag
    )
    return organizations.order_by(*_ordering(order, ORGANIZATION_ORDERINGS))


def organization_get_for_user(
    *, organization_id: int, user: User, for_write: bool = False, field: str | None = None
) -> Organization:
    """One organization, or 404 (or a 400 naming ``field`` when it was picked in a form) if not visible."""
    organization = (
        Organization.objects.filter(contact_visible_q(user=user), pk=organization_id)
        .select_related("owner")
        .first()
    )
    if organization is None:
        if field:
            raise ApplicationError("No such organization.", field=field)
        raise Http404("No such organization.")
    if (
        for_write
        and not Organization.objects.filter(contact_editable_q(user=user), pk=organization_id).exists()
    ):
        raise PermissionDeniedError("You may read this organization but not change it.", field="organization")
    return organization


def person_list_for_user(
    *,
    user: User,
    search: str | None = None,
    organization_id: int | None = None,
    owner_id: int | None = None,
    order: str | None = None,
    team_id: int | None = None,
    country: str | None = None,
    tag: str | None = None,
) -> QuerySet[Person]:
    """People the user may see, optionally searched by name or e-mail or limited to one organization."""
    people = Person.objects.filter(contact_visible_q(user=user)).select_related("organization", "owner")
    if search:
        people = people.filter(
            Q(first_name__icontains=search) | Q(last_name__icontains=search) | Q(email__icontains=search)
        )
    if organization_id is not None:
        people = people.filter(organization_id=organization_id)
    if owner_id is not None:
        people = people.filter(owner_id=owner_id)
    people = _contact_filters(people, entity="person", team_id=team_id, country=country, tag=tag)
    return people.order_by(*_ordering(order, PERSON_ORDERINGS))


def person_get_for_user(
    *, person_id: int, user: User, for_write: bool = False, field: str | None = None
) -> Person:
    """One person, or 404 (or a 400 naming ``field`` when picked in a form) if the user may not see them."""
    person = (
        Person.objects.filter(contact_visible_q(user=user), pk=person_id)
        .select_related("organization", "owner")
        .first()
    )
    if person is None:
        if field:
            raise ApplicationError("No such person.", field=field)
        raise Http404("No such person.")
    if for_write and not Person.objects.filter(contact_editable_q(user=user), pk=person_id).exists():
        raise PermissionDeniedError("You may read this person but not change them.", field="person")
    return person
