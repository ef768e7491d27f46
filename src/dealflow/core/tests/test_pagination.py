"""CappedPaginator: exact pages below the cap; past it, "more than N", every page still reachable."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.accounts.models import User
from dealflow.accounts.tests.factories import UserFactory
from dealflow.core.pagination import CappedPaginator, count_capped


@pytest.fixture
def users(db):
    for index in range(8):
        UserFactory(username=f"user{index}")
    return User.objects.filter(username__startswith="user").order_by("username")


def names(page) -> list[str]:
    return [user.username for user in page.object_list]


def test_count_stops_one_past_the_cap(users):
    assert count_capped(users, cap=20) == 8
    assert count_capped(users, cap=8) == 8
    assert count_capped(users, cap=5) == 6
    with CaptureQueriesContext(connection) as captured:
        count_capped(users, cap=5)
    assert "LIMIT 6" in captured.captured_queries[0]["sql"]


def test_below_the_cap_pages_are_django_s(users):
    paginator = CappedPaginator(users, 3, cap=8)
    assert paginator.count == 8 and not paginator.is_capped
    assert paginator.num_pages == 3
    last = paginator.get_page(99)  # past the end: the last page, as Django's
    assert last.number == 3 and names(last) == ["user6", "user7"] and not last.has_next()


def test_past_the_cap_every_page_is_reachable(users):
    paginator = CappedPaginator(users, 3, cap=5)
    assert paginator.is_capped and paginator.count == 6
    first = paginator.get_page(1)
    assert names(first) == ["user0", "user1", "user2"] and first.has_next() and not first.has_previous()
    third = paginator.get_page(3)  # beyond what was counted
    assert names(third) == ["user6", "user7"] and not third.has_next() and third.has_previous()
    assert third.start_index() == 7 and third.end_index() == 8
    past = paginator.get_page(7)
    assert names(past) == [] and not past.has_next()
    assert names(paginator.get_page("junk")) == ["user0", "user1", "user2"]
    assert paginator.get_page(-2).number == 2  # as Django: a page below 1 gives the last counted page


def test_a_full_last_page_past_the_cap_has_no_next(users):
    paginator = CappedPaginator(users, 4, cap=5)
    second = paginator.get_page(2)
    assert names(second) == ["user4", "user5", "user6", "user7"] and not second.has_next()


@pytest.fixture
def activities_of_four(db):
    """60 activities of three owners (a fourth owns none) with tied, missing and done times."""
    import datetime as dt
    import random

    from dealflow.deals.services import activity_create

    rng = random.Random(7)
    owners = [UserFactory(username=f"owner{index}") for index in range(4)]
    start = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    for number in range(60):
        due = None if rng.random() < 0.2 else start + dt.timedelta(days=rng.randint(0, 5))
        done = None if rng.random() < 0.5 else start + dt.timedelta(days=rng.randint(0, 3))
        activity_create(owner=rng.choice(owners[:3]), subject=f"a{number}", due_at=due, done_at=done)
    return [owner.pk for owner in owners]


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(("open first", "due_at", "id"), id="open-first"),
        pytest.param(("-due_at", "-id"), id="descending"),
    ],
)
def test_merged_rows_are_the_list_s_own_slices(activities_of_four, order):
    """Issue #19: a page merged owner by owner holds exactly the rows, in exactly the order, that slicing the
    whole list gives, at every offset, on either engine (NULLs where the engine puts them)."""
    from django.db.models import F

    from dealflow.core.pagination import merged_rows
    from dealflow.deals.models import Activity

    owners = activities_of_four
    terms = [F("done_at").asc(nulls_first=True) if term == "open first" else term for term in order]
    listing = Activity.objects.filter(owner_id__in=owners).order_by(*terms)
    expected = [activity.pk for activity in listing]
    assert len(expected) == 60
    for offset, limit in [(0, 10), (5, 20), (50, 20), (59, 5), (60, 5), (0, 100)]:
        page = merged_rows(listing, field="owner_id", values=owners, offset=offset, limit=limit)
        assert [activity.pk for activity in page] == expected[offset : offset + limit]


def test_merged_rows_take_plain_column_orders_only(activities_of_four):
    from django.db.models.functions import Lower

    from dealflow.core.pagination import merged_rows
    from dealflow.deals.models import Activity

    listing = Activity.objects.order_by(Lower("subject"))
    with pytest.raises(TypeError):
        merged_rows(listing, field="owner_id", values=activities_of_four, offset=0, limit=5)
    with pytest.raises(TypeError):
        merged_rows(
            Activity.objects.order_by(), field="owner_id", values=activities_of_four, offset=0, limit=5
        )


def test_rows_by_ids_are_the_list_s_own_slices(activities_of_four):
    """The page's ids first, then their rows (with the list's joins): the same rows in the same order."""
    from dealflow.core.pagination import rows_by_ids
    from dealflow.deals.models import Activity

    listing = Activity.objects.select_related("owner").order_by("-due_at", "subject", "-id")
    expected = [activity.pk for activity in listing]
    rows = rows_by_ids(listing)
    for offset, limit in [(0, 7), (7, 7), (55, 10), (60, 3)]:
        page = rows(offset, limit)
        assert [activity.pk for activity in page] == expected[offset : offset + limit]
        assert all(activity.owner.username.startswith("owner") for activity in page)


def test_grouped_merged_rows_are_each_part_in_turn(activities_of_four):
    """The leads inbox's reading: the parts one after another in the order of the values, each in the list's
    order, at every offset."""
    from dealflow.core.pagination import merged_rows
    from dealflow.deals.models import Activity

    owners = list(reversed(activities_of_four))  # the values' order, not the ids', decides
    listing = Activity.objects.filter(owner_id__in=owners).order_by("-due_at", "-id")
    expected = [activity.pk for owner in owners for activity in listing.filter(owner_id=owner)]
    for offset, limit in [(0, 10), (15, 20), (55, 10)]:
        page = merged_rows(listing, field="owner_id", values=owners, offset=offset, limit=limit, grouped=True)
        assert [activity.pk for activity in page] == expected[offset : offset + limit]
