"""The board in a real browser: drag and drop, Won/Lost, the Dutch board, and a hostile title."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dealflow.deals.models import DealEvent, EventKind
from dealflow.deals.tests.factories import DealFactory, stage_named

pytestmark = pytest.mark.browser


def header(page, stage):
    return page.locator(f"#column-header-{stage.pk}")


def test_drag_a_deal_to_the_next_stage_updates_both_totals(signed_in_page, rep, pipeline):
    qualification, needs = stage_named("Qualification"), stage_named("Needs analysis")
    deal = DealFactory(owner=rep, title="Acme renewal", amount=Decimal("1234.56"))
    DealFactory(owner=rep, title="Globex pilot", amount=Decimal("1000.00"))
    page = signed_in_page(rep, path="/")
    assert header(page, qualification).locator("[data-count]").inner_text() == "2"
    assert header(page, qualification).locator("[data-total]").inner_text() == "€2,235"
    assert header(page, needs).locator("[data-count]").inner_text() == "0"

    page.drag_and_drop(f"#deal-{deal.pk}", f"#cards-{needs.pk}")

    page.wait_for_selector(f"#cards-{needs.pk} #deal-{deal.pk}")
    assert header(page, qualification).locator("[data-count]").inner_text() == "1"
    assert header(page, qualification).locator("[data-total]").inner_text() == "€1,000"
    assert header(page, needs).locator("[data-count]").inner_text() == "1"
    assert header(page, needs).locator("[data-total]").inner_text() == "€1,235"
    # Needs analysis weighs 25 %: 1,234.56 x 0.25 = 308.64
    assert header(page, needs).locator("[data-weighted]").inner_text() == "€309"
    event = DealEvent.objects.filter(deal=deal, kind=EventKind.STAGE_CHANGED).get()
    assert (event.from_stage, event.to_stage, event.origin, event.actor) == (qualification, needs, "web", rep)
    with page.expect_navigation():
        page.click(f"#deal-{deal.pk} .deal-title")  # the deal page shows the move in its timeline
    assert page.get_by_text("Stage changed from Qualification to Needs analysis").is_visible()


def test_move_menu_and_lost_with_a_reason(signed_in_page, rep, pipeline):
    qualification = stage_named("Qualification")
    deal = DealFactory(owner=rep, title="Initech", amount=Decimal("500.00"))
    won = DealFactory(owner=rep, title="Hooli", amount=Decimal("700.00"))
    page = signed_in_page(rep, path="/")

    page.click(f"#deal-{won.pk} [data-open-move-menu]")
    page.click("#move-menu [data-move-to=won]")
    page.wait_for_selector(f"#deal-{won.pk}", state="detached")
    assert page.locator(".message-success").inner_text().startswith("“Hooli” is won.")

    page.focus(f"#deal-{deal.pk} [data-open-move-menu]")
    page.keyboard.press("Enter")  # the keyboard path: open the menu, walk it with the arrow keys
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.hasAttribute('data-lost-deal')")
    page.keyboard.press("Enter")
    page.select_option("#lost-reason", label="Price")
    page.fill("#lost-note", "Went with the cheaper offer")
    page.click("#lost-form button[type=submit]")
    page.wait_for_selector(f"#deal-{deal.pk}", state="detached")
    assert header(page, qualification).locator("[data-count]").inner_text() == "0"
    deal.refresh_from_db()
    won.refresh_from_db()
    assert (won.status, deal.status, deal.lost_reason.name, deal.lost_note) == (
        "won",
        "lost",
        "Price",
        "Went with the cheaper offer",
    )


def test_switch_to_dutch_shows_a_dutch_board_with_dutch_formats(signed_in_page, rep, pipeline):
    DealFactory(
        owner=rep, title="Gemeente", amount=Decimal("1234.56"), expected_close_on=dt.date(2099, 11, 26)
    )
    page = signed_in_page(rep, path="/")
    page.click(".user-menu summary")
    with page.expect_navigation():
        page.click("[data-language=nl]")
    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.locator("h1").inner_text().startswith("Bord")
    card = page.locator(".deal-card").first
    assert "€ 1.234,56" in card.inner_text()
    assert "26-11-2099" in card.inner_text()
    assert page.locator(".main-nav").inner_text().startswith("Bord")
    rep.refresh_from_db()
    assert rep.language == "nl"


def test_a_hostile_title_shows_as_text(signed_in_page, rep, pipeline, dialogs):
    DealFactory(owner=rep, title="<img src=x onerror=alert(1)>")
    page = signed_in_page(rep, path="/")
    assert page.locator(".deal-title").first.inner_text() == "<img src=x onerror=alert(1)>"
    assert page.locator(".deal-card img").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_forecast_board_drag_to_another_month(signed_in_page, rep, pipeline):
    today = dt.date.today()
    this_month = today.replace(day=1)
    next_month = (this_month + dt.timedelta(days=32)).replace(day=1)
    deal = DealFactory(owner=rep, title="Umbrella", expected_close_on=this_month.replace(day=15))
    page = signed_in_page(rep, path="/forecast-board/")
    key = f"{next_month:%Y-%m}"
    page.drag_and_drop(f"#deal-{deal.pk}", f"#cards-{key}")
    page.wait_for_selector(f"#cards-{key} #deal-{deal.pk}")
    deal.refresh_from_db()
    assert deal.expected_close_on == next_month.replace(day=15)
    assert DealEvent.objects.filter(deal=deal, kind=EventKind.CLOSE_DATE_CHANGED, origin="web").exists()


def _realistic_board(rep, rep2):
    """A board worth a screenshot: deals in every stage, activities, a rotting deal, a missed close date."""
    from dealflow.contacts.tests.factories import OrganizationFactory
    from dealflow.deals import services

    today = dt.date.today()
    now = dt.datetime.now(tz=dt.UTC)
    rows = [
        ("Fleet telematics rollout", "Qualification", "48000", "EUR", rep, 40, None),
        ("Warehouse scanners", "Qualification", "12500", "EUR", rep2, 12, "today"),
        ("CRM migration", "Qualification", "7800", "USD", rep, 3, "planned"),
        ("Annual support renewal", "Needs analysis", "23000", "EUR", rep, -6, "overdue"),
        ("Data platform pilot", "Needs analysis", "31000", "GBP", rep2, 25, None),
        ("Security audit", "Proposal", "18500", "EUR", rep, 15, "planned"),
        ("Branch network upgrade", "Proposal", "96000", "EUR", rep2, 33, "today"),
        ("Payroll integration", "Negotiation", "27500", "EUR", rep, 9, "planned"),
        ("E-commerce relaunch", "Closing", "64000", "EUR", rep, 4, "today"),
    ]
    for title, stage, amount, currency, owner, close_in, activity in rows:
        deal = DealFactory(
            owner=owner,
            title=title,
            amount=Decimal(amount),
            currency=currency,
            organization=OrganizationFactory(),
            expected_close_on=today + dt.timedelta(days=close_in),
        )
        if stage != "Qualification":
            services.deal_move_to_stage(
                deal=deal, stage=stage_named(stage), by=owner, at=now - dt.timedelta(days=close_in % 30)
            )
        if activity:
            due = {
                "overdue": now - dt.timedelta(days=2),
                "today": now,
                "planned": now + dt.timedelta(days=5),
            }[activity]
            services.activity_create(owner=owner, by=owner, subject="Follow up", deal=deal, due_at=due)


def test_board_screenshots_and_no_console_errors(
    signed_in_page, manager, rep, rep2, pipeline, screenshot, rate_usd
):
    from dealflow.deals.services import exchange_rate_set

    exchange_rate_set(currency="GBP", rate=Decimal("1.17"), valid_from=dt.date(2020, 1, 1))
    _realistic_board(rep, rep2)
    page = signed_in_page(manager)
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/")
    assert page.locator(".deal-card").count() == 9
    assert page.locator(".deal-card.is-rotting").count() >= 1
    assert page.locator(".close-date.is-past").count() == 1
    screenshot(page, "board")
    page.goto("/forecast-board/")
    assert page.locator(".deal-card").count() == 9
    screenshot(page, "forecast-board")
    assert errors == []  # no CSP violation, no script error
