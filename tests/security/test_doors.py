"""Doors that let a user do what the UI forbids (issue #13): each through the door an attacker would use.

Personas (root conftest): ``rep`` and ``rep2`` in Benelux, ``manager`` manages Benelux, ``outsider`` is a
rep of DACH, ``admin_user`` is an admin.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from dealflow.accounts.services import token_create
from dealflow.contacts.models import Organization
from dealflow.contacts.services import organization_create
from dealflow.deals.models import Activity
from dealflow.deals.services import activity_create, deal_update
from dealflow.deals.tests.factories import DealFactory
from dealflow.importers.export import export_queryset, export_rows

pytestmark = pytest.mark.django_db


def _api(client, user):
    secret = token_create(user=user, name="doors")[1]
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


# --- A shared organisation -----------------------------------------------------------------------


@pytest.fixture
def shared(rep, outsider):
    """A company organisation (no owner) that a DACH deal and a Benelux deal both use."""
    organization = organization_create(name="Shared GmbH")
    DealFactory(owner=outsider, title="DACH deal", organization=organization)
    DealFactory(owner=rep, title="Benelux deal", organization=organization)
    return organization


def test_a_rep_cannot_take_over_or_rename_an_organisation_other_teams_deals_use(
    client, rep, outsider, shared
):
    headers = _api(client, rep)
    url = f"/api/v1/organizations/{shared.pk}"
    taken = client.patch(url, {"owner_id": rep.pk}, content_type="application/json", **headers)
    assert taken.status_code == 403 and taken.json()["field"] == "owner"
    renamed = client.patch(url, {"name": "Mine now"}, content_type="application/json", **headers)
    assert renamed.status_code == 403 and renamed.json()["field"] == "name"
    shared.refresh_from_db()
    assert (shared.name, shared.owner_id) == ("Shared GmbH", None)
    # What others' deals do not depend on stays editable.
    edited = client.patch(url, {"website": "shared.example"}, content_type="application/json", **headers)
    assert edited.status_code == 200


def test_ownership_changes_follow_the_role_rules(client, rep, rep2, manager, outsider, admin_user):
    own = organization_create(name="Rita's own", owner=rep)
    DealFactory(owner=rep, title="Hers", organization=own)
    rep_headers = _api(client, rep)
    url = f"/api/v1/organizations/{own.pk}"
    # A rep gives a contact to nobody but themself (or the company); a manager within the team.
    to_colleague = client.patch(url, {"owner_id": rep2.pk}, content_type="application/json", **rep_headers)
    assert to_colleague.status_code in (400, 403)
    assert (
        client.patch(url, {"owner_id": None}, content_type="application/json", **rep_headers).status_code
        == 200
    )
    manager_headers = _api(client, manager)
    assert (
        client.patch(
            url, {"owner_id": rep2.pk}, content_type="application/json", **manager_headers
        ).status_code
        == 200
    )
    # Used by a DACH deal: the Benelux manager may not take it over either; the admin may.
    DealFactory(owner=outsider, title="DACH too", organization=own)
    assert (
        client.patch(
            url, {"owner_id": manager.pk}, content_type="application/json", **manager_headers
        ).status_code
        == 403
    )
    admin_headers = _api(client, admin_user)
    assert (
        client.patch(url, {"owner_id": rep.pk}, content_type="application/json", **admin_headers).status_code
        == 200
    )


def test_a_shared_organisation_stays_visible_to_those_whose_deals_use_it(client, rep, outsider, shared):
    # Taken over before this rule existed (or by an admin): owned by a Benelux rep now.
    Organization.objects.filter(pk=shared.pk).update(owner=rep)
    headers = _api(client, outsider)
    assert client.get(f"/api/v1/organizations/{shared.pk}", **headers).status_code == 200
    listed = client.get("/api/v1/organizations", {"search": "Shared"}, **headers).json()
    assert [item["id"] for item in listed["items"]] == [shared.pk]
    # Seeing is not changing: the outsider may not edit Rita's organisation.
    patched = client.patch(
        f"/api/v1/organizations/{shared.pk}",
        {"website": "x.example"},
        content_type="application/json",
        **headers,
    )
    assert patched.status_code == 403
    # An organisation no deal of the outsider uses stays hidden from them.
    private = organization_create(name="Only Rita", owner=rep)
    assert client.get(f"/api/v1/organizations/{private.pk}", **headers).status_code == 404


# --- Activities ------------------------------------------------------------------------------------


def test_the_api_refuses_an_activity_on_a_deal_the_rep_can_only_read(client, rep, rep2, team):
    team.reps_see_team_deals = True
    team.save()
    colleagues = DealFactory(owner=rep2, title="Ruud's deal")
    headers = _api(client, rep)
    assert client.get(f"/api/v1/deals/{colleagues.pk}", **headers).status_code == 200  # may read it
    response = client.post(
        "/api/v1/activities",
        {"subject": "Sneaky call", "kind": "call", "deal_id": colleagues.pk},
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 403 and response.json()["field"] == "deal_id"
    assert not Activity.objects.filter(subject="Sneaky call").exists()
    # Like the web page does.
    client.force_login(rep)
    page = client.post(f"/deals/{colleagues.pk}/activities/", {"kind": "call", "subject": "Sneaky call"})
    assert page.status_code in (403, 404) and not Activity.objects.filter(subject="Sneaky call").exists()
    own = DealFactory(owner=rep, title="Rita's deal")
    ok = client.post(
        "/api/v1/activities",
        {"subject": "Real call", "kind": "call", "deal_id": own.pk},
        content_type="application/json",
        **headers,
    )
    assert ok.status_code == 201 and ok.json()["deal"] == "Rita's deal"


def test_a_reps_activity_export_omits_titles_of_deals_they_can_no_longer_see(
    client, rep, manager, outsider, admin_user
):
    deal = DealFactory(owner=rep, title="Secret merger")
    activity_create(owner=rep, subject="Called the CFO", kind="call", deal=deal, by=rep)
    deal_update(deal=deal, data={"owner": outsider}, by=manager)  # handed to another team
    columns, records = export_queryset(entity="activities", user=rep)
    rows = [
        dict(zip([column.header for column in columns], row, strict=True))
        for row in export_rows(columns, records)
    ]
    assert [(row["Subject"], row["Deal"]) for row in rows] == [("Called the CFO", "")]
    assert "Secret merger" not in str(rows)
    headers = _api(client, rep)
    for path in ("/api/v1/activities", "/api/v1/exports/activities"):
        response = client.get(path, **headers)
        assert response.status_code == 200 and b"Called the CFO" in b"".join(
            response.streaming_content if response.streaming else [response.content]
        ), path
    for path in ("/api/v1/activities", "/api/v1/exports/activities"):
        response = client.get(path, **headers)
        body = b"".join(response.streaming_content if response.streaming else [response.content])
        assert b"Secret merger" not in body, path
    client.force_login(rep)
    page = client.get("/activities/").content
    assert b"Called the CFO" in page and b"Secret merger" not in page
    client.force_login(rep)
    exported = client.get("/export/activities/")
    body = b"".join(exported.streaming_content if exported.streaming else [exported.content])
    assert b"Called the CFO" in body and b"Secret merger" not in body
    # Whoever may still see the deal (here the admin) still gets its title.
    _columns, admin_records = export_queryset(entity="activities", user=admin_user)
    assert [record.visible_deal_title for record in admin_records] == ["Secret merger"]


# --- The review report's Markdown export -------------------------------------------------------------


def test_the_review_markdown_export_escapes_raw_html_from_titles_and_notes(client, rep, manager, team):
    from dealflow.reviews import services as review_services

    with time_machine.travel(dt.datetime(2026, 10, 17, 9, 0, tzinfo=dt.UTC), tick=False):
        deal = DealFactory(
            owner=rep,
            title="<img src=x onerror=alert(1)> Deal",
            amount=Decimal("1000"),
            expected_close_on=dt.date(2026, 11, 28),
        )
    with time_machine.travel(dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC), tick=False):
        review = review_services.review_start(by=manager, team=team, period="2026-11")
        review_services.review_decision_record(
            review=review, deal_id=deal.pk, kind="keep", by=manager, note="<script>steal()</script>"
        )
        review_services.review_finish(review=review, by=manager, summary="# Heading?\n<b>bold</b> & more")
        client.force_login(manager)
        text = client.get(f"/reviews/{review.pk}/report.md").content.decode()
    assert "<img" not in text and "<script" not in text and "<b>" not in text
    assert "&lt;img src=x onerror=alert(1)&gt; Deal" in text
    assert "&lt;script&gt;steal()&lt;/script&gt;" in text
    assert "\\# Heading?" in text and "&lt;b&gt;bold&lt;/b&gt; &amp; more" in text
