"""Every ``*_for_user`` gate with the personas: 404 for what a user may not see, 403 for a read-only write."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import Http404

from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.deals import selectors, services
from dealflow.deals.selectors import DealFilters
from dealflow.deals.tests.factories import DealFactory, LeadFactory, lead_source, stage_named

READ_WRITE = "read-write"
READ_ONLY = "read-only"
HIDDEN = "hidden"


def access(gate, **kwargs) -> str:
    try:
        gate(**kwargs, for_write=True)
        return READ_WRITE
    except PermissionDeniedError:
        gate(**kwargs)
        return READ_ONLY
    except Http404:
        with pytest.raises(Http404):
            gate(**kwargs)
        return HIDDEN


PERSONAS = {
    "rep": READ_WRITE,
    "manager": READ_WRITE,
    "admin_user": READ_WRITE,
    "analyst": READ_ONLY,
    "rep2": HIDDEN,
    "outsider": HIDDEN,
}


@pytest.fixture
def everyone(rep, rep2, manager, outsider, analyst, admin_user):
    return {
        "rep": rep,
        "rep2": rep2,
        "manager": manager,
        "outsider": outsider,
        "analyst": analyst,
        "admin_user": admin_user,
    }


@pytest.mark.django_db
def test_deal_gate(everyone, rep):
    deal = DealFactory(owner=rep)
    seen = {
        name: access(selectors.deal_get_for_user, deal_id=deal.pk, user=user)
        for name, user in everyone.items()
    }
    assert seen == PERSONAS
    with pytest.raises(Http404):
        selectors.deal_get_for_user(deal_id=deal.pk + 1000, user=everyone["admin_user"])


@pytest.mark.django_db
def test_team_mates_read_each_others_deals_when_the_team_allows_it(everyone, rep, team):
    team.reps_see_team_deals = True
    team.save()
    deal = DealFactory(owner=rep)
    assert access(selectors.deal_get_for_user, deal_id=deal.pk, user=everyone["rep2"]) == READ_ONLY
    assert access(selectors.deal_get_for_user, deal_id=deal.pk, user=everyone["outsider"]) == HIDDEN


@pytest.mark.django_db
def test_lead_and_activity_gates(everyone, rep):
    lead = LeadFactory(owner=rep)
    activity = services.activity_create(owner=rep, subject="Call back")
    leads = {
        name: access(selectors.lead_get_for_user, lead_id=lead.pk, user=user)
        for name, user in everyone.items()
    }
    activities = {
        name: access(selectors.activity_get_for_user, activity_id=activity.pk, user=user)
        for name, user in everyone.items()
    }
    assert leads == PERSONAS
    assert activities == PERSONAS


@pytest.mark.django_db
def test_a_deals_history_and_activities_follow_the_deal_gate(rep, manager, outsider):
    deal = DealFactory(owner=rep)
    services.activity_create(owner=manager, subject="Coach rep", deal=deal)
    assert [event.kind for event in selectors.deal_list_events_for_user(deal_id=deal.pk, user=manager)] == [
        "created"
    ]
    assert selectors.activity_list_for_user(user=rep, deal_id=deal.pk).count() == 1
    with pytest.raises(Http404):
        selectors.deal_list_events_for_user(deal_id=deal.pk, user=outsider)
    with pytest.raises(Http404):
        selectors.activity_list_for_user(user=outsider, deal_id=deal.pk)


@pytest.mark.django_db
def test_lists_show_each_persona_what_it_may_see(rep, rep2, manager, outsider, analyst, admin_user):
    mine = DealFactory(owner=rep)
    colleagues = DealFactory(owner=rep2)
    foreign = DealFactory(owner=outsider)
    managers = DealFactory(owner=manager)

    def visible(user) -> set[int]:
        return set(selectors.deal_list_for_user(user=user).values_list("pk", flat=True))

    assert visible(rep) == {mine.pk}
    assert visible(manager) == {mine.pk, colleagues.pk, managers.pk}
    assert visible(outsider) == {foreign.pk}
    assert visible(analyst) == visible(admin_user) == {mine.pk, colleagues.pk, foreign.pk, managers.pk}
    LeadFactory(owner=outsider)
    assert selectors.lead_list_for_user(user=rep).count() == 0
    assert selectors.lead_list_for_user(user=outsider).count() == 1


@pytest.mark.django_db
def test_deal_filters_combine(rep, manager):
    renewals = services.pipeline_create(name="Renewals")
    first = DealFactory(
        owner=rep,
        title="Acme rollout",
        expected_close_on=dt.date(2026, 3, 31),
        source=lead_source("referral"),
    )
    second = DealFactory(owner=manager, title="Globex pilot", expected_close_on=dt.date(2026, 6, 30))
    third = DealFactory(owner=rep, title="Initech", pipeline=renewals, expected_close_on=dt.date(2026, 4, 15))
    services.deal_move_to_stage(deal=second, stage=stage_named("Proposal"), by=manager)
    services.deal_mark_won(deal=third, by=rep)

    def titles(**query) -> list[str]:
        filters = DealFilters.from_mapping(query)
        return [
            deal.title for deal in selectors.deal_list_for_user(user=manager, filters=filters, order="title")
        ]

    assert titles() == ["Acme rollout", "Globex pilot", "Initech"]
    assert titles(owner=str(rep.pk)) == ["Acme rollout", "Initech"]
    assert titles(pipeline=str(renewals.pk)) == ["Initech"]
    assert titles(stage=str(stage_named("Proposal").pk)) == ["Globex pilot"]
    assert titles(status="won") == ["Initech"]
    assert titles(source="referral") == ["Acme rollout"]
    assert titles(close_from="2026-04-01", close_to="2026-06-30") == ["Globex pilot", "Initech"]
    assert titles(q="ACME") == ["Acme rollout"]
    assert titles(q=first.organization.name) == ["Acme rollout"]
    assert titles(mine="1") == ["Globex pilot"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"owner": "me"}, "owner"),
        ({"close_from": "31-03-2026"}, "close_from"),
        ({"status": "closed"}, "status"),
    ],
)
def test_bad_filters_name_the_field(rep, query, field):
    with pytest.raises(ApplicationError) as error:
        DealFilters.from_mapping(query)
    assert error.value.field == field


@pytest.mark.django_db
def test_ordering(rep):
    from decimal import Decimal

    small = DealFactory(owner=rep, amount=Decimal("10"))
    big = DealFactory(owner=rep, amount=Decimal("99"))
    assert list(selectors.deal_list_for_user(user=rep, order="-amount")) == [big, small]
    assert list(selectors.deal_list_for_user(user=rep, order="amount")) == [small, big]
    with pytest.raises(ApplicationError) as error:
        selectors.deal_list_for_user(user=rep, order="password")
    assert error.value.field == "order"


@pytest.mark.django_db
def test_settings_are_for_admins(rep, manager, admin_user):
    for user in (rep, manager):
        with pytest.raises(PermissionDeniedError):
            selectors.settings_check_admin(user=user)
    selectors.settings_check_admin(user=admin_user)


@pytest.mark.django_db
def test_an_analyst_reads_but_does_not_write(analyst, manager, rep):
    with pytest.raises(PermissionDeniedError):
        selectors.user_check_can_write(user=analyst)
    selectors.user_check_can_write(user=manager)
    selectors.user_check_can_write(user=rep)


@pytest.mark.django_db
def test_activity_list_puts_open_ones_first_on_every_engine(rep):
    """PostgreSQL sorts NULLs last in ascending order and SQLite first: the list says its direction, so
    the open activities (no done_at) lead on both, then by due time."""
    from django.utils import timezone

    deal = DealFactory(owner=rep)
    base = timezone.make_aware(dt.datetime(2026, 11, 2, 9, 0))
    done = services.activity_create(
        owner=rep, subject="Done call", deal=deal, by=rep, due_at=base, done_at=base
    )
    later = services.activity_create(
        owner=rep, subject="Later", deal=deal, by=rep, due_at=base + dt.timedelta(days=3)
    )
    sooner = services.activity_create(
        owner=rep, subject="Sooner", deal=deal, by=rep, due_at=base + dt.timedelta(days=1)
    )
    expected = [sooner.pk, later.pk, done.pk]
    assert [a.pk for a in selectors.activity_list_for_user(user=rep, deal_id=deal.pk)] == expected
    assert [a.pk for a in selectors.activity_list_for_user(user=rep)] == expected
