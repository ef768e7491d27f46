import pytest

from dealflow.accounts.ratelimit import rate_limit_hit
from dealflow.accounts.services import token_create


@pytest.mark.django_db
def test_a_window_allows_its_limit_then_refuses_until_it_resets():
    results = [rate_limit_hit(key="k", limit=3, window_seconds=60, now=120.0) for _ in range(4)]
    assert [result.allowed for result in results] == [True, True, True, False]
    assert results[-1].retry_after == 60
    assert rate_limit_hit(key="k", limit=3, window_seconds=60, now=180.0).allowed
    assert rate_limit_hit(key="other", limit=3, window_seconds=60, now=121.0).count == 1


@pytest.mark.django_db
def test_the_api_answers_429_with_retry_after_per_token(client, rep, settings):
    settings.DEALFLOW = {**settings.DEALFLOW, "API_RATE_LIMIT_PER_MINUTE": 2}
    _, secret = token_create(user=rep, name="script")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    statuses = [client.get("/api/v1/me", **headers).status_code for _ in range(3)]
    assert statuses[:2] != [429, 429] and statuses[2] == 429
    response = client.get("/api/v1/me", **headers)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["detail"]


@pytest.fixture
def fresh_local_counts(monkeypatch):
    from dealflow.accounts import ratelimit

    monkeypatch.setattr(ratelimit, "_local", {})
    return ratelimit


def _shared_count(key: str) -> int:
    from dealflow.accounts.models import RateLimitCounter

    return sum(RateLimitCounter.objects.filter(key=key).values_list("count", flat=True))


@pytest.mark.django_db
def test_far_from_the_limit_a_process_writes_its_count_every_batch(fresh_local_counts):
    hit = fresh_local_counts.rate_limit_hit_batched
    results = [hit(key="busy", limit=1000, now=120.0) for _ in range(fresh_local_counts.BATCH - 1)]
    assert all(result.allowed for result in results)
    assert _shared_count("busy") == 0  # counted here, not yet written
    assert hit(key="busy", limit=1000, now=120.5).allowed
    assert _shared_count("busy") == fresh_local_counts.BATCH  # the tenth request wrote all ten
    assert hit(key="busy", limit=1000, now=121.6).count == fresh_local_counts.BATCH + 1  # a second passed


@pytest.mark.django_db
def test_near_the_limit_every_request_is_written_and_refusals_are_exact(fresh_local_counts):
    hit = fresh_local_counts.rate_limit_hit_batched
    results = [hit(key="script", limit=20, now=300.0) for _ in range(22)]
    assert [result.allowed for result in results] == [True] * 20 + [False, False]
    assert _shared_count("script") == 22
    assert results[-1].retry_after == 60


@pytest.mark.django_db
def test_several_processes_overshoot_the_limit_by_at_most_a_batch_each(fresh_local_counts, monkeypatch):
    """Each app-server process has its own local counts; simulate three by swapping them."""
    hit = fresh_local_counts.rate_limit_hit_batched
    processes = [{}, {}, {}]
    allowed = 0
    for request in range(300):
        monkeypatch.setattr(fresh_local_counts, "_local", processes[request % 3])
        allowed += hit(key="shared", limit=100, now=600.0).allowed
    assert 100 <= allowed <= 100 + 3 * fresh_local_counts.BATCH
