"""/api/docs draws Swagger UI from files Dealflow serves itself, under the app's own CSP (no CDN)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser


def test_the_api_documentation_renders_offline_under_the_csp(signed_in_page, rep, live_db):
    page = signed_in_page(rep)
    hosts, errors = set(), []
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto("/api/docs")
    # Swagger UI reads and draws the whole schema (over 100 paths): give it time on a loaded machine.
    page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)
    assert "Dealflow API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(
        ".swagger-ui .opblock", timeout=60_000
    )  # the operations, read from /api/openapi.json
    assert page.locator(".swagger-ui .opblock").count() > 20
    assert hosts == {urlsplit(live_db.url).netloc}
    assert [error for error in errors if "Content Security Policy" in error] == []
