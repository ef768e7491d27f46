import factory

from dealflow.contacts.models import Organization, Person


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Faker("company")
    website = factory.LazyAttribute(lambda organization: "https://example.com")


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda number: f"person{number}@example.com")
    organization = factory.SubFactory(OrganizationFactory)
