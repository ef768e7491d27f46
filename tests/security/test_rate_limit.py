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
