"""Hostile values fed straight to the services (hypothesis): odd Unicode, huge and negative numbers,
far-past and far-future dates. Each call either refuses with an ApplicationError naming the field, or stores
a value that reads back the same (after the services' documented trimming of surrounding whitespace and
rounding of amounts to the currency's minor unit). Never an IntegrityError, DataError or other crash.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealflow.core.errors import ApplicationError
from dealflow.core.money import from_minor

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Any code point but surrogates (which no UTF-8 request can carry): NUL, controls, RTL marks, emoji, CJK.
odd_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=260)
amounts = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True, places=None),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
any_day = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))


def _outcome(call, fields: set[str]):
    """The stored object, or None when the service refused cleanly (naming one of ``fields``)."""
    try:
        with transaction.atomic():
            return call()
    except ApplicationError as error:
        assert error.field in fields, (error.field, error.message)
        assert error.message
        return None


def _same_text(stored: str, given: str) -> bool:
    """Stored as given, or trimmed of surrounding whitespace (what the services do to names and titles)."""
    return stored in (given, given.strip())


def _expected_amount(value, currency: str = "EUR") -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@PROPERTY_SETTINGS
@given(title=odd_text, amount=amounts, close_on=any_day, next_step=odd_text)
def test_deal_create_refuses_or_stores_what_it_was_given(rep, title, amount, close_on, next_step):
    from dealflow.deals.models import Deal
    from dealflow.deals.services import deal_create

    deal = _outcome(
        lambda: deal_create(
            title=title, owner=rep, by=rep, amount=amount, expected_close_on=close_on, next_step=next_step
        ),
        {"title", "amount", "expected_close_on", "next_step"},
    )
    if deal is None:
        return
    stored = Deal.objects.get(pk=deal.pk)
    assert _same_text(stored.title, title) and _same_text(stored.next_step, next_step)
    assert stored.expected_close_on == close_on
    assert from_minor(stored.amount_minor, stored.currency) == _expected_amount(amount)


@PROPERTY_SETTINGS
@given(title=odd_text, amount=amounts, close_on=any_day, next_step_on=any_day)
def test_deal_update_refuses_or_stores_what_it_was_given(rep, title, amount, close_on, next_step_on):
    from dealflow.deals.models import Deal
    from dealflow.deals.services import deal_update
    from dealflow.deals.tests.factories import DealFactory

    deal = DealFactory(owner=rep, title="Before")
    data = {"title": title, "amount": amount, "expected_close_on": close_on, "next_step_on": next_step_on}
    updated = _outcome(
        lambda: deal_update(deal=deal, by=rep, data=data, expected_version=deal.version), set(data)
    )
    stored = Deal.objects.get(pk=deal.pk)
    if updated is None:
        assert (stored.title, stored.version) == ("Before", 1)  # a refusal changes nothing
        return
    assert _same_text(stored.title, title)
    assert (stored.expected_close_on, stored.next_step_on) == (close_on, next_step_on)
    assert from_minor(stored.amount_minor, stored.currency) == _expected_amount(amount)


@PROPERTY_SETTINGS
@given(title=odd_text)
def test_lead_create_refuses_or_stores_the_title(rep, title):
    from dealflow.deals.models import Lead
    from dealflow.deals.services import lead_create

    lead = _outcome(lambda: lead_create(title=title, source=None, owner=rep, by=rep), {"title", "source"})
    if lead is not None:
        assert _same_text(Lead.objects.get(pk=lead.pk).title, title)


@PROPERTY_SETTINGS
@given(name=odd_text, first_name=odd_text, last_name=odd_text, email=odd_text)
def test_contacts_refuse_or_store_odd_names(rep, name, first_name, last_name, email):
    from dealflow.contacts.models import Organization, Person
    from dealflow.contacts.services import organization_create, person_create

    organization = _outcome(lambda: organization_create(name=name, by=rep, owner=rep), {"name"})
    if organization is not None:
        assert _same_text(Organization.objects.get(pk=organization.pk).name, name)
    person = _outcome(
        lambda: person_create(first_name=first_name, last_name=last_name, email=email, by=rep, owner=rep),
        {"first_name", "last_name", "email", "name"},
    )
    if person is not None:
        stored = Person.objects.get(pk=person.pk)
        assert _same_text(stored.first_name, first_name) and _same_text(stored.last_name, last_name)


@PROPERTY_SETTINGS
@given(
    subject=odd_text, due=st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30))
)
def test_activity_create_refuses_or_stores_subject_and_due_time(rep, subject, due):
    from dealflow.deals.models import Activity
    from dealflow.deals.services import activity_create

    due_at = due.replace(tzinfo=dt.UTC)
    activity = _outcome(
        lambda: activity_create(owner=rep, subject=subject, due_at=due_at, by=rep), {"subject", "due_at"}
    )
    if activity is not None:
        stored = Activity.objects.get(pk=activity.pk)
        assert _same_text(stored.subject, subject) and stored.due_at == due_at


@pytest.mark.parametrize("amount", ["-1", "1e400", "NaN", Decimal("-0.01"), 10**30])
def test_the_amounts_named_in_the_issue_are_refused_with_the_field(rep, amount):
    from dealflow.deals.services import deal_create

    with pytest.raises(ApplicationError) as refused:
        deal_create(title="x", owner=rep, by=rep, amount=amount)
    assert refused.value.field == "amount"
