"""Refused input, forbidden and missing pages answer styled, translated pages; the menu offers what works."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.defaults import server_error


def _dutch(user) -> None:
    user.language = "nl"
    user.save(update_fields=["language"])


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/forecast/?kind=x", "kind"),
        ("/forecast/?id=%C2%B2", "id"),
        ("/funnel/?stage=99999999999999999999999", "stage"),
        ("/reviews/?status=%D9%A3", "status"),
        ("/leads/?q=%00", "q"),
    ],
)
def test_a_bad_parameter_answers_a_styled_400_naming_it(client, manager, url, field):
    client.force_login(manager)
    response = client.get(url)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-error-status="400"' in html
    assert f'data-field="{field}"' in html
    assert field in html.split('class="error-message"')[1].split("</p>")[0]
    assert 'class="main-nav"' in html  # the base template: the user can go on from here
    assert response.templates[0].name == "400.html"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/deals/?q=a%00b", "q may not contain control characters"),
        ("/deals/?closed_from=0001-01-01", "closed_from must lie between the years 1900 and 2999"),
        ("/deals/?period=9999", "period must lie between the years 1900 and 2999"),
        ("/dashboard/?period=9999", "period must lie between the years 1900 and 2999"),
        ("/dashboard/?period=0001", "period must lie between the years 1900 and 2999"),
        ("/funnel/?period=9999-Q4", "period must lie between the years 1900 and 2999"),
        ("/dashboard/?owner=%C2%B2", "owner must be a whole number"),
    ],
)
def test_a_bad_filter_answers_400_with_the_form_error(client, manager, url, words):
    """The filter pages keep their form and say what is wrong (these answered 500 before)."""
    client.force_login(manager)
    response = client.get(url)
    assert response.status_code == 400
    assert words in response.content.decode()


def test_the_400_page_offers_the_page_without_the_bad_parameter(client, manager):
    client.force_login(manager)
    html = client.get("/forecast/?kind=x&scope=company").content.decode()
    assert 'href="/forecast/?scope=company"' in html


def test_error_pages_speak_the_users_language(client, manager):
    _dutch(manager)
    client.force_login(manager)
    bad = client.get("/forecast/?kind=x")
    assert bad.status_code == 400
    assert "Het verzoek is geweigerd" in bad.content.decode()
    missing = client.get("/deals/987654321/")
    assert missing.status_code == 404
    assert "Pagina niet gevonden" in missing.content.decode()
    forbidden = client.get(reverse("web:audit_log"))
    assert forbidden.status_code == 403
    assert "Niet toegestaan" in forbidden.content.decode()


def test_404_and_403_pages_are_styled(client, rep):
    client.force_login(rep)
    missing = client.get("/deals/987654321/")
    assert missing.status_code == 404
    assert 'data-error-status="404"' in missing.content.decode()
    assert "web/app.css" in missing.content.decode()
    forbidden = client.get(reverse("web:import_start"))
    assert forbidden.status_code == 403
    assert 'data-error-status="403"' in forbidden.content.decode()


def test_the_500_page_is_styled_and_needs_no_request_context(db):
    request = RequestFactory().get("/")
    response = server_error(request)
    assert response.status_code == 500
    html = response.content.decode()
    assert 'data-error-status="500"' in html and "web/app.css" in html
    assert "Something went wrong" in html


@pytest.mark.parametrize("persona", ["rep", "analyst", "manager", "admin_user"])
def test_every_menu_entry_opens_for_the_persona_who_sees_it(persona, request):
    """Import answered 403 to reps, and Reviews listed nothing a rep could open: neither is offered."""
    user = request.getfixturevalue(persona)
    client = Client()
    client.force_login(user)
    entries = client.get(reverse("web:deal_list")).context["navigation"]
    names = {entry["name"] for entry in entries}
    for entry in entries:
        assert client.get(entry["url"]).status_code == 200, entry["name"]
    if persona in ("rep", "analyst"):
        assert not names & {"web:import_start", "web:review_list", "web:settings", "web:audit_log"}
    if persona == "manager":
        assert {"web:import_start", "web:review_list"} <= names
    if persona == "admin_user":
        assert {"web:import_start", "web:review_list", "web:settings", "web:audit_log"} <= names
