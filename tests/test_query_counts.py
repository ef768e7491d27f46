"""The number of queries of every page and API read does not grow with the data (issue #19).

Every GET route (the same list the pages benchmark crawls, benchmarks/routes.py) is requested as the demo's
admin and rep on a small demo, then again after four times as many deals were added. A page that asks the
database once per row shows up as a higher count on the bigger demo, long before it costs seconds at a
million deals. Each count is also held under a ceiling, so a page cannot creep up one query at a time
unnoticed.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from benchmarks import routes

pytestmark = pytest.mark.slow

TODAY = dt.date(2026, 11, 20)
PERSONAS = ("admin", "rep")
# The most queries any page or API read may need, whatever the data (the busiest page, the dashboard as
# admin, needs about half of it).
CEILING = 80
# A count may differ by a few between the two sizes when a block appears only once data exists for it
# (a chart with points, a list that is no longer empty); a query per row would differ by dozens.
GROWTH_ALLOWED = 3


class _Rollback(Exception):
    pass


def _crawl() -> dict[tuple[str, str], int]:
    from dealflow.accounts.models import User

    resolve = routes.samples()["resolve"]
    urls = routes.web_urls(resolve) + routes.api_urls(resolve)
    counts: dict[tuple[str, str], int] = {}
    for persona in PERSONAS:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(User.objects.get(username=persona))
        for url in urls:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(url)
                if response.streaming:
                    b"".join(response.streaming_content)
            assert response.status_code < 500, f"{url} as {persona}: HTTP {response.status_code}"
            # Keyed by the route, not the record: the two demos number their records differently.
            counts[(re.sub(r"[0-9a-f-]*\d[0-9a-f-]*", "N", url), persona)] = len(captured.captured_queries)
    return counts


def _demo(deals: int) -> dict[tuple[str, str], int]:
    from dealflow.demo.generate import demo_generate

    demo_generate(deals=deals, seed=19, months=12, today=TODAY, progress=False, stdout=io.StringIO())
    return _crawl()


@pytest.mark.django_db(transaction=False)
def test_no_page_asks_once_per_row(settings):
    settings.DEBUG = False
    logging.getLogger("django.request").setLevel(logging.CRITICAL)  # a rep's 404s are expected
    small: dict[tuple[str, str], int] = {}
    try:
        with transaction.atomic():
            small = _demo(40)
            raise _Rollback
    except _Rollback:
        pass
    big = _demo(160)
    assert len(small) > 100, "the crawl found too few routes to mean anything"
    grown = {
        key: (small[key], count)
        for key, count in big.items()
        if key in small and count > small[key] + GROWTH_ALLOWED
    }
    assert not grown, "queries grow with the data: " + ", ".join(
        f"{url} as {persona}: {before} -> {after}"
        for (url, persona), (before, after) in sorted(grown.items())
    )
    heavy = {key: count for key, count in big.items() if count > CEILING}
    assert not heavy, f"over {CEILING} queries: {heavy}"
