"""What an organization or a person is found by in the global search (search app)."""

from __future__ import annotations

from dealflow.contacts.models import Organization, Person
from dealflow.search.models import SearchKind
from dealflow.search.services import SearchDocument


def organization_document(organization: Organization) -> SearchDocument:
    website = organization.website.removeprefix("https://").removeprefix("http://").removeprefix("www.")
    return SearchDocument(
        kind=SearchKind.ORGANIZATION,
        object_id=organization.pk,
        owner_id=organization.owner_id,
        title=organization.name,
        subtitle=" · ".join(part for part in (organization.industry, organization.country) if part),
        text=" ".join((organization.name, website, organization.industry)),
    )


def person_document(person: Person) -> SearchDocument:
    organization = person.organization.name if person.organization_id and person.organization else ""
    return SearchDocument(
        kind=SearchKind.PERSON,
        object_id=person.pk,
        owner_id=person.owner_id,
        title=person.full_name,
        subtitle=" · ".join(part for part in (person.job_title, organization) if part),
        text=" ".join((person.first_name, person.last_name, person.email, person.phone, organization)),
    )
