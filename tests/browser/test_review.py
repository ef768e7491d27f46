"""A whole pipeline review in a real browser: start it, walk three deals with the keyboard, decide (keep, a
next step, a pushed close date), push two close dates in bulk, finish, and open the report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dealflow.core import clock
from dealflow.core.periods import period_containing
from dealflow.deals.models import Activity, Deal, DealEvent, EventKind
from dealflow.deals.tests.factories import DealFactory, stage_named
from dealflow.reviews.models import DecisionStatus, PipelineReview, ReviewDecision, ReviewStatus

pytestmark = pytest.mark.browser


@pytest.fixture
def team_pipeline(rep, rep2, manager):
    """Four deals dated on the last day of this month, so all four can close in the review's period."""
    last_day = period_containing(clock.today()).end - dt.timedelta(days=1)
    deals = [
        ("Acme rollout", rep, "40000", "Negotiation"),
        ("Globex renewal", rep, "25000", "Closing"),
        ("Initech pilot", rep2, "18000", "Proposal"),
        ("Umbrella upsell", rep2, "6000", "Needs analysis"),
    ]
    return [
        DealFactory(
            title=title,
            owner=owner,
            amount=Decimal(amount),
            stage=stage_named(stage),
            expected_close_on=last_day,
            organization=None,
        )
        for title, owner, amount, stage in deals
    ]


def test_a_whole_review_with_the_keyboard(signed_in_page, manager, team_pipeline, screenshot):
    errors: list[str] = []
    page = signed_in_page(manager, path="/reviews/")
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    # Start: the form offers the manager's team and this month.
    page.click("[data-review-start] button[type=submit]")
    page.wait_for_url("**/reviews/*/")
    review = PipelineReview.objects.get()
    assert "Review of Benelux" in page.locator("[data-review-title]").inner_text()
    close_rows = page.locator("[data-agenda=close] tbody tr")
    assert close_rows.count() == 4
    # Close this period, by expected value within it: 25,000 x 85 %, 40,000 x 65 %, 18,000 x 45 %, 6,000 x 25 %
    assert [close_rows.nth(index).get_attribute("data-deal") for index in range(4)] == [
        str(deal.pk) for deal in (team_pipeline[0], team_pipeline[1], team_pipeline[2], team_pipeline[3])
    ]
    screenshot(page, "review")

    # Walk the agenda from its first deal.
    page.click("[data-walk]")
    page.wait_for_url("**/deals/*/?list=agenda")
    assert page.locator("[data-position]").inner_text().startswith("Deal 1 of 4")
    assert page.locator("[data-card-title]").inner_text() == "Acme rollout"

    # Deal 1: "1" picks "Keep as is" and puts the cursor in the note; Ctrl+Enter records and applies.
    page.keyboard.press("1")
    page.keyboard.type("On track, signature expected Friday")
    page.keyboard.press("Control+Enter")
    page.locator("[data-card-decisions] li[data-kind=keep]").wait_for()
    screenshot(page, "review-card")

    # Deal 2 with "j": "9" picks "Add next step" and focuses its text field.
    page.keyboard.press("j")
    page.wait_for_function("document.querySelector('[data-card-title]').textContent === 'Globex renewal'")
    page.keyboard.press("9")
    page.keyboard.type("Call the CFO about the budget")
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    page.locator("[data-card-decisions] li[data-kind=add_next_step]").wait_for()

    # Deal 3 with the arrow key: "2" picks "Push close date"; the date field gets the focus.
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.querySelector('[data-card-title]').textContent === 'Initech pilot'")
    page.keyboard.press("2")
    assert page.evaluate("document.activeElement.name") == "expected_close_on"
    page.fill("#d-close", "2031-01-15")
    page.fill("#d-note", "Budget moves to next year")
    page.keyboard.press("Control+Enter")
    page.locator("[data-card-decisions] li[data-kind=push_close_date]").wait_for()
    # Back with "k".
    page.keyboard.press("k")
    page.wait_for_function("document.querySelector('[data-card-title]').textContent === 'Globex renewal'")

    acme, globex, initech, umbrella = team_pipeline
    decisions = {decision.deal_id: decision for decision in ReviewDecision.objects.filter(review=review)}
    assert (
        decisions[acme.pk].kind == "keep" and decisions[acme.pk].note == "On track, signature expected Friday"
    )
    assert (
        decisions[globex.pk].kind == "add_next_step" and decisions[globex.pk].status == DecisionStatus.APPLIED
    )
    assert (
        Activity.objects.get(pk=decisions[globex.pk].activity_id).subject == "Call the CFO about the budget"
    )
    initech.refresh_from_db()
    assert initech.expected_close_on == dt.date(2031, 1, 15)

    # Bulk: tick Acme and Umbrella in "Close this period" and push both by 7 days.
    page.click("text=Back to the review")
    page.wait_for_url(f"**/reviews/{review.pk}/#agenda")
    for deal in (acme, umbrella):
        page.check(f"[data-agenda=close] tr[data-deal='{deal.pk}'] input[name=deal]")
    page.select_option("#bulk-kind", "push_close_date")
    page.fill("#bulk-days", "7")
    page.fill("#bulk-note", "Month-end freeze")
    page.click("[data-bulk-submit]")
    page.locator(".message-success").wait_for()
    old = period_containing(clock.today()).end - dt.timedelta(days=1)
    for deal in (acme, umbrella):
        deal.refresh_from_db()
        assert deal.expected_close_on == old + dt.timedelta(days=7)
    pushes = DealEvent.objects.filter(origin=f"review:{review.pk}", kind=EventKind.CLOSE_DATE_CHANGED)
    assert pushes.count() == 3 and set(pushes.values_list("note", flat=True)) == {
        "Budget moves to next year",
        "Month-end freeze",
    }

    # Finish with a summary: the report opens.
    page.fill("#finish-summary", "Two deals slip a week; Globex needs the CFO.")
    page.click("[data-finish]")
    page.wait_for_url(f"**/reviews/{review.pk}/report/")
    review.refresh_from_db()
    assert review.status == ReviewStatus.FINISHED
    assert "Pipeline review: Benelux" in page.locator("[data-report-title]").inner_text()
    assert "Two deals slip a week" in page.locator("[data-summary]").inner_text()
    adjustments = page.locator("[data-adjustments]").inner_text()
    assert (
        "Month-end freeze" in adjustments and "Mona Manager" in adjustments and "Call the CFO" in adjustments
    )
    assert page.locator("[data-decisions] tbody tr").count() == 5
    assert page.locator("[data-export=md]").get_attribute("href").endswith("/report.md")
    screenshot(page, "review-report")
    # The print stylesheet hides the navigation and the export buttons when printed (PDF).
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible() and not page.locator(".page-actions").is_visible()
    page.emulate_media(media="screen")
    assert Deal.objects.filter(expected_close_on__gt=old).count() == 3
    assert errors == []
