"""The review pages with the personas: list and start, the review, deal cards, decisions, what-if, report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from dealflow.deals import services as deal_services
from dealflow.deals.models import DealEvent
from dealflow.deals.tests.factories import DealFactory
from dealflow.forecasting import calculations as forecast_calc
from dealflow.reviews import calculations, selectors, services
from dealflow.reviews.models import DecisionStatus, PipelineReview, ReviewDecision

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(team_deals, manager, team, frozen_now) -> PipelineReview:
    return services.review_start(by=manager, team=team, period="2026-11")


def test_list_offers_the_start_form_to_managers_only(client, manager, rep, review):
    client.force_login(manager)
    page = client.get(reverse("web:review_list"))
    assert page.status_code == 200
    assert b"data-review-start" in page.content and f'data-review="{review.pk}"'.encode() in page.content
    client.force_login(rep)
    page = client.get(reverse("web:review_list"))
    assert (
        b"data-review-start" not in page.content and f'data-review="{review.pk}"'.encode() not in page.content
    )


def test_start_from_the_form_opens_the_review(client, manager, team, team_deals, frozen_now):
    client.force_login(manager)
    response = client.post(
        reverse("web:review_start"), {"team": team.pk, "period": "2026-11", "recurring": "1"}
    )
    review = PipelineReview.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "web:review_detail", args=[review.pk]
    )
    assert review.series is not None
    again = client.post(reverse("web:review_start"), {"team": team.pk, "period": "2026-11"}, follow=True)
    assert b"still in progress" in again.content  # a form error, shown as a message


def test_start_refuses_a_team_that_is_not_yours(client, outsider, team, team_deals, frozen_now):
    client.force_login(outsider)
    assert client.post(reverse("web:review_start"), {"team": team.pk, "period": "2026-11"}).status_code == 404


def test_review_page_shows_every_step(client, manager, review, team_deals):
    client.force_login(manager)
    page = client.get(reverse("web:review_detail", args=[review.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    for marker in (
        "data-forecast",
        "data-categories",
        "data-stages",
        "data-no-waterfall",
        "data-bottlenecks",
        'data-agenda="close"',
        'data-agenda="rescue"',
        "data-quality",
        "data-decisions",
        "data-finish",
    ):
        assert marker in text, marker
    assert "Negotiation deal" in text and "Outsider deal" not in text
    assert "no next step" in text  # a reason in words


def test_review_pages_query_counts_do_not_grow_with_deals(
    client, manager, rep, team, review, team_deals, frozen_now, django_assert_num_queries
):
    client.force_login(manager)
    services.review_decision_record(review=review, deal_id=team_deals.proposal.pk, kind="keep", by=manager)
    # session, user, roles, review + snapshot, decisions, the two lists (and their lengths when a list is cut
    # at 20), totals per stage, data quality, owners, titles, totals per category: nothing per deal
    with django_assert_num_queries(13):
        assert client.get(reverse("web:review_detail", args=[review.pk])).status_code == 200
    # the deal card: its row, and the agenda's two top-20 lists ranked by the database (not every row)
    with django_assert_num_queries(17):
        assert (
            client.get(reverse("web:review_deal", args=[review.pk, team_deals.proposal.pk])).status_code
            == 200
        )
    services.review_finish(review=review, by=manager)
    for number in range(12):
        DealFactory(owner=rep, amount=Decimal(100 + number), expected_close_on=dt.date(2026, 11, 27))
    bigger = services.review_start(by=manager, team=team, period="2026-11")
    for row in bigger.deals.all()[:5]:
        services.review_decision_record(review=bigger, deal_id=row.deal_id, kind="keep", by=manager)
    with django_assert_num_queries(13):
        assert client.get(reverse("web:review_detail", args=[bigger.pk])).status_code == 200
    # one earlier review holds the deal now: its rows and decisions add two queries
    with django_assert_num_queries(19):
        assert (
            client.get(reverse("web:review_deal", args=[bigger.pk, team_deals.proposal.pk])).status_code
            == 200
        )


@pytest.mark.parametrize("persona", ["rep", "outsider", "analyst", "rep2"])
def test_other_personas_get_404_everywhere(client, request, review, team_deals, persona):
    client.force_login(request.getfixturevalue(persona))
    deal = team_deals.proposal.pk
    for url in (
        reverse("web:review_detail", args=[review.pk]),
        reverse("web:review_deal", args=[review.pk, deal]),
        reverse("web:review_report", args=[review.pk]),
        reverse("web:review_export", args=[review.pk, "md"]),
        reverse("web:review_what_if", args=[review.pk, deal]),
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        reverse("web:review_decide", args=[review.pk, deal]),
        reverse("web:review_bulk", args=[review.pk]),
        reverse("web:review_finish", args=[review.pk]),
    ):
        assert client.post(url, {"kind": "keep", "deal": deal}).status_code == 404, url
    assert client.get(reverse("web:review_deal_history", args=[deal])).status_code == 404


def test_deal_card_walks_the_agenda(client, manager, review, team_deals):
    client.force_login(manager)
    # Agenda: close this period (Negotiation 2,600 expected, Proposal 450), then rescue by expected value.
    first = client.get(reverse("web:review_deal", args=[review.pk, team_deals.negotiation.pk]))
    assert first.status_code == 200
    card = first.context["card"]
    assert (card.position, card.previous_id, card.next_id) == (1, None, team_deals.proposal.pk)
    assert card.stage_definition.startswith("Open points on price")
    text = first.content.decode()
    assert "data-key-next" in text and "data-key-previous" not in text and "data-decision-form" in text


def test_decide_and_apply_from_the_card(client, manager, review, team_deals):
    client.force_login(manager)
    url = reverse("web:review_deal", args=[review.pk, team_deals.proposal.pk])
    response = client.post(
        reverse("web:review_decide", args=[review.pk, team_deals.proposal.pk]),
        {
            "kind": "push_close_date",
            "expected_close_on": "2026-12-12",
            "days": "",
            "stage_id": "3",
            "note": "After the board meeting",
            "apply": "1",
            "next": url,
        },
    )
    assert response.status_code == 302 and response["Location"] == url
    event = DealEvent.objects.get(origin=review.origin)
    assert (event.deal_id, event.to_value, event.note) == (
        team_deals.proposal.pk,
        "2026-12-12",
        "After the board meeting",
    )
    bad = client.post(
        reverse("web:review_decide", args=[review.pk, team_deals.proposal.pk]),
        {"kind": "change_amount", "amount": "lots", "next": url},
        follow=True,
    )
    assert b"Give an amount" in bad.content


def test_record_then_apply_a_decision(client, manager, review, team_deals):
    client.force_login(manager)
    client.post(
        reverse("web:review_decide", args=[review.pk, team_deals.closing.pk]),
        {"kind": "change_probability", "probability": "60", "apply": "0"},
    )
    decision = ReviewDecision.objects.get()
    assert decision.status == DecisionStatus.PENDING
    client.post(reverse("web:review_decision_apply", args=[review.pk, decision.pk]))
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.APPLIED
    team_deals.closing.refresh_from_db()
    assert team_deals.closing.probability_override == 60


def test_bulk_push_from_the_review_page(client, manager, review, team_deals):
    client.force_login(manager)
    deals = [team_deals.proposal, team_deals.negotiation]
    response = client.post(
        reverse("web:review_bulk", args=[review.pk]),
        {"deal": [deal.pk for deal in deals], "kind": "push_close_date", "days": "7", "note": "Freeze"},
    )
    assert response.status_code == 302
    for deal, old in zip(deals, [dt.date(2026, 11, 28), dt.date(2026, 11, 20)], strict=True):
        deal.refresh_from_db()
        assert deal.expected_close_on == old + dt.timedelta(days=7)
    assert DealEvent.objects.filter(origin=review.origin).count() == 2


def test_what_if_shows_the_effect_before_applying(client, manager, review, team_deals):
    client.force_login(manager)
    url = reverse("web:review_what_if", args=[review.pk, team_deals.negotiation.pk])
    page = client.get(url, {"expected_close_on": "2026-12-10"}, headers={"HX-Request": "true"})
    result = page.context["result"]
    assert result.before["mean"] == review.snapshot.mean_minor
    assert result.expected_change_minor == -260_000  # 4,000 x 65 % leaves November
    assert result.after["mean"] < result.before["mean"]
    assert b"data-what-if-result" in page.content
    assert not DealEvent.objects.filter(origin=review.origin).exists()
    error = client.get(url, {"probability": "150"})
    assert b"form-error" in error.content


def test_what_if_reads_one_row_once_the_review_is_simulated(
    client, manager, review, team_deals, django_assert_num_queries
):
    """Issue #19: the what-if read every frozen row and simulated them twice (0.5-0.6 s at 1M deals). It
    simulates a review once per process and then reads the changed row alone; the numbers are those of
    the whole simulation run again with the change."""
    client.force_login(manager)
    url = reverse("web:review_what_if", args=[review.pk, team_deals.proposal.pk])
    # session, user, the user's teams, the review twice (its currency, then the gate), the row, the frozen
    # columns of every row (once: the simulation is kept)
    with django_assert_num_queries(7):
        first = client.get(url, {"probability": "90", "amount": "1500"}).context["result"]
    with django_assert_num_queries(6):  # the review's draws are kept: its row alone
        again = client.get(url, {"probability": "90", "amount": "1500"}).context["result"]
    assert (again.before, again.after) == (first.before, first.after)
    rows = list(selectors.review_rows(review=review))
    changed = [
        (first.amount_minor, first.p_period)
        if row.deal_id == team_deals.proposal.pk
        else (row.amount_minor, row.p_period)
        for row in rows
    ]
    snapshot = review.snapshot
    whole = forecast_calc.summarise(
        calculations.simulate_rows(
            amounts=[amount for amount, _p in changed],
            p_period=[p for _amount, p in changed],
            new_samples=snapshot.new_samples,
            draws=snapshot.draws,
            seed=snapshot.seed,
        ),
        closed=float(snapshot.closed_minor),
        quota=snapshot.quota_minor,
    )
    assert first.after["mean"] == pytest.approx(whole.mean, abs=1)
    assert (first.after["p10"], first.after["p90"]) == pytest.approx((whole.p10, whole.p90), abs=1)
    assert first.after["mean"] > first.before["mean"] == pytest.approx(snapshot.mean_minor, abs=1)


def test_the_report_reads_the_top_of_each_list_and_points_to_every_row(
    client, manager, rep, team, review, team_deals, frozen_now, django_assert_num_queries
):
    """Issue #19: the report loaded every frozen row twice over (4 s at 1M deals) to print totals,
    decisions and the top 20 of each list. Its queries no longer grow with the deals; it says how long
    each list is and links the CSV, which streams every row."""
    client.force_login(manager)
    services.review_finish(review=review, by=manager)
    for number in range(25):
        DealFactory(owner=rep, amount=Decimal(100 + number), expected_close_on=dt.date(2026, 11, 27))
    bigger = services.review_start(by=manager, team=team, period="2026-11")
    services.review_decision_record(
        review=bigger, deal_id=team_deals.proposal.pk, kind="keep", by=manager, apply=True
    )
    url = reverse("web:review_report", args=[bigger.pk])
    # session, user, the user's teams, review + snapshot, decisions, the two lists and their two lengths,
    # totals per stage and per category, quality, owners, titles, adjustments, tasks: nothing per deal
    with django_assert_num_queries(16):
        page = client.get(url)
    text = page.content.decode()
    assert 'data-ranked="close"' in text and text.count("<li>", text.index('data-ranked="close"')) >= 20
    assert "20 of 27" in text  # 25 new deals and two of the fixture's are dated in November
    csv_url = reverse("web:review_export", args=[bigger.pk, "csv"])
    assert f'href="{csv_url}"' in text and "Every one of the review's 29 deals" in text
    lines = b"".join(client.get(csv_url).streaming_content).decode().splitlines()
    assert len(lines) == 1 + 29
    manager.language = "nl"
    manager.save()
    dutch = client.get(url).content.decode()
    assert "20 van 27" in dutch and "CSV-export" in dutch


def test_finish_then_report_and_exports(client, manager, review, team_deals):
    client.force_login(manager)
    client.post(
        reverse("web:review_decide", args=[review.pk, team_deals.negotiation.pk]),
        {
            "kind": "move_stage",
            "stage_id": str(team_deals.closing.stage_id),
            "note": "Signed LOI",
            "apply": "1",
        },
    )
    response = client.post(reverse("web:review_finish", args=[review.pk]), {"summary": "Good week."})
    assert response["Location"] == reverse("web:review_report", args=[review.pk])
    report = client.get(response["Location"])
    text = report.content.decode()
    assert report.status_code == 200 and "Good week." in text and "stage Negotiation → Closing" in text
    assert "Signed LOI" in text and "Mona Manager" in text
    markdown = client.get(reverse("web:review_export", args=[review.pk, "md"]))
    assert markdown["Content-Disposition"] == f'attachment; filename="review-{review.pk}.md"'
    assert "## Decisions" in markdown.content.decode() and "Move stage: Closing" in markdown.content.decode()
    csv_response = client.get(reverse("web:review_export", args=[review.pk, "csv"]))
    assert csv_response.streaming and csv_response["Content-Type"] == "text/csv; charset=utf-8"
    csv_text = b"".join(csv_response.streaming_content).decode()
    assert csv_text.splitlines()[0].startswith("deal_id,title,owner,stage,amount")
    assert len(csv_text.splitlines()) == 1 + 4
    assert client.get(reverse("web:review_export", args=[review.pk, "pdf"])).status_code == 404


def test_deal_history_across_reviews(client, manager, review, team_deals, frozen_now):
    services.review_decision_record(
        review=review, deal_id=team_deals.proposal.pk, kind="keep", by=manager, note="Week one: on track"
    )
    services.review_finish(review=review, by=manager)
    frozen_now.shift(dt.timedelta(days=7))
    second = services.review_start(by=manager, team=review.team, period="2026-11")
    services.review_decision_record(
        review=second,
        deal_id=team_deals.proposal.pk,
        kind="keep",
        by=manager,
        note="Week two: still on track",
    )
    client.force_login(manager)
    page = client.get(reverse("web:review_deal_history", args=[team_deals.proposal.pk]))
    text = page.content.decode()
    assert text.index("Week two") < text.index("Week one")
    card = client.get(reverse("web:review_deal", args=[second.pk, team_deals.proposal.pk]))
    assert "Week one: on track" in card.content.decode()


def test_waterfall_deals_load_on_demand_and_stay_in_the_report(
    client, manager, outsider, team, review, team_deals, frozen_now
):
    """Issue #19: the page listed every deal behind every bar (hundreds of KB for a company review); it now
    loads a bar's deals when the bar is opened, and the printable report still lists them all."""
    services.review_finish(review=review, by=manager)
    frozen_now.shift(dt.timedelta(days=7))
    deal_services.deal_update(
        deal=team_deals.negotiation, by=manager, data={"expected_close_on": "2027-01-10"}
    )
    second = services.review_start(by=manager, team=team, period="2026-11")
    assert [item["title"] for item in second.snapshot.waterfall["items"]["pushed_out"]] == [
        "Negotiation deal"
    ]
    client.force_login(manager)
    page = client.get(reverse("web:review_detail", args=[second.pk])).content.decode()
    items_url = reverse("web:review_waterfall_items", args=[second.pk, "pushed_out"])
    assert 'data-waterfall-items="pushed_out"' in page and f'hx-get="{items_url}"' in page
    assert "Negotiation deal:" not in page
    part = client.get(items_url)
    assert part.status_code == 200 and "<li>Negotiation deal:" in part.content.decode()
    assert "Negotiation deal:" in client.get(reverse("web:review_report", args=[second.pk])).content.decode()
    assert client.get(reverse("web:review_waterfall_items", args=[second.pk, "nonsense"])).status_code == 404
    client.force_login(outsider)
    assert client.get(items_url).status_code == 404


