"""Playwright (sync API) in Debian's chromium against pytest-django's live server.

Fixtures for every browser test (mark them ``@pytest.mark.browser``):

- ``browser``: one headless /usr/bin/chromium per test session.
- ``page``: a fresh context and page (1280x900, English) for one test, pointed at the live server;
  ``page.goto("/...")`` works with a path because the context has ``base_url``.
- ``signed_in_page(user, language=None)``: a new page already signed in as ``user`` (a session cookie, no
  form), optionally after setting the user's language. Call it twice for two independent sessions.
- ``screenshot(page, name)``: writes docs/screenshots/<name>-1280.png and <name>-390.png.
- ``dialogs``: a list that collects every JavaScript dialog (alert/confirm) fired on pages made here,
  so an XSS test can assert it stays empty.

The live server needs a transactional database, which Django empties (flush) after each test; the root
conftest's pytest_runtest_teardown lifts the DealEvent guard for the flush and then restores the guard and
the reference data of migration deals/0002, so the next test finds the database the migrations made.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse ORM calls here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest
from django.conf import settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def live_db(live_server, transactional_db, monkeypatch):
    """The live server, on a transactional database (the root conftest lifts and restores the DealEvent
    guard and the reference data around Django's flush).

    The server's request threads close their database connection after every request: chromium keeps
    HTTP connections alive, and a thread idling on one with a persistent (CONN_MAX_AGE) connection could
    still hold the test database when the session ends and PostgreSQL is asked to drop it.
    """
    from django.db import connection

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    return live_server


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is missing: run `make browsers` (apt-get install chromium)")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Django keeps connections per context; Playwright's greenlets start a new one, which would orphan
    # (and leave open) a connection made before, and PostgreSQL then refuses to drop the test database.
    connections.close_all()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
        connections.close_all()  # the same, the other way round: nothing opened in here stays open


@pytest.fixture
def dialogs() -> list[str]:
    return []


@pytest.fixture
def new_page(browser, live_db, dialogs) -> Iterator[Callable]:
    """``new_page()`` opens a page in a fresh context (own cookies) at the live server."""
    contexts = []

    def make(**options):
        context = browser.new_context(
            base_url=live_db.url, viewport=DESKTOP, locale=options.pop("locale", "en-GB"), **options
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        return page

    yield make
    # Let requests the page started (HTMX loads after a navigation, an autocomplete still typing) finish
    # before Django empties the database: a live-server thread still reading when the flush runs made
    # SQLite's shared in-memory database answer "table is locked" and the next test start half-full.
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for context in contexts:
        for open_page in context.pages:
            # A page that keeps polling never goes idle: closing the context below stops it.
            with contextlib.suppress(PlaywrightTimeout):
                open_page.wait_for_load_state("networkidle", timeout=5_000)
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def _when_unlocked(write: Callable[[], object], attempts: int = 25) -> None:
    """Run a write of the test's own thread, again while SQLite's shared in-memory database answers "table is
    locked": an earlier page of the same test may still have a request in the live server's thread (an HTMX
    load after a navigation), and shared-cache table locks fail at once instead of waiting."""
    import time

    from django.db import OperationalError

    for attempt in range(attempts):
        try:
            write()
            return
        except OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.2)


@pytest.fixture
def when_unlocked() -> Callable[[Callable[[], object]], None]:
    """``when_unlocked(write)``: a write of the test's own thread while pages poll (see _when_unlocked)."""
    return _when_unlocked


@pytest.fixture
def signed_in_page(new_page, live_db) -> Callable:
    """``signed_in_page(user, language="nl")`` returns a page whose session belongs to ``user``."""
    from django.test import Client

    from dealflow.accounts.services import user_language_set

    def make(user, language: str | None = None, path: str | None = None):
        if language:
            _when_unlocked(lambda: user_language_set(user=user, language=language))
        client = Client()
        _when_unlocked(lambda: client.force_login(user))
        page = new_page()
        page.context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_db.url,
                }
            ]
        )
        if path:
            page.goto(path)
        return page

    return make


@pytest.fixture
def screenshot() -> Callable:
    """``screenshot(page, "board")`` saves the page at 1280 px and at a 390 px phone width."""

    def take(page, name: str) -> list[Path]:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        original = page.viewport_size
        paths = []
        for size in (DESKTOP, PHONE):
            page.set_viewport_size(size)
            page.wait_for_timeout(150)  # let the layout settle after the resize
            path = SCREENSHOTS / f"{name}-{size['width']}.png"
            page.screenshot(path=str(path), full_page=False)
            paths.append(path)
        if original:
            page.set_viewport_size(original)
        return paths

    return take
