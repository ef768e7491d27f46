"""Who may see and assign what: the access scope of each persona."""

from __future__ import annotations

import pytest
from django.http import Http404

from dealflow.accounts import selectors
from dealflow.accounts.models import User
from dealflow.accounts.services import token_create
from dealflow.core.errors import ApplicationError


@pytest.mark.django_db
def test_access_scope_per_persona(rep, manager, analyst, admin_user, team, other_team):
    assert selectors.user_access_scope(user=rep).readable_team_ids == frozenset()
    assert selectors.user_access_scope(user=manager).managed_team_ids == {team.pk}
    assert selectors.user_access_scope(user=analyst).sees_everything
    assert selectors.user_access_scope(user=admin_user).is_admin
    team.reps_see_team_deals = True
    team.save()
    assert selectors.user_access_scope(user=rep).readable_team_ids == frozenset()  # cached per request
    fresh = User.objects.get(pk=rep.pk)
    assert selectors.user_access_scope(user=fresh).readable_team_ids == {team.pk}


@pytest.mark.django_db
def test_who_may_be_made_owner(rep, rep2, manager, outsider, admin_user):
    assert selectors.user_get_assignable_for_user(user_id=rep.pk, user=rep) == rep
    with pytest.raises(ApplicationError) as error:
        selectors.user_get_assignable_for_user(user_id=rep2.pk, user=rep)
    assert error.value.field == "owner"
    assert selectors.user_get_assignable_for_user(user_id=rep2.pk, user=manager) == rep2
    with pytest.raises(ApplicationError):
        selectors.user_get_assignable_for_user(user_id=outsider.pk, user=manager)
    assert selectors.user_get_assignable_for_user(user_id=outsider.pk, user=admin_user) == outsider
    outsider.is_active = False
    outsider.save()
    with pytest.raises(ApplicationError):
        selectors.user_get_assignable_for_user(user_id=outsider.pk, user=admin_user)


@pytest.mark.django_db
def test_visible_users(rep, rep2, manager, outsider, analyst):
    assert set(selectors.user_list_visible(user=rep)) == {rep}
    assert set(selectors.user_list_visible(user=manager)) == {rep, rep2, manager}
    assert {outsider, rep, manager} <= set(selectors.user_list_visible(user=analyst))


@pytest.mark.django_db
def test_a_token_is_only_its_owners(rep, manager):
    token, _ = token_create(user=rep, name="script")
    assert selectors.token_get_for_user(token_id=token.pk, user=rep) == token
    with pytest.raises(Http404):
        selectors.token_get_for_user(token_id=token.pk, user=manager)


@pytest.mark.django_db
@pytest.mark.parametrize("list_limit", [500, 1])
def test_visibility_is_the_same_as_an_id_list_or_a_subquery(
    rep, rep2, manager, outsider, team, monkeypatch, list_limit
):
    """Up to OWNER_LIST_LIMIT owners the filter is a literal id list (indexed); past it, a subquery."""
    from dealflow.accounts.models import Membership, Role

    monkeypatch.setattr(selectors, "OWNER_LIST_LIMIT", list_limit)
    users = User.objects.filter(pk__in=[rep.pk, rep2.pk, manager.pk, outsider.pk])

    def visible(user, *, editable=False):
        fresh = User.objects.get(pk=user.pk)  # the scope is cached per user object
        condition = selectors.owner_editable_q if editable else selectors.owner_visibility_q
        return set(users.filter(condition(user=fresh, owner_field="pk")).values_list("username", flat=True))

    assert visible(rep) == {"rep"}
    assert visible(manager) == {"rep", "rep2", "manager"}
    assert visible(manager, editable=True) == {"rep", "rep2", "manager"}
    team.reps_see_team_deals = True
    team.save()
    assert visible(rep) == {"rep", "rep2", "manager"}
    assert visible(rep, editable=True) == {"rep"}
    Membership.objects.create(user=outsider, team=team, role=Role.REP)  # joins the team: now visible
    assert visible(rep2) == {"rep", "rep2", "manager", "outsider"}
    assert visible(outsider) == {"rep", "rep2", "manager", "outsider"}
