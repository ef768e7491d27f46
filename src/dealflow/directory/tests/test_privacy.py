"""Erase a person and export everything about them, from the services, the web, the API and the CLI."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from dealflow.accounts.models import AuditEntry
from dealflow.contacts.services import contact_tags_set, organization_create, person_create
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Activity, Deal
from dealflow.deals.services import activity_create, deal_create
from dealflow.directory.services import person_erase, person_export
from dealflow.quotes.services import quote_create
from dealflow.search.selectors import search_for_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def jan(rep, pipeline):
    acme = organization_create(name="Acme", owner=rep)
    person = person_create(
        first_name="Jan",
        last_name="Jansen",
        email="jan@acme.nl",
        phone="+31 6 1234 5678",
        job_title="CFO",
        organization=acme,
        owner=rep,
    )
    contact_tags_set(contact=person, tags=["vip"])
    deal = deal_create(title="Presses", owner=rep, by=rep, organization=acme, person=person, amount="1500.00")
    activity_create(
        owner=rep,
        by=rep,
        deal=deal,
        person=person,
        kind="call",
        subject="Call Jan about his kids",
        notes="Jan's private mobile",
    )
    return person


def test_export_holds_the_person_their_deals_leads_activities_tags_and_is_audited(rep, jan):
    export = person_export(person=jan, by=rep)
    assert export["person"]["email"] == "jan@acme.nl" and export["person"]["tags"] == ["vip"]
    assert export["person"]["organization"]["name"] == "Acme"
    assert [(deal["title"], deal["amount"], deal["currency"]) for deal in export["deals"]] == [
        ("Presses", "1500.00", "EUR")
    ]
    assert [activity["subject"] for activity in export["activities"]] == ["Call Jan about his kids"]
    json.dumps(export)  # plain JSON types only
    entry = AuditEntry.objects.get(action="person.exported")
    assert (entry.actor, entry.target) == (rep, f"person:{jan.pk}")


def test_erase_anonymises_everywhere_and_keeps_the_deal_figures(rep, jan):
    from dealflow.deals.services import deal_lines_set
    from dealflow.products.tests.factories import ProductFactory

    deal = Deal.objects.get(person=jan)
    deal_lines_set(deal=deal, lines=[{"product": ProductFactory(code="P1", prices={"EUR": "1500"})}], by=rep)
    deal.refresh_from_db()
    quote = quote_create(deal=deal, by=rep, recipient_email="jan@acme.nl")
    person_erase(person=jan, by=rep)
    jan.refresh_from_db()
    assert (jan.first_name, jan.last_name, jan.email, jan.phone, jan.job_title) == (
        "",
        "(erased)",
        "",
        "",
        "",
    )
    assert str(jan) == "(erased)"
    activity = Activity.objects.get(person=jan)
    assert (activity.subject, activity.notes) == ("Activity with an erased person", "")
    deal.refresh_from_db()
    assert (deal.amount_minor, deal.person_id, deal.title) == (150000, jan.pk, "Presses")
    quote.refresh_from_db()
    assert quote.recipient_email == ""
    assert person_export(person=jan, by=rep)["person"]["tags"] == []
    assert search_for_user(user=rep, query="jansen") == [] and search_for_user(user=rep, query="kids") == []
    entry = AuditEntry.objects.get(action="person.erased")
    assert "Jansen" not in json.dumps(entry.detail) and entry.target == f"person:{jan.pk}"


def test_an_analyst_may_not_erase(analyst, jan):
    from dealflow.core.errors import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        person_erase(person=jan, by=analyst)


def test_web_export_and_erase_with_outsider_getting_404(client, rep, outsider, jan):
    client.force_login(outsider)
    assert client.get(reverse("web:person_export", args=[jan.pk])).status_code == 404
    assert client.post(reverse("web:person_erase", args=[jan.pk])).status_code == 404
    client.force_login(rep)
    download = client.get(reverse("web:person_export", args=[jan.pk]))
    assert download["Content-Disposition"] == f'attachment; filename="person-{jan.pk}.json"'
    assert json.loads(download.content)["person"]["last_name"] == "Jansen"
    erased = client.post(reverse("web:person_erase", args=[jan.pk]))
    assert erased.status_code == 302
    deal_page = client.get(
        reverse("web:deal_detail", args=[Deal.objects.get(person=jan).pk])
    ).content.decode()
    assert "Jansen" not in deal_page and "(erased)" in deal_page


def test_api_export_and_erase(client, rep, outsider, jan):
    client.force_login(outsider)
    assert client.get(f"/api/v1/persons/{jan.pk}/export").status_code == 404
    client.force_login(rep)
    assert client.get(f"/api/v1/persons/{jan.pk}/export").json()["person"]["email"] == "jan@acme.nl"
    answer = client.post(f"/api/v1/persons/{jan.pk}/erase", content_type="application/json")
    assert answer.status_code == 200 and answer.json()["full_name"] == "(erased)"


def test_cli_export_and_erase(rep, jan, tmp_path):
    out = StringIO()
    call_command("privacy", "export", str(jan.pk), user="rep", stdout=out)
    assert json.loads(out.getvalue())["person"]["phone"] == "+31 6 1234 5678"
    with pytest.raises(ApplicationError) as refusal:
        call_command("privacy", "erase", str(jan.pk), user="rep")
    assert refusal.value.field == "yes"
    with pytest.raises(ApplicationError) as missing:
        call_command("privacy", "erase", "999999", user="rep", yes=True)
    assert missing.value.field == "person_id"
    call_command("privacy", "erase", str(jan.pk), user="rep", yes=True, stdout=StringIO())
    jan.refresh_from_db()
    assert jan.last_name == "(erased)"
    assert AuditEntry.objects.filter(action__in=["person.exported", "person.erased"]).count() == 2
