"""Reads of organizations and people, with the access gates every door uses.

A contact without an owner belongs to the company and everybody signed in sees it; an owned contact
follows its owner's visibility (the same rule as deals and leads).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import ForeignObjectRel, Q, QuerySet
from django.http import Http404

from dealflow.accounts.models import Membership, User
from dealflow.accounts.selectors import owner_editable_q, owner_visibility_q, user_access_scope
from dealflow.contacts.duplicates import (
    FUZZY_THRESHOLD,
    company_domain_of,
    domain_of,
    name_normalized,
    names_alike,
    person_name_normalized,
    phone_e164,
)
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


def contact_shared_visible_q(*, model: type[Organization] | type[Person], user: User) -> Q:
    """Contacts the user sees as a contact, plus those a deal or lead the user may see refers to.

    An organisation is shared: when its owner moves it out of someone's sight, the deals of theirs that
    use it still name it, so they keep seeing it (and only seeing: editing follows contact_editable_q)."""
    scope = user_access_scope(user=user)
    if scope.user_id is None or scope.sees_everything:
        return contact_visible_q(user=user)
    # One semi-join per kind of record: the contacts' rows LEFT JOINed to both their deals and their leads
    # under one OR made PostgreSQL expect millions of rows per contact and pick nested loops for the list's
    # joins (a manager's person list: 3-4 s at 200,000 deals, issue #19). Deals and leads sit above contacts
    # in the layers, so they are reached through the reverse relations.
    visible = contact_visible_q(user=user)
    for relation_name in ("deals", "leads"):
        relation = model._meta.get_field(relation_name)
        assert isinstance(relation, ForeignObjectRel) and relation.related_model is not None
        records = relation.related_model._base_manager.filter(owner_visibility_q(user=user))
        visible |= Q(pk__in=records.values(relation.field.attname))
    return visible


def contact_used_by_others(*, contact: Organization | Person, user: User) -> bool:
    """Whether a deal or lead the user may not change refers to this contact (another team's, say)."""
    if user_access_scope(user=user).is_admin:
        return False  # an admin may change every deal (and exclude(Q()) would exclude nothing)
    deals = contact.deals.exclude(owner_editable_q(user=user))
    leads = contact.leads.exclude(owner_editable_q(user=user))
    return deals.exists() or leads.exists()


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
    organizations = Organization.objects.filter(
        contact_shared_visible_q(model=Organization, user=user)
    ).select_related("owner")
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
        Organization.objects.filter(
            contact_shared_visible_q(model=Organization, user=user), pk=organization_id
        )
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
    people = Person.objects.filter(contact_shared_visible_q(model=Person, user=user)).select_related(
        "organization", "owner"
    )
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
        Person.objects.filter(contact_shared_visible_q(model=Person, user=user), pk=person_id)
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


# ---- Likely duplicates (contacts/duplicates.py compares; these fetch the candidates) -------------------

DUPLICATE_CANDIDATES = 300


@dataclass
class Duplicate:
    """A visible contact that looks like the one being entered, and why."""

    contact: Organization | Person
    score: int  # 0-100
    reasons: list[str] = field(default_factory=list)


def organization_duplicates_for_user(
    *, user: User, name: str, website: str = "", exclude_id: int | None = None, limit: int = 5
) -> list[Duplicate]:
    """Organizations the user may see that are likely the same company: the same name once case, accents,
    punctuation and legal forms are gone ("Acme B.V." = "ACME BV"), a name within FUZZY_THRESHOLD, or the
    same website domain."""
    core = name_normalized(name)
    domain = domain_of(website)
    if not core and not domain:
        return []
    lookups = Q()
    if core:
        lookups |= Q(name__icontains=core.split()[0][:6])
    if domain:
        lookups |= Q(website__icontains=domain)
    candidates = Organization.objects.filter(contact_shared_visible_q(model=Organization, user=user)).filter(
        lookups
    )
    if exclude_id:
        candidates = candidates.exclude(pk=exclude_id)
    found: list[Duplicate] = []
    for candidate in candidates.select_related("owner").order_by("id")[:DUPLICATE_CANDIDATES]:
        reasons, score = [], 0
        other = name_normalized(candidate.name)
        if core and other == core:
            reasons.append("same name")
            score = 100
        elif core and (alike := names_alike(core, other)) >= FUZZY_THRESHOLD:
            reasons.append(f"similar name ({alike} %)")
            score = alike
        if domain and domain_of(candidate.website) == domain:
            reasons.append("same website")
            score = max(score, 95)
        if reasons:
            found.append(Duplicate(candidate, score, reasons))
    found.sort(key=lambda duplicate: (-duplicate.score, duplicate.contact.pk))
    return found[:limit]


def person_duplicates_for_user(
    *,
    user: User,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    organization: Organization | None = None,
    exclude_id: int | None = None,
    limit: int = 5,
) -> list[Duplicate]:
    """People the user may see that are likely the same person: the same e-mail address, the same phone
    number in E.164, or a name within FUZZY_THRESHOLD at the same organization or company e-mail domain."""
    country = organization.country if organization else ""
    name = person_name_normalized(first_name, last_name)
    number = phone_e164(phone, country=country)
    email = (email or "").strip().casefold()
    email_domain = company_domain_of(email)
    lookups = Q()
    if email:
        lookups |= Q(email__iexact=email)
    if number:
        lookups |= Q(phone__contains=number[-4:])
    if name:
        lookups |= Q(last_name__icontains=name.split()[-1][:6]) | Q(first_name__icontains=name.split()[0][:6])
    if not lookups:
        return []
    candidates = Person.objects.filter(contact_shared_visible_q(model=Person, user=user)).filter(lookups)
    if exclude_id:
        candidates = candidates.exclude(pk=exclude_id)
    found: list[Duplicate] = []
    for candidate in candidates.select_related("organization").order_by("id")[:DUPLICATE_CANDIDATES]:
        reasons, score = [], 0
        if email and candidate.email.casefold() == email:
            reasons.append("same e-mail address")
            score = 100
        candidate_country = candidate.organization.country if candidate.organization else country
        if number and phone_e164(candidate.phone, country=candidate_country) == number:
            reasons.append("same phone number")
            score = max(score, 95)
        alike = names_alike(name, person_name_normalized(candidate.first_name, candidate.last_name))
        same_place = (organization is not None and candidate.organization_id == organization.pk) or (
            email_domain and company_domain_of(candidate.email) == email_domain
        )
        if alike >= FUZZY_THRESHOLD and same_place:
            reasons.append(f"similar name ({alike} %) at the same organization")
            score = max(score, alike)
        if reasons:
            found.append(Duplicate(candidate, score, reasons))
    found.sort(key=lambda duplicate: (-duplicate.score, duplicate.contact.pk))
    return found[:limit]
