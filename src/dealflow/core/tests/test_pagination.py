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