def test_every_deal_on_the_lists_comes_a_page_at_a_time(client, manager, review, team_deals, monkeypatch):
    """The lists' "every deal" view pages (one page of both lists stays small at any scope): ranks go on
    across pages, the old ?all=1 link lands on page 1, and a page that is not a whole number is a 400."""
    from dealflow.reviews.selectors import workspace

    monkeypatch.setattr(workspace, "AGENDA_PAGE", 1)
    everything = selectors.review_workspace_for_user(review_id=review.pk, user=manager, show_all=True)
    longest = max(everything.close_total, everything.rescue_total)
    assert longest >= 2
    client.force_login(manager)
    url = reverse("web:review_detail", args=[review.pk])
    first = client.get(url, {"page": "1"}).content.decode()
    assert "data-agenda-pager" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert f"Page 1 of {longest}" in first
    second = client.get(url, {"page": "2"}).content.decode()
    assert 'rel="prev"' in second and '<td class="num">2</td>' in second
    rescue_second = everything.rescue_list[1].row.title if everything.rescue_total >= 2 else None
    close_second = everything.close_list[1].row.title if everything.close_total >= 2 else None
    assert any(title and title in second for title in (rescue_second, close_second))
    last = client.get(url, {"page": str(longest)}).content.decode()
    assert 'rel="next"' not in last
    top = client.get(url).content.decode()
    assert "data-agenda-pager" not in top and "?page=1#agenda" in top
    old = client.get(url, {"all": "1"})
    assert old.status_code == 302 and old["Location"].endswith("?page=1#agenda")
    for bad in ("0", "x", "²"):
        assert client.get(url, {"page": bad}).status_code == 400


