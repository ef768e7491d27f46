import pytest

from dealflow.accounts.ratelimit import rate_limit_hit


@pytest.mark.django_db
def test_a_window_allows_its_limit_then_refuses_until_it_resets():
    results = [rate_limit_hit(key="k", limit=3, window_seconds=60, now=120.0) for _ in range(4)]
    assert [result.allowed for result in results] == [True, True, True, False]
    assert results[-1].retry_after == 60
    assert rate_limit_hit(key="k", limit=3, window_seconds=60, now=180.0).allowed
    assert rate_limit_hit(key="other", limit=3, window_seconds=60, now=121.0).count == 1
