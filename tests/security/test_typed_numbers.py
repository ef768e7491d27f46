"""A superscript digit where a page reads an id: "²".isdigit() is true and int("²") raises, which made these
pages answer 500 (found by the full parameter fuzz, DEALFLOW_FUZZ_FULL=1, on PostgreSQL). core.parameters.is_number
decides what counts as a typed number for every view."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/deals/?view=²", "/commissions/leaderboard/?team=²", "/deals/?view=٣"])
def test_a_superscript_or_foreign_digit_is_not_an_id(client, admin_user, url):
    client.force_login(admin_user)
    assert client.get(url).status_code == 200
