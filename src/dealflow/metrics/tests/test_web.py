"""The Dashboard and Funnel pages show the worked example's numbers, link to the deals behind them and
cost a fixed number of queries."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dealflow.deals.tests.factories import DealFactory
from dealflow.metrics.tests.worked_example import at

pytestmark = pytest.mark.django_db


def _figure(html: str, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, element_id
    return json.loads(match.group(1))


def test_the_dashboard_shows_the_six_metrics_and_their_deals(client, example, manager):
    client.force_login(manager)
    response = client.get(reverse("web:dashboard"), {"period": "2026-Q3"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "75.0%" in html  # win rate
    assert "25.0%" in html  # lead conversion
    assert "No forecast snapshot exists for this period yet." in html
    assert "/deals/?status=won&amp;closed_from=2026-07-01&amp;closed_to=2026-09-30" in html
    assert "/deals/?status=lost&amp;closed_from=2026-07-01&amp;closed_to=2026-09-30" in html
    assert "/deals/?status=open" in html
    assert reverse("web:metrics_definitions") in html
    funnel = _figure(html, "dashboard-funnel")
    assert funnel["data"][0]["x"] == [4, 2, 4, 3, 3, 2, 2, 2]
    assert funnel["data"][0]["customdata"][2].startswith("/funnel/?period=2026-Q3&stage=")
    flow = _figure(html, "dashboard-flow")
    assert sum(flow["data"][0]["link"]["value"]) == 15
    spark = _figure(html, "spark-win-rate")
    assert spark["data"][0]["y"][-3:] == [100.0, 50.0, 100.0]  # July, August, September
    assert "Holds the most waiting value" in html


def test_the_dashboard_breakdown_sorts_and_links(client, example, manager, rep2):
    client.force_login(manager)
    html = client.get(reverse("web:dashboard"), {"period": "2026-Q3", "order": "-velocity"}).content.decode()
    rows = re.findall(r'<tr data-row="(\d+)">', html)
    assert rows[0] == str(rep2.pk)
    assert (
        f"/deals/?owner={rep2.pk}&amp;status=won&amp;closed_from=2026-07-01&amp;closed_to=2026-09-30" in html
    )
    by_team = client.get(reverse("web:dashboard"), {"period": "2026-Q3", "by": "team"}).content.decode()
    assert "Benelux" in by_team


def test_a_bad_filter_is_reported_and_the_page_still_answers(client, example, manager):
    client.force_login(manager)
    response = client.get(reverse("web:dashboard"), {"period": "someday"})
    assert response.status_code == 400  # the page with the error beside the filter, as a refusal
    assert "Unknown period" in response.content.decode()


def test_the_funnel_page_lists_the_deals_of_a_stage(client, example, manager):
    client.force_login(manager)
    proposal = example["A"].spells.order_by("entered_at").last().stage_id
    response = client.get(reverse("web:funnel"), {"period": "2026-Q3", "stage": proposal})
    html = response.content.decode()
    assert response.status_code == 200
    assert "3 deals reached Proposal" in html
    for letter in ("A", "B", "C"):
        assert reverse("web:deal_detail", args=[example[letter].pk]) in html
    assert reverse("web:deal_detail", args=[example["D"].pk]) not in html
    assert "42,500" in html  # Qualification's amount (A + B + C at close, D open)
    won = client.get(reverse("web:funnel"), {"period": "2026-Q3", "won": "1"}).content.decode()
    assert "2 deals reached Won" in won


def test_the_definitions_page_renders_docs_metrics(client, manager):
    client.force_login(manager)
    html = client.get(reverse("web:metrics_definitions")).content.decode()
    assert "<h1>Pipeline metrics</h1>" in html
    assert "Kaplan-Meier" in html


def test_the_dashboard_page_costs_the_same_queries_for_few_or_many_deals(client, example, manager):
    client.force_login(manager)
    counts = []
    for _round in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("web:dashboard"), {"period": "2026-Q3"}).status_code == 200
        counts.append(len(queries))
        for number in range(25):
            DealFactory(owner=manager, at=at(8, 1 + number))
    # session, user, memberships; 16 for the numbers (pipeline included; the stale and slipped deals come
    # separately, below); forecast accuracy: the user's scope (4); the filter options (pipelines, teams,
    # owners, sources); figures by product: the scope (1) and the lines of the period's closed deals (1;
    # their products one more, only when there are some).
    assert counts[0] == counts[1], counts
    assert counts[0] == 30, counts


def test_the_dashboard_loads_its_stale_and_slipped_deals_after_the_numbers(client, example, manager):
    client.force_login(manager)
    page = client.get(reverse("web:dashboard"), {"period": "2026-Q3", "owner": example["D"].owner_id})
    html = page.content.decode()
    url = f"{reverse('web:dashboard_attention')}?period=2026-Q3&amp;owner={example['D'].owner_id}"
    assert f'hx-get="{url}" hx-trigger="load"' in html
    assert 'data-panel="stale"' not in html  # not computed for the page itself
    counts, answers = [], []
    for _round in range(2):
        with CaptureQueriesContext(connection) as queries:
            answers.append(client.get(reverse("web:dashboard_attention"), {"period": "2026-Q3"}))
        counts.append(len(queries))
        for number in range(25):
            DealFactory(owner=manager, at=at(8, 1 + number))
    assert answers[0].status_code == 200
    attention = answers[0].content.decode()
    assert 'data-panel="stale"' in attention and 'data-panel="slipped"' in attention
    assert 'badge-amber">1<' in attention and 'badge-red">1<' in attention  # as /api/v1/metrics/attention
    assert reverse("web:deal_detail", args=[example["D"].pk]) in attention
    # session, user, memberships, the scope (pipeline), rates, stages, stale totals and list, slipped
    # totals, largest and their deals
    assert counts[0] == counts[1] == 11, counts
    bad = client.get(reverse("web:dashboard_attention"), {"period": "someday"})
    assert bad.status_code == 400 and 'data-panel="stale"' in bad.content.decode()