def test_a_waterfall_bar_lists_its_largest_deals_and_says_what_is_left(
    client, manager, team, review, team_deals, frozen_now, monkeypatch
):
    """A bar of a company review can hold thousands of deals: the page and the report list the largest
    (WATERFALL_SHOWN), say how many more and what they add up to, and link a CSV of every one."""
    from dealflow.reviews.calculations import waterfalls

    services.review_finish(review=review, by=manager)
    frozen_now.shift(dt.timedelta(days=7))
    second = services.review_start(by=manager, team=team, period="2026-11")
    end = second.snapshot.waterfall["items"]["end"]
    assert len(end) >= 2
    ordered = sorted(end, key=lambda item: (-abs(item["amount_minor"]), item["title"]))
    monkeypatch.setattr(waterfalls, "WATERFALL_SHOWN", 1)
    client.force_login(manager)
    url = reverse("web:review_waterfall_items", args=[second.pk, "end"])
    part = client.get(url).content.decode()
    assert part.count("<li>") == 1 and f"<li>{ordered[0]['title']}:" in part
    rest = sum(item["amount_minor"] for item in ordered[1:]) // 100
    assert f"and {len(end) - 1} more deal" in part and f"{rest:,}" in part
    assert f'href="{url}?format=csv"' in part
    report = client.get(reverse("web:review_report", args=[second.pk])).content.decode()
    assert "data-waterfall-rest" in report
    download = client.get(url, {"format": "csv"})
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert lines[0].startswith("deal_id,title,amount")
    assert sorted(int(line.split(",")[0]) for line in lines[1:]) == sorted(item["deal_id"] for item in end)
    assert client.get(url, {"format": "xml"}).status_code == 400


def test_bar_items_keeps_the_largest_and_counts_the_rest():
    items = [
        {"deal_id": 1, "title": "B", "amount_minor": 500},
        {"deal_id": 2, "title": "A", "amount_minor": -700},
        {"deal_id": 3, "title": "C", "amount_minor": 500},
        {"deal_id": 4, "title": "D", "amount_minor": 100},
    ]
    bar = calculations.bar_items(items, limit=2)
    assert [item["deal_id"] for item in bar.shown] == [2, 1]  # |-700| first, then 500 by title
    assert (bar.count, bar.rest_count, bar.rest_amount_minor) == (4, 2, 600)
    assert calculations.bar_items([], limit=2) == calculations.BarItems([], 0, 0, 0)
