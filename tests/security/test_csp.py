"""The main pages, as a signed-in manager, carry a strict Content-Security-Policy and need no inline script.

No inline <script> body (except JSON data islands, type="application/json"), no on*= handler attributes,
and the policy's script-src allows neither 'unsafe-inline' nor 'unsafe-eval'.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

# The navigation plus the pages behind a record (filled in by the test).
PAGES = [
    "web:home",
    "web:forecast_board",
    "web:funnel",
    "web:deal_list",
    "web:lead_inbox",
    "web:my_activities",
    "web:dashboard",
    "web:forecast",
    "web:review_list",
    "web:people_home",
    "web:people_one_on_ones",
    "web:import_start",
    "web:metrics_definitions",
    "web:tokens",
    "web:password_change",
    "web:deal_create",
    "web:lead_create",
]


class ScriptAudit(HTMLParser):
    """Collects inline script bodies and event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts: list[str] = []
        self.handlers: list[str] = []
        self._in_inline_script = False
        self._body: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        for name, _value in attrs:
            if name.lower().startswith("on"):
                self.handlers.append(f"<{tag} {name}=…>")
        if tag == "script" and not names.get("src") and names.get("type") != "application/json":
            self._in_inline_script = True
            self._body = []

    def handle_data(self, data):
        if self._in_inline_script:
            self._body.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._in_inline_script:
            self._in_inline_script = False
            if "".join(self._body).strip():
                self.inline_scripts.append("".join(self._body).strip()[:80])


def _directive(policy: str, name: str) -> str | None:
    for part in policy.split(";"):
        words = part.split()
        if words and words[0] == name:
            return " ".join(words[1:])
    return None


@pytest.fixture
def manager_pages(client, manager, rep, pipeline):
    from dealflow.deals.services import activity_create
    from dealflow.deals.tests.factories import DealFactory, LeadFactory

    deal = DealFactory(owner=rep, title="CSP deal")
    lead = LeadFactory(owner=rep, title="CSP lead")
    activity_create(owner=rep, subject="CSP call", deal=deal, by=rep)
    client.force_login(manager)
    urls = [reverse(name) for name in PAGES]
    urls += [reverse("web:deal_detail", args=[deal.pk]), f"{reverse('web:lead_inbox')}?lead={lead.pk}"]
    return urls


def test_main_pages_send_a_strict_policy_and_no_inline_script(client, manager_pages):
    client.raise_request_exception = False  # a broken page is one line of the report, not the end of the walk
    problems = []
    for url in manager_pages:
        response = client.get(url)
        if response.status_code != 200:
            problems.append(f"{url}: {response.status_code}")
            continue
        policy = response.get("Content-Security-Policy", "")
        scripts = _directive(policy, "script-src") or _directive(policy, "default-src")
        if not policy or scripts is None:
            problems.append(f"{url}: no Content-Security-Policy with script-src")
        elif "'unsafe-inline'" in scripts or "'unsafe-eval'" in scripts:
            problems.append(f"{url}: script-src allows {scripts}")
        audit = ScriptAudit()
        audit.feed(response.content.decode())
        problems += [f"{url}: inline script {body!r}" for body in audit.inline_scripts]
        problems += [f"{url}: handler {handler}" for handler in audit.handlers]
        if re.search(r"javascript:", response.content.decode(), re.IGNORECASE):
            problems.append(f"{url}: a javascript: URL")
    assert not problems, "\n".join(problems)


def test_the_audit_catches_what_it_looks_for():
    audit = ScriptAudit()
    audit.feed(
        '<script src="/s.js"></script><script type="application/json">{"a": 1}</script>'
        '<script>alert(1)</script><button onclick="go()">x</button>'
    )
    assert audit.inline_scripts == ["alert(1)"]
    assert audit.handlers == ["<button onclick=…>"]
    assert _directive("default-src 'self'; script-src 'self' 'nonce-x'", "script-src") == "'self' 'nonce-x'"
