"""Every page in Dutch, as each persona, on demo data: no English-formatted number, no raw key.

The demo (a few hundred deals with their history, forecasts, reviews and pulse surveys) fills the pages;
each page that answers GET without a path parameter is read, plus one record page per kind. The visible
text (scripts, styles and tags removed) is scanned for what an English format leaves behind: a thousands
comma (``393,819``), a decimal point (``27.6 dagen``, ``9.7 %``) and snake_case keys (``run_rate``).
Numbers reach pages through the one formatting helper (``dealflow.core.formatting``).
"""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
import time_machine
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

TODAY = dt.date(2026, 6, 30)
PERSONAS = ("admin", "manager", "rep", "analyst")
ENGLISH = {
    "thousands comma": re.compile(r"(?<![\d.,])[1-9]\d{0,2}(?:,\d{3})+(?![\d,])"),
    "decimal point": re.compile(r"(?<![\d.:/\w-])\d+\.\d{1,2}(?![\d.])"),
    "raw key": re.compile(r"\b[a-z]+_[a-z_]+\b"),
}
# Text that is not a number a person reads: e-mail addresses, version strings, quoted samples of syntax.
ALLOWED = re.compile(r"\S+@\S+|v\d+\.\d+|\bP\d{2}\b|“[^”]*”")
# Pages that are not read by a person (files, fragments, feeds).
SKIPPED_NAMES = {"web:logout", "web:language_set", "web:deal_export", "web:metrics_definitions"}
# Keys a person types and reads back as keys: custom field keys (settings), audit action codes, the values
# an automation rule's condition takes.
KEY_PAGES = {"web:settings_custom_fields", "web:audit_log", "web:automation_rule_new"}


def _pages() -> list[tuple[str, str]]:
    """(name, route) of every web page without a path parameter."""
    found: list[tuple[str, str]] = []

    def visit(patterns, prefix: str, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                visit(entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and namespace == "web" and entry.name:
                route = "/" + prefix + str(entry.pattern)
                if "<" not in route:
                    found.append((f"web:{entry.name}", route))

    visit(get_resolver().url_patterns, "", "")
    return sorted(found)


def _record_pages() -> list[tuple[str, str]]:
    """One page per kind of record the demo has."""
    from dealflow.deals.models import Deal, Lead
    from dealflow.reviews.models import PipelineReview

    pages = []
    deal = Deal.objects.filter(status="open").order_by("-amount_minor").first()
    if deal is not None:
        pages.append(("web:deal_detail", f"/deals/{deal.pk}/"))
    lead = Lead.objects.order_by("pk").first()
    if lead is not None:
        pages.append(("web:lead_convert", f"/leads/{lead.pk}/convert/"))
    review = PipelineReview.objects.order_by("-pk").first()
    if review is not None:
        pages.append(("web:review_detail", f"/reviews/{review.pk}/"))
        pages.append(("web:review_report", f"/reviews/{review.pk}/report/"))
    return pages


def visible_text(page: str) -> str:
    # Scripts, styles and form input (a textarea holds what the parser reads back, not a display).
    page = re.sub(r"<(script|style|template|textarea)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<code\b.*?</code>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(page)


def english_findings(text: str) -> list[str]:
    text = ALLOWED.sub(" ", text)
    found = []
    for kind, pattern in ENGLISH.items():
        for match in pattern.finditer(text):
            context = " ".join(text[max(0, match.start() - 40) : match.end() + 30].split())
            found.append(f"{kind} {match.group(0)!r} in '…{context}…'")
    return found


@pytest.fixture(scope="module")
def _module_demo(django_db_setup, django_db_blocker):
    """The demo, generated once for the module inside a transaction that is rolled back when the module
    ends: each test runs in a savepoint within it (the ``db`` fixture), so what one persona's test changes
    is undone before the next, and the four personas share one generation instead of four."""
    from django.db import transaction

    from dealflow.demo import generate

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            with time_machine.travel(dt.datetime(2026, 6, 30, 10, 0, tzinfo=dt.UTC), tick=False):
                generate.demo_generate(deals=300, seed=4, today=TODAY, progress=False, chunk_size=300)
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    yield
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


@pytest.fixture
def demo(_module_demo, db, settings):
    settings.DEALFLOW = {**settings.DEALFLOW, "API_RATE_LIMIT_PER_MINUTE": 0}


def test_the_scanner_finds_english_formats():
    found = english_findings("ter waarde van 393,819 en 27.6 dagen, WAPE 9.7 %, run_rate")
    assert [finding.split(" in ")[0] for finding in found] == [
        "thousands comma '393,819'",
        "decimal point '27.6'",
        "decimal point '9.7'",
        "raw key 'run_rate'",
    ]
    assert english_findings("€ 393.819 en 27,6 dagen op 26-11-2026 om 10:15, WAPE 9,7%, Brier 0,216") == []


@pytest.mark.parametrize("persona", PERSONAS)
def test_dutch_pages_use_dutch_formats(demo, persona):
    from dealflow.accounts.models import User

    user = User.objects.get(username=persona)
    user.language = "nl"
    user.save(update_fields=["language"])
    client = Client()
    client.force_login(user)
    findings = []
    read = 0
    with time_machine.travel(dt.datetime(2026, 6, 30, 10, 0, tzinfo=dt.UTC), tick=False):
        for name, url in [*_pages(), *_record_pages()]:
            if name in SKIPPED_NAMES:
                continue
            response = client.get(url)
            if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
                continue
            read += 1
            found = english_findings(visible_text(response.content.decode()))
            if name in KEY_PAGES:
                found = [finding for finding in found if not finding.startswith("raw key")]
            findings += [f"{url}: {finding}" for finding in found]
    print(f"\n{persona}: {read} Dutch pages read, {len(findings)} English formats")
    assert read > 10
    assert not findings, "\n".join(sorted(set(findings)))
