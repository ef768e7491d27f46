"""Admin settings: pipelines, stages, lost reasons, exchange rates, users; everybody else gets 403."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from dealflow.accounts.models import Membership, Role, User
from dealflow.accounts.tests.factories import MembershipFactory, TeamFactory, UserFactory
from dealflow.deals.models import ExchangeRate, LostReason, Pipeline, Stage
from dealflow.deals.tests.factories import DealFactory, stage_named

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_admin(team):
    user = UserFactory(username="teamadmin")
    MembershipFactory(user=user, team=team, role=Role.ADMIN)
    return user


GET_ROUTES = [
    ("web:settings", []),
    ("web:settings_lost_reasons", []),
    ("web:settings_exchange_rates", []),
    ("web:settings_users", []),
]


@pytest.mark.parametrize("persona", ["rep", "manager", "outsider", "analyst"])
def test_non_admins_get_403_everywhere(client, request, persona, pipeline):
    client.force_login(request.getfixturevalue(persona))
    for name, args in [*GET_ROUTES, ("web:settings_pipeline", [pipeline.pk])]:
        assert client.get(reverse(name, args=args)).status_code == 403, name
    stage = stage_named("Proposal", pipeline)
    posts = [
        ("web:settings_pipeline_create", [], {"name": "Sneaky"}),
        ("web:settings_stage_update", [stage.pk], {f"stage-{stage.pk}-name": "Hacked"}),
        ("web:settings_lost_reasons", [], {"name": "Sneaky"}),
        ("web:settings_exchange_rates", [], {"currency": "USD", "rate": "1", "valid_from": "2026-01-01"}),
        ("web:settings_users", [], {"username": "sneaky", "password": "x"}),
    ]
    for name, args, data in posts:
        assert client.post(reverse(name, args=args), data).status_code == 403, name
    assert not Pipeline.objects.filter(name="Sneaky").exists()
    assert Stage.objects.get(pk=stage.pk).name == "Proposal"
    assert not User.objects.filter(username="sneaky").exists()


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(reverse("web:settings"))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("persona", ["admin_user", "team_admin"])
def test_admins_see_every_page(client, request, persona, pipeline):
    client.force_login(request.getfixturevalue(persona))
    for name, args in [*GET_ROUTES, ("web:settings_pipeline", [pipeline.pk])]:
        assert client.get(reverse(name, args=args)).status_code == 200, name


def test_create_pipeline_and_rename_it(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("web:settings_pipeline_create"), {"name": "Partners", "with_default_stages": "on"}
    )
    pipeline = Pipeline.objects.get(name="Partners")
    assert response["Location"] == reverse("web:settings_pipeline", args=[pipeline.pk])
    assert pipeline.stages.count() == 5
    response = client.post(reverse("web:settings_pipeline_create"), {"name": "partners"})
    assert response.status_code == 400
    assert (
        "A pipeline with this name exists."
        in response.content.decode().split('id="id_name"')[1].split("</div>")[0]
    )
    client.post(
        reverse("web:settings_pipeline_update", args=[pipeline.pk]), {"name": "Channel", "is_active": "on"}
    )
    pipeline.refresh_from_db()
    assert (pipeline.name, pipeline.is_active, pipeline.is_default) == ("Channel", True, False)


def test_stage_edit_add_reorder_and_retire(client, admin_user, pipeline, rep):
    client.force_login(admin_user)
    proposal = stage_named("Proposal", pipeline)
    prefix = f"stage-{proposal.pk}"
    response = client.post(
        reverse("web:settings_stage_update", args=[proposal.pk]),
        {
            f"{prefix}-name": "Offer",
            f"{prefix}-probability": "50",
            f"{prefix}-rotting_days": "10",
            f"{prefix}-forecast_category": "commit",
            f"{prefix}-definition_of_done": "Offer sent and discussed.",
        },
    )
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert (proposal.name, proposal.probability, proposal.rotting_days, proposal.forecast_category) == (
        "Offer",
        50,
        10,
        "commit",
    )
    assert proposal.definition_of_done == "Offer sent and discussed."

    client.post(
        reverse("web:settings_stage_create", args=[pipeline.pk]),
        {
            "new-name": "Legal review",
            "new-probability": "90",
            "new-rotting_days": "7",
            "new-forecast_category": "commit",
        },
    )
    legal = Stage.objects.get(pipeline=pipeline, name="Legal review")
    client.post(reverse("web:settings_stage_move", args=[legal.pk]), {"direction": "up"})
    open_names = list(
        Stage.objects.filter(pipeline=pipeline, kind="open", is_active=True)
        .order_by("order")
        .values_list("name", flat=True)
    )
    assert open_names == [
        "Qualification",
        "Needs analysis",
        "Offer",
        "Negotiation",
        "Legal review",
        "Closing",
    ]

    DealFactory(owner=rep, stage=legal)
    response = client.post(reverse("web:settings_stage_deactivate", args=[legal.pk]))
    assert [str(message) for message in response.wsgi_request._messages][-1] == (
        "Legal review: Move the open deals out of this stage first."
    )
    needs = stage_named("Needs analysis", pipeline)
    client.post(reverse("web:settings_stage_deactivate", args=[needs.pk]))
    needs.refresh_from_db()
    assert needs.is_active is False


def test_stage_probability_out_of_range_is_a_field_error(client, admin_user, pipeline):
    client.force_login(admin_user)
    stage = stage_named("Closing", pipeline)
    prefix = f"stage-{stage.pk}"
    response = client.post(
        reverse("web:settings_stage_update", args=[stage.pk]),
        {
            f"{prefix}-name": "Closing",
            f"{prefix}-probability": "150",
            f"{prefix}-rotting_days": "5",
            f"{prefix}-forecast_category": "commit",
        },
    )
    assert response.status_code == 400
    block = response.content.decode().split(f'id="id_{prefix}-probability"')[1].split("</div>")[0]
    assert "errorlist" in block


def test_won_stage_form_has_no_probability(client, admin_user, pipeline):
    client.force_login(admin_user)
    won = stage_named("Won", pipeline)
    html = client.get(reverse("web:settings_pipeline", args=[pipeline.pk])).content.decode()
    assert f'id="id_stage-{won.pk}-name"' in html
    assert f'id="id_stage-{won.pk}-probability"' not in html


def test_lost_reasons(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("web:settings_lost_reasons"), {"name": "Legal blocked"})
    reason = LostReason.objects.get(name="Legal blocked")
    response = client.post(reverse("web:settings_lost_reasons"), {"name": "legal BLOCKED"})
    assert response.status_code == 400
    client.post(
        reverse("web:settings_lost_reason_update", args=[reason.pk]),
        {f"reason-{reason.pk}-name": "Legal said no"},
    )
    reason.refresh_from_db()
    assert (reason.name, reason.is_active) == ("Legal said no", False)


def test_exchange_rates(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("web:settings_exchange_rates"),
        {"currency": "usd", "rate": "0.92", "valid_from": "2026-01-01"},
    )
    assert response.status_code == 302
    rate = ExchangeRate.objects.get(currency="USD")
    assert (rate.rate, rate.valid_from) == (Decimal("0.92"), dt.date(2026, 1, 1))
    response = client.post(
        reverse("web:settings_exchange_rates"), {"currency": "US1", "rate": "1", "valid_from": "2026-01-01"}
    )
    assert response.status_code == 400
    assert "ISO 4217" in response.content.decode().split('id="id_currency"')[1].split("</div>")[0]


def test_users_create_and_set_team_and_role(client, admin_user, team):
    client.force_login(admin_user)
    response = client.post(
        reverse("web:settings_users"),
        {
            "username": "nina",
            "first_name": "Nina",
            "last_name": "New",
            "email": "nina@example.com",
            "password": "a-long-and-unusual-passphrase",
            "language": "nl",
            "team": team.pk,
            "role": "rep",
        },
    )
    assert response.status_code == 302
    nina = User.objects.get(username="nina")
    assert nina.language == "nl" and nina.check_password("a-long-and-unusual-passphrase")
    assert Membership.objects.get(user=nina).role == "rep"

    other = TeamFactory(name="Nordics")
    client.post(
        reverse("web:settings_membership_set", args=[nina.pk]),
        {f"member-{nina.pk}-team": other.pk, f"member-{nina.pk}-role": "manager"},
    )
    assert dict(Membership.objects.filter(user=nina).values_list("team__name", "role")) == {
        "Benelux": "rep",
        "Nordics": "manager",
    }
    client.post(reverse("web:settings_membership_remove", args=[nina.pk, team.pk]))
    assert list(Membership.objects.filter(user=nina).values_list("team__name", flat=True)) == ["Nordics"]


def test_weak_password_is_a_field_error(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("web:settings_users"),
        {"username": "weak", "password": "123", "language": "en", "role": "rep"},
    )
    assert response.status_code == 400
    assert "errorlist" in response.content.decode().split('id="id_password"')[1].split("</div>")[0]
    assert not User.objects.filter(username="weak").exists()


def test_team_create(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("web:settings_team_create"), {"name": "Iberia", "reps_see_team_deals": "on"})
    response = client.get(reverse("web:settings_users"))
    assert "Iberia" in response.content.decode()


def test_users_page_query_count_does_not_grow_per_user(client, admin_user, team, django_assert_num_queries):
    for number in range(3):
        MembershipFactory(user=UserFactory(username=f"member{number}"), team=team)
    client.force_login(admin_user)
    client.get(reverse("web:settings_users"))
    # 7, plus the count of the pages (issue #19).
    with django_assert_num_queries(8):
        client.get(reverse("web:settings_users"))
    for number in range(10):
        MembershipFactory(user=UserFactory(username=f"more{number}"), team=team)
    with django_assert_num_queries(8):
        client.get(reverse("web:settings_users"))


def test_users_page_shows_25_a_page_and_a_failed_form_on_its_users_page(client, admin_user, team):
    from dealflow.web.views.settings import USERS_PAGE_SIZE

    for number in range(USERS_PAGE_SIZE + 5):
        UserFactory(username=f"user{number:02d}")
    client.force_login(admin_user)
    first = client.get(reverse("web:settings_users"))
    assert len(first.context["rows"]) == USERS_PAGE_SIZE == 25
    assert 'rel="next"' in first.content.decode()
    second = client.get(reverse("web:settings_users"), {"page": 2})
    assert [row["user"].username for row in second.context["rows"]][-1] == "user29"
    last = User.objects.get(username="user29")
    failed = client.post(
        reverse("web:settings_membership_set", args=[last.pk]),
        {f"member-{last.pk}-team": "", f"member-{last.pk}-role": "rep"},
    )
    assert failed.status_code == 400
    assert last in [row["user"] for row in failed.context["rows"]]
    assert failed.context["rows"][-1]["form"].errors
