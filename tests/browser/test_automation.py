"""Automation and notifications in a real browser: a rule made on its page creates a follow-up when a deal
enters Proposal; an @mention rings the bell; the calendar feed's URL serves an .ics icalendar parses.

The worker's jobs (dispatch, watch) are called directly where the worker would run them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from icalendar import Calendar

from dealflow.automation.dispatch import dispatch_pass
from dealflow.automation.models import Rule
from dealflow.deals.models import Activity
from dealflow.deals.tests.factories import DealFactory
from dealflow.notifications.watch import watch_pass

pytestmark = pytest.mark.browser


def test_a_rule_creates_a_follow_up_when_a_deal_enters_proposal(signed_in_page, admin_user, rep, pipeline):
    deal = DealFactory(title="Acme rollout", owner=rep, amount=Decimal("12000"), pipeline=pipeline)
    page = signed_in_page(admin_user, path="/automation/rules/")
    page.goto("/automation/rules/new/", timeout=60_000)  # the first form render compiles its templates
    page.fill("#id_name", "Chase proposals")
    page.select_option("#id_trigger", "stage_entered")
    page.select_option("#id_stage", label="Sales: Proposal")
    page.select_option("#id_action", "create_activity")
    page.fill("#id_subject", "Chase the proposal")
    page.fill("#id_due_in_days", "3")
    page.click("[data-dry-run]")
    result = page.locator("[data-dry-run-result]")
    assert "would have fired 0 times" in result.inner_text()
    page.click("[data-save-rule]")
    page.wait_for_url("**/automation/rules/*/")
    assert Rule.objects.get().stage.name == "Proposal"

    rep_page = signed_in_page(rep, path=f"/deals/{deal.pk}/")
    rep_page.click(".stage-step[data-stage=Proposal] button")
    rep_page.locator(".stage-step.is-current[data-stage=Proposal]").wait_for()
    assert dispatch_pass().runs == 1  # what `dealflow worker` does every few seconds
    rep_page.reload()
    planned = rep_page.locator(".activity-list")
    assert "Chase the proposal" in planned.inner_text()
    assert (
        "Chase proposals: Created the activity “Chase the proposal”"
        in rep_page.locator(".timeline").inner_text()
    )
    assert Activity.objects.get(deal=deal, subject="Chase the proposal").owner == rep


def test_a_mention_rings_the_bell(signed_in_page, rep, manager, pipeline):
    deal = DealFactory(title="Fleet renewal", owner=rep, pipeline=pipeline)
    watch_pass()  # the watch has started before the note is written
    page = signed_in_page(rep, path=f"/deals/{deal.pk}/")
    page.select_option("#id_kind", "note")
    page.fill("#id_subject", "Discount")
    page.fill("#id_notes", "@manager can you approve 10%?")
    page.click("[data-action=add-activity]")
    page.locator(".timeline", has_text="Discount").wait_for()
    watch_pass()  # what `dealflow worker` does on its tick

    manager_page = signed_in_page(manager, path="/")
    count = manager_page.locator("[data-bell-count]")
    count.wait_for()
    assert count.inner_text() == "1"
    manager_page.click("[data-bell]")
    manager_page.wait_for_url("**/notifications/")
    item = manager_page.locator("[data-notifications] .is-unread").first
    assert "Rita Rep mentioned you on “Fleet renewal”" in item.inner_text()
    assert "can you approve 10%?" in item.inner_text()
    item.locator("button").click()
    manager_page.wait_for_url(f"**/deals/{deal.pk}/")


def test_the_calendar_feed_parses_with_icalendar(signed_in_page, rep, pipeline):
    import datetime as dt

    from django.utils import timezone

    from dealflow.deals.services import activity_create

    deal = DealFactory(title="Acme rollout", owner=rep, pipeline=pipeline)
    activity_create(
        owner=rep, subject="Demo", kind="meeting", deal=deal, due_at=timezone.now() + dt.timedelta(days=2)
    )
    page = signed_in_page(rep, path="/notifications/settings/")
    page.click("[data-calendar-feed] button[value=feed_create]")
    url = page.locator("[data-feed-url]").input_value()
    assert "/calendar/cal_" in url
    response = page.request.get(url)
    assert response.status == 200
    calendar = Calendar.from_ical(response.body())
    summaries = [str(event["summary"]) for event in calendar.walk("VEVENT")]
    assert summaries == ["Meeting: Demo (Acme rollout)"]
