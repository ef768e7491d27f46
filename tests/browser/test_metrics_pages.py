"""The Dashboard and the Funnel page in a real browser over demo data: every chart draws, a funnel stage
lists its deals, and the screenshots in docs/screenshots come from here."""

from __future__ import annotations

import io

import pytest

from dealflow.accounts.models import User
from dealflow.core import clock
from dealflow.core.periods import period_containing

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_admin(live_db):
    from dealflow.demo.generate import demo_generate

    demo_generate(deals=2500, seed=11, months=24, progress=False, optional_steps=False, stdout=io.StringIO())
    return User.objects.get(username="admin")


def test_the_dashboard_and_the_funnel_page(signed_in_page, screenshot, demo_admin):
    quarter = period_containing(clock.today(), kind="quarter").previous().key
    page = signed_in_page(demo_admin, path=f"/dashboard/?period={quarter}")
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    for chart in (
        "dashboard-funnel",
        "dashboard-flow",
        "dashboard-stages",
        "spark-win-rate",
        "spark-velocity",
    ):
        page.wait_for_selector(f'[data-plotly="{chart}"] .main-svg')
    tiles = page.locator("[data-tile]")
    assert tiles.count() == 6
    assert "%" in page.locator('[data-tile="win_rate"] .stat-value').inner_text()
    assert page.locator("[data-breakdown] tbody tr").count() > 1
    assert page.locator("[data-stage-table] tbody tr").count() >= 5
    # The stale and slipped deals arrive after the numbers (HTMX) and replace the loading line.
    page.wait_for_selector('[data-attention] [data-panel="slipped"]')
    assert page.locator('[data-panel="stale"] h2 .badge').inner_text().replace(",", "").isdigit()
    screenshot(page, "dashboard")

    with page.expect_navigation():
        page.click("text=Open the funnel page")
    page.wait_for_selector('[data-plotly="funnel-chart"] .main-svg')
    screenshot(page, "funnel")
    with page.expect_navigation():
        page.locator('[data-funnel-table] tr[data-step="stage"] th a').nth(2).click()
    heading = page.locator('[data-panel="funnel-deals"] h2').inner_text()
    assert "reached" in heading
    count = int(heading.split()[0].replace(",", ""))
    listed = page.locator("[data-funnel-deals] tbody tr").count()
    assert listed == min(count, 200) and listed > 0
    screenshot(page, "funnel-stage")

    with page.expect_navigation():
        page.locator("[data-funnel-deals] tbody tr a").first.click()
    assert "/deals/" in page.url
    assert errors == []
