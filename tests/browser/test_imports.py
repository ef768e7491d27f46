"""The import wizard in a real browser: upload, answer the preview's question, import, see the outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealflow.deals.models import Deal, Stage

pytestmark = pytest.mark.browser

FILES = Path(__file__).resolve().parents[2] / "src" / "dealflow" / "importers" / "tests" / "files"


def test_upload_answer_and_import_a_hubspot_export(
    signed_in_page, admin_user, rep, pipeline, screenshot, dialogs
):
    page = signed_in_page(admin_user, path="/imports/")
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.set_input_files("#import-file", str(FILES / "hubspot_deals.csv"))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url("**/imports/*/")

    question = page.locator("[data-question='stages:Contract Sent']")
    question.wait_for()
    assert page.locator("[data-import-counts] tr[data-entity=deals] td").first.inner_text() == "3"
    screenshot(page, "import-preview")
    question.select_option("create")
    page.locator("[data-recheck]").click()
    page.locator("[data-import-confirm]").wait_for()
    assert page.locator("[data-import-counts] tr[data-entity=deals] td").first.inner_text() == "4"
    assert Deal.objects.count() == 0

    page.get_by_role("button", name="Import now").click()
    page.locator("[data-import-done]").wait_for()
    assert page.locator("[data-created=deals]").inner_text() == "4"
    assert Deal.objects.filter(external_source="hubspot").count() == 4
    assert Stage.objects.filter(name="Contract Sent").exists()
    assert not dialogs and not errors
