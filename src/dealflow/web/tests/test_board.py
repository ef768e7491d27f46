"""The board's HTML endpoints: rendering, filters, moves (stage, won, lost, month), conflicts and access."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dealflow.accounts.models import Role
from dealflow.accounts.services import membership_set
from dealflow.deals import services
from dealflow.deals.models import DealEvent, EventKind
from dealflow.deals.tests.factories import DealFactory, lost_reason, stage_named

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def toast(response) -> dict:
    return json.loads(response["HX-Trigger"])["dealflow:toast"]


def test_a_rep_starts_on_my_deals_and_a_manager_on_everything(client, rep, rep2, manager, pipeline):
    DealFactory(owner=rep, title="Rita deal")
    DealFactory(owner=rep2, title="Ruud deal")
    client.force_login(rep)
    page = client.get(reverse("web:home")).content.decode()
    assert "Rita deal" in page and "Ruud deal" not in page
    client.force_login(manager)
    page = client.get(reverse("web:home")).content.decode()
    assert "Rita deal" in page and "Ruud deal" in page
    page = client.get(reverse("web:home"), {"owner": f"u{rep2.pk}"}).content.decode()
    assert "Rita deal" not in page and "Ruud deal" in page


def test_filters_by_close_period_and_text(client, manager, rep, pipeline):
    DealFactory(owner=rep, title="November", expected_close_on=dt.date(2026, 11, 30))
    DealFactory(owner=rep, title="January", expected_close_on=dt.date(2027, 1, 2))
    client.force_login(manager)
    page = client.get(reverse("web:home"), {"period": "2026-11"}).content.decode()
    assert "November" in page and "January</" not in page
    page = client.get(reverse("web:home"), {"q": "janu"}).content.decode()
    assert "January</" in page and ">November<" not in page


def test_a_bad_period_is_reported_and_ignored(client, rep, pipeline):
    DealFactory(owner=rep, title="Kept")
    client.force_login(rep)
    response = client.get(reverse("web:home"), {"period": "someday"}, follow=True)
    assert response.status_code == 200
    assert "Kept" in response.content.decode()
    assert "Unknown period" in next(str(message) for message in response.context["messages"])


def test_the_board_page_costs_the_same_queries_for_3_or_20_deals(
    client, rep, pipeline, rate_usd, django_assert_num_queries
):
    counts = []
    for total in (3, 20):
        for number in range(total - (3 if counts else 0)):
            deal = DealFactory(owner=rep, currency="USD" if number % 3 else "EUR")
            services.activity_create(owner=rep, by=rep, subject="Call", deal=deal, due_at=NOW)
        client.force_login(rep)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("web:home")).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    # session, user, memberships, pipeline, stages, totals, rates, cards (every column fits its 25, so no
    # ranking query), activity states, pipelines, teams, users, lost reasons
    with django_assert_num_queries(counts[1]):
        client.get(reverse("web:home"))
    assert counts == [13, 13], counts


def test_move_to_the_next_stage_answers_with_both_headers_and_the_card(client, rep, pipeline):
    qualification, needs = stage_named("Qualification"), stage_named("Needs analysis")
    deal = DealFactory(owner=rep, title="Acme", amount=Decimal("1000.00"))
    DealFactory(owner=rep, title="Other", amount=Decimal("250.00"))
    client.force_login(rep)
    response = client.post(
        reverse("web:board_move", args=[deal.pk]), {"stage": needs.pk, "version": deal.version, "owner": "me"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="column-header-{qualification.pk}" hx-swap-oob="true"' in html
    assert f'id="column-header-{needs.pk}" hx-swap-oob="true"' in html
    assert f'hx-swap-oob="afterbegin:#cards-{needs.pk}"' in html
    assert "€250" in html and "€1,000" in html and "€250 " not in html  # both new totals
    event = DealEvent.objects.get(deal=deal, kind=EventKind.STAGE_CHANGED)
    assert (event.to_stage, event.origin, event.actor) == (needs, "web", rep)


def test_a_stale_card_gets_a_409_and_a_toast(client, rep, pipeline):
    deal = DealFactory(owner=rep)
    services.deal_update(deal=deal, by=rep, data={"title": "Renamed elsewhere"})
    client.force_login(rep)
    response = client.post(
        reverse("web:board_move", args=[deal.pk]), {"stage": stage_named("Proposal").pk, "version": 1}
    )
    assert response.status_code == 409
    assert toast(response)["level"] == "error"
    assert "changed by someone else" in toast(response)["text"]
    deal.refresh_from_db()
    assert deal.stage == stage_named("Qualification")


def test_won_and_lost_need_a_reason_for_lost(client, rep, pipeline):
    won, lost = DealFactory(owner=rep, title="W"), DealFactory(owner=rep, title="L")
    client.force_login(rep)
    response = client.post(reverse("web:board_move", args=[won.pk]), {"outcome": "won"})
    assert response.status_code == 200 and toast(response)["level"] == "success"
    response = client.post(reverse("web:board_move", args=[lost.pk]), {"outcome": "lost"})
    assert response.status_code == 400
    assert toast(response)["text"] == "Say why the deal was lost: pick a lost reason."
    response = client.post(
        reverse("web:board_move", args=[lost.pk]),
        {"outcome": "lost", "reason": lost_reason("Timing").pk, "note": "Q3"},
    )
    assert response.status_code == 200
    won.refresh_from_db()
    lost.refresh_from_db()
    assert (won.status, lost.status, lost.lost_reason.name, lost.lost_note) == ("won", "lost", "Timing", "Q3")
    assert "afterbegin" not in response.content.decode()  # a closed deal leaves the board


def test_others_cannot_move_a_deal(client, rep, outsider, analyst, manager, pipeline):
    deal = DealFactory(owner=rep)
    url = reverse("web:board_move", args=[deal.pk])
    target = {"stage": stage_named("Proposal").pk}
    client.force_login(outsider)
    assert client.post(url, target).status_code == 404  # not theirs to see: same answer as missing
    membership_set(user=analyst, team=manager.memberships.get().team, role=Role.ANALYST)
    client.force_login(analyst)
    response = client.post(url, target)
    assert response.status_code == 403
    client.force_login(manager)
    assert client.post(url, target).status_code == 200


def test_load_more_returns_the_next_cards(client, rep, pipeline):
    for number in range(28):
        with time_machine.travel(NOW - dt.timedelta(minutes=60 - number), tick=False):
            DealFactory(owner=rep, title=f"Deal {number:02d}")
    client.force_login(rep)
    page = client.get(reverse("web:home")).content.decode()
    assert page.count('class="deal-card') == 25 and "Load more" in page
    assert "Deal 27" in page and "Deal 03" in page and "Deal 02" not in page
    column = client.get(reverse("web:home")).context["board"].columns[0]
    response = client.get(
        reverse("web:board_column", args=[stage_named("Qualification").pk]),
        {"after": column.cursor, "owner": "me"},
    )
    html = response.content.decode()
    assert html.count('class="deal-card') == 3
    assert "Deal 02" in html and "Deal 00" in html and "Load more" not in html


def test_forecast_board_move_to_another_month(client, rep, pipeline):
    deal = DealFactory(owner=rep, title="Moving", expected_close_on=dt.date(2026, 11, 30))
    client.force_login(rep)
    page = client.get(reverse("web:forecast_board")).content.decode()
    assert 'id="cards-2026-11"' in page and "Moving" in page
    response = client.post(
        reverse("web:forecast_board_move", args=[deal.pk]), {"month": "2027-02", "version": deal.version}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="column-header-2026-11" hx-swap-oob="true"' in html
    assert 'hx-swap-oob="afterbegin:#cards-2027-02"' in html
    deal.refresh_from_db()
    assert deal.expected_close_on == dt.date(2027, 2, 28)  # the 30th does not exist in February
    event = DealEvent.objects.get(deal=deal, kind=EventKind.CLOSE_DATE_CHANGED)
    assert (event.from_value, event.to_value, event.origin) == ("2026-11-30", "2027-02-28", "web")
    stale = client.post(
        reverse("web:forecast_board_move", args=[deal.pk]), {"month": "2027-03", "version": 1}
    )
    assert stale.status_code == 409
    assert (
        client.post(reverse("web:forecast_board_move", args=[deal.pk]), {"month": "2027"}).status_code == 400
    )


def test_the_forecast_board_shows_20_cards_a_column_counts_them_all_and_loads_the_rest(client, rep, pipeline):
    """Issue #19: nine columns of 50 cards were 365 KB at 1M deals; 20 each keep the page light."""
    for number in range(23):
        DealFactory(owner=rep, title=f"Card {number:02}", expected_close_on=dt.date(2026, 11, 1 + number))
    client.force_login(rep)
    html = client.get(reverse("web:forecast_board")).content.decode()
    november = html.split('id="cards-2026-11"')[1].split("</ul>")[0]
    assert november.count('class="deal-card') == 20
    assert "Card 19" in november and "Card 20" not in november and "Load more" in november
    assert 'data-count title="Deals in this column">23<' in html  # the header counts every deal
    more = client.get(
        reverse("web:forecast_board_column", args=["2026-11"]), {"after": _cursor_after(november)}
    ).content.decode()
    assert more.count('class="deal-card') == 3 and "Card 20" in more and "Card 22" in more
    assert "Load more" not in more


def _cursor_after(column_html: str) -> str:
    from html import unescape
    from urllib.parse import parse_qs, urlsplit

    url = unescape(column_html.split('hx-get="')[1].split('"')[0])
    return parse_qs(urlsplit(url).query)["after"][0]


def test_a_hostile_title_is_escaped(client, rep, pipeline):
    DealFactory(owner=rep, title="<img src=x onerror=alert(1)>")
    client.force_login(rep)
    for name in ("web:home", "web:forecast_board"):
        html = client.get(reverse(name)).content.decode()
        assert "<img src=x" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
