"""Commissions in a real browser: an admin creates a tiered plan, a rep wins a deal and sees the earnings
change, a manager recomputes, approves and exports the payroll; screenshots of earnings, a statement and a
leaderboard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from dealflow.commissions.models import CommissionPlan, Statement
from dealflow.commissions.services import documents, statements
from dealflow.commissions.tests.factories import plan_for, won_deal
from dealflow.core import clock
from dealflow.core.periods import period_containing
from dealflow.deals.tests.factories import DealFactory
from dealflow.forecasting.services import quota_set

pytestmark = pytest.mark.browser


def test_plan_win_earnings_approve_export(signed_in_page, screenshot, admin_user, rep, rep2, manager, team):
    period = period_containing(clock.today(), kind="quarter")
    quota_set(by=manager, period=period.key, amount=Decimal("10000"), user=rep)
    won_deal(rep, "6000", period.start + dt.timedelta(days=3), title="Acme rollout")
    won_deal(rep2, "3000", period.start + dt.timedelta(days=4), title="Globex pilot")
    deal = DealFactory(owner=rep, amount=Decimal("6000"), title="Initech platform")

    admin = signed_in_page(admin_user, path="/commissions/plans/")
    admin.fill("#plan-name", "Tiered AE")
    admin.fill("#plan-base", "0")
    admin.select_option("#plan-mode", "marginal")
    admin.fill("#plan-tiers", "0 : 5\n100 : 10")
    admin.click("[data-plan-form] button[type=submit]")
    admin.wait_for_url("**/commissions/plans/*/")
    admin.select_option("#assign-team", label=team.name)
    admin.fill("#assign-from", "2026-01-01")
    admin.click("[data-assign-form] button")
    admin.locator("text=Team Benelux").wait_for()
    assert CommissionPlan.objects.get(name="Tiered AE").assignments.count() == 1

    page = signed_in_page(rep, path="/commissions/")
    assert page.locator("[data-earnings-total]").inner_text() == "€300.00"  # 6,000 x 5 %
    assert "€4,000.00" in page.locator("[data-next-tier]").inner_text()
    page.goto(f"/deals/{deal.pk}/")
    # 4,000 at 5 % up to the quota, 2,000 at 10 % above it.
    assert "€400.00" in page.locator("[data-what-if]").inner_text()
    page.click("[data-action=won]")
    page.locator("[data-status=won]").wait_for()
    page.goto("/commissions/")
    assert page.locator("[data-earnings-total]").inner_text() == "€700.00"
    screenshot(page, "commissions-earnings")
    page.goto("/commissions/leaderboard/")
    assert page.locator("[data-leaderboard] tbody tr").first.inner_text().startswith("1\tRita Rep")
    screenshot(page, "commissions-leaderboard")

    boss = signed_in_page(manager, path=f"/commissions/statements/?period={period.key}")
    boss.click("[data-recompute]")
    boss.locator("[data-statement-list] a", has_text="Rita Rep").click()
    assert boss.locator("[data-statement-total]").inner_text() == "€700.00"
    screenshot(boss, "commissions-statement")
    boss.click("[data-approve]")
    boss.locator("[data-status]", has_text="Approved").wait_for()
    assert Statement.objects.get(user=rep, period_key=period.key).status == "approved"
    boss.goto(f"/commissions/statements/?period={period.key}")
    with boss.expect_download() as download:
        boss.click("[data-export-csv]")
    content = Path(download.value.path()).read_text(encoding="utf-8")
    assert (
        f"rep,rep@example.com,{period.key},approved,EUR,10000.00,12000.00,120.00,700.00,0.00,700.00"
        in content
    )


def drag_to_won(page, deal) -> None:
    """HTML5 drag with the mouse: the drop zones appear only once a drag has started."""
    page.hover(f"#deal-{deal.pk}")
    page.mouse.down()
    page.mouse.move(600, 500, steps=4)
    page.locator(".drop-zone-won").hover()
    page.mouse.up()


def test_win_celebration_on_the_board_and_switched_off(signed_in_page, rep):
    from dealflow.commissions.services.gamification import preference_set

    deal = DealFactory(owner=rep, title="Party deal", amount=Decimal("500"))
    other = DealFactory(owner=rep, title="Quiet deal", amount=Decimal("500"))
    page = signed_in_page(rep, path="/")
    page.locator("#win-celebration").wait_for(state="attached")
    drag_to_won(page, deal)
    page.locator("#win-celebration").wait_for(state="visible")
    page.locator("#win-celebration").wait_for(state="hidden")  # quick: gone after 1.5 s
    preference_set(user=rep, is_celebration_on=False)
    page.goto("/")
    page.wait_for_load_state("networkidle")
    assert page.locator("#win-celebration").count() == 0
    drag_to_won(page, other)
    page.locator(f"#deal-{other.pk}").wait_for(state="detached")
    assert page.locator("#win-celebration").count() == 0


def test_statement_pdf_shows_progress_while_the_worker_draws_it(
    signed_in_page, rep, monkeypatch, when_unlocked
):
    """No worker has drawn the PDF yet: the link opens a page that says so and polls; once the worker has
    drawn it, the page offers the download, a real PDF from WeasyPrint."""
    period = period_containing(clock.today(), kind="quarter")
    plan_for(rep)
    won_deal(rep, "1000", period.start + dt.timedelta(days=3), title="Acme rollout")
    statement = statements.statement_recompute(user=rep, period=period)
    asked: list[list[int]] = []
    monkeypatch.setattr(documents, "_enqueue", lambda ids: asked.append(list(ids)))  # a queue, no worker yet

    page = signed_in_page(rep, path=f"/commissions/statements/{statement.pk}/")
    page.click(f"a[href='/commissions/statements/{statement.pk}.pdf']")
    page.locator("[data-statement-pdf=waiting]").wait_for()
    assert "Preparing the PDF" in page.locator("#statement-pdf").inner_text()
    assert asked == [[statement.pk]]
    when_unlocked(lambda: documents.statement_pdfs_render(statement_ids=asked[0]))  # the worker's turn
    page.locator("[data-statement-pdf=ready]").wait_for(timeout=10_000)
    with page.expect_download() as download:
        page.click("[data-download]")
    assert download.value.suggested_filename == f"commission-{rep.username}-{period.key}.pdf"
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    assert asked == [[statement.pk]]  # the polls asked nobody again
