"""The deals list: filters, sorting, pagination, bulk actions, export link and its query count."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import NoReverseMatch, reverse

from dealflow.deals import services
from dealflow.deals.models import Deal, DealEvent
from dealflow.deals.tests.factories import DealFactory, stage_named
from dealflow.web.views import deals as deal_list_views

pytestmark = pytest.mark.django_db

FROZEN = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(FROZEN, tick=False):
        yield


@pytest.fixture
def deals(rep, rep2, outsider, pipeline):
    return {
        "alpha": DealFactory(
            title="Alpha", owner=rep, amount=Decimal("300"), expected_close_on=dt.date(2026, 12, 5)
        ),
        "bravo": DealFactory(
            title="Bravo", owner=rep, amount=Decimal("100"), expected_close_on=dt.date(2027, 1, 20)
        ),
        "charlie": DealFactory(
            title="Charlie", owner=rep2, amount=Decimal("200"), expected_close_on=dt.date(2026, 12, 24)
        ),
        "foreign": DealFactory(title="Foreign", owner=outsider, amount=Decimal("999")),
    }


def _titles(response) -> list[str]:
    return [deal.title for deal in response.context["page"].object_list]


def test_rep_sees_own_deals_only_and_manager_sees_the_team(client, rep, manager, outsider, deals):
    client.force_login(rep)
    assert sorted(_titles(client.get(reverse("web:deal_list")))) == ["Alpha", "Bravo"]
    client.force_login(manager)
    assert sorted(_titles(client.get(reverse("web:deal_list")))) == ["Alpha", "Bravo", "Charlie"]
    client.force_login(outsider)
    assert _titles(client.get(reverse("web:deal_list"))) == ["Foreign"]


def test_filters_are_the_boards(client, manager, rep2, deals, pipeline):
    client.force_login(manager)
    url = reverse("web:deal_list")
    assert _titles(client.get(url, {"owner": rep2.pk})) == ["Charlie"]
    assert sorted(_titles(client.get(url, {"period": "2026-12"}))) == ["Alpha", "Charlie"]
    assert _titles(client.get(url, {"q": "brav"})) == ["Bravo"]
    services.deal_move_to_stage(deal=deals["alpha"], stage=stage_named("Proposal", pipeline), by=manager)
    proposal = stage_named("Proposal", pipeline)
    assert _titles(client.get(url, {"stage": proposal.pk})) == ["Alpha"]
    assert _titles(client.get(url, {"mine": "on"})) == []


def test_sorting_by_amount_both_ways_and_headers_toggle(client, manager, deals):
    client.force_login(manager)
    url = reverse("web:deal_list")
    ascending = client.get(url, {"order": "amount"})
    assert _titles(ascending) == ["Bravo", "Charlie", "Alpha"]
    assert _titles(client.get(url, {"order": "-amount"})) == ["Alpha", "Charlie", "Bravo"]
    amount_header = next(header for header in ascending.context["headers"] if header["key"] == "amount")
    assert amount_header["direction"] == "asc" and "order=-amount" in amount_header["query"]
    assert 'aria-sort="ascending"' in ascending.content.decode()


def test_bad_filter_value_is_a_form_error_not_a_crash(client, rep, deals):
    client.force_login(rep)
    response = client.get(reverse("web:deal_list"), {"period": "2026-13"})
    assert response.status_code == 400  # the form with its error, answered as a refusal
    assert "Month 13 does not exist." in response.content.decode()
    assert _titles(response) == []
    response = client.get(reverse("web:deal_list"), {"order": "password"})
    assert "Cannot order by" in response.content.decode()


def test_pagination_keeps_the_filters(client, rep, pipeline):
    for number in range(55):
        DealFactory(title=f"Deal {number:02d}", owner=rep, organization=None)
    client.force_login(rep)
    response = client.get(reverse("web:deal_list"), {"q": "Deal", "order": "title"})
    assert len(_titles(response)) == 50
    html = response.content.decode()
    assert "q=Deal&amp;order=title&amp;page=2" in html
    second = client.get(reverse("web:deal_list"), {"q": "Deal", "order": "title", "page": 2})
    assert _titles(second) == [f"Deal {number}" for number in range(50, 55)]


def test_list_query_count_does_not_grow_with_the_deals(client, rep, pipeline, django_assert_num_queries):
    for number in range(5):
        DealFactory(title=f"Deal {number}", owner=rep)
    client.force_login(rep)
    url = reverse("web:deal_list")
    client.get(url)
    # 12, plus the custom fields (filters and columns), the product filter's choices and the rows' tags,
    # plus the saved views and the user's teams to share one with; the page's ids are read before its rows.
    with django_assert_num_queries(18):
        client.get(url)
    for number in range(40):
        DealFactory(title=f"More {number}", owner=rep)
    with django_assert_num_queries(18):
        response = client.get(url)
    assert len(_titles(response)) == 45


# ---- bulk actions -------------------------------------------------------------------------------


def _bulk(client, data, deals):
    payload = {"next": "/deals/?q=a", **data, "deal": [deal.pk for deal in deals]}
    for deal in deals:
        payload[f"version_{deal.pk}"] = deal.version
    return client.post(reverse("web:deal_bulk"), payload)


def test_bulk_reassign_is_all_or_nothing_and_lists_each_refusal(client, manager, rep2, deals):
    client.force_login(manager)
    response = _bulk(client, {"action": "owner", "owner": rep2.pk}, [deals["alpha"], deals["foreign"]])
    assert response.status_code == 302 and response["Location"] == "/deals/?q=a"
    deals["alpha"].refresh_from_db()
    deals["foreign"].refresh_from_db()
    assert deals["alpha"].owner.username == "rep"  # one refusal: nothing changed
    assert deals["foreign"].owner.username == "outsider"
    texts = [str(message) for message in response.wsgi_request._messages]
    assert texts == [
        "Nothing was changed: 1 of 2 deals refused the bulk edit.",
        f"Deal #{deals['foreign'].pk}: no such deal.",
    ]
    assert not DealEvent.objects.filter(origin="web:bulk").exists()
    # Without the deal the user may not see, the edit goes through.
    response = _bulk(client, {"action": "owner", "owner": rep2.pk}, [deals["alpha"]])
    deals["alpha"].refresh_from_db()
    assert deals["alpha"].owner == rep2
    assert [str(message) for message in response.wsgi_request._messages][-1] == "1 deal updated."
    assert DealEvent.objects.filter(deal=deals["alpha"], kind="owner_changed", origin="web:bulk").exists()


def test_bulk_edit_to_the_value_a_deal_has_bumps_no_version(client, rep, deals):
    client.force_login(rep)
    alpha = deals["alpha"]
    response = _bulk(
        client, {"action": "close_date", "expected_close_on": str(alpha.expected_close_on)}, [alpha]
    )
    assert [str(message) for message in response.wsgi_request._messages] == ["0 deals updated."]
    assert Deal.objects.get(pk=alpha.pk).version == alpha.version  # no false conflict for the next editor


def test_bulk_move_stage_and_close_date(client, rep, deals, pipeline):
    client.force_login(rep)
    proposal = stage_named("Proposal", pipeline)
    _bulk(client, {"action": "stage", "stage": proposal.pk}, [deals["alpha"], deals["bravo"]])
    assert set(Deal.objects.filter(stage=proposal).values_list("title", flat=True)) == {"Alpha", "Bravo"}
    for deal in deals.values():
        deal.refresh_from_db()
    _bulk(
        client, {"action": "close_date", "expected_close_on": "2027-03-31"}, [deals["alpha"], deals["bravo"]]
    )
    assert set(
        Deal.objects.filter(expected_close_on=dt.date(2027, 3, 31)).values_list("title", flat=True)
    ) == {
        "Alpha",
        "Bravo",
    }


def test_bulk_with_a_stale_deal_changes_nothing_and_says_which(client, rep, deals, pipeline):
    client.force_login(rep)
    stale = Deal.objects.get(pk=deals["alpha"].pk)
    services.deal_update(deal=stale, by=rep, data={"title": "Alpha (renamed)"})
    response = _bulk(
        client,
        {"action": "close_date", "expected_close_on": "2027-02-01"},
        [deals["alpha"], deals["bravo"]],  # alpha still carries version 1
    )
    texts = [str(message) for message in response.wsgi_request._messages]
    assert texts[0] == "Nothing was changed: 1 of 2 deals refused the bulk edit."
    assert texts[1].startswith("Alpha (renamed): This deal was changed by someone else")
    assert Deal.objects.get(pk=deals["bravo"].pk).expected_close_on == dt.date(2027, 1, 20)
    assert Deal.objects.get(pk=deals["alpha"].pk).expected_close_on == dt.date(2026, 12, 5)


def test_bulk_stage_of_another_pipeline_is_reported_per_deal(client, rep, deals):
    other = services.pipeline_create(name="Partners")
    client.force_login(rep)
    response = _bulk(client, {"action": "stage", "stage": other.stages.first().pk}, [deals["alpha"]])
    texts = [str(message) for message in response.wsgi_request._messages]
    assert texts == [
        "Nothing was changed: 1 of 1 deals refused the bulk edit.",
        "Alpha: Pick an open stage of this deal's pipeline.",
    ]


def test_bulk_without_value_or_deals_is_refused(client, rep, deals):
    client.force_login(rep)
    response = client.post(reverse("web:deal_bulk"), {"action": "owner", "deal": [deals["alpha"].pk]})
    assert any("Pick a value" in str(message) for message in response.wsgi_request._messages)
    response = client.post(reverse("web:deal_bulk"), {"action": "close_date"})
    assert any("Tick at least one deal" in str(message) for message in response.wsgi_request._messages)


def test_bulk_next_must_be_local(client, rep, deals):
    client.force_login(rep)
    response = client.post(
        reverse("web:deal_bulk"),
        {"action": "close_date", "deal": [deals["alpha"].pk], "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("web:deal_list")


# ---- export link and escaping -------------------------------------------------------------------


def test_export_link_only_when_the_route_exists(client, rep, deals, settings):
    client.force_login(rep)
    try:
        reverse("web:deal_export")
        has_export = True
    except NoReverseMatch:
        has_export = False
    html = client.get(reverse("web:deal_list"), {"q": "a", "page": "1"}).content.decode()
    assert ("Export this view as CSV" in html) == has_export
    if has_export:
        assert f'href="{reverse("web:deal_export")}?q=a"' in html


def test_export_link_carries_the_current_query(client, rep, deals, monkeypatch):
    monkeypatch.setattr(
        deal_list_views,
        "url_if_exists",
        lambda name, *args: "/deals/export.csv" if name == "web:deal_export" else None,
    )
    client.force_login(rep)
    html = client.get(reverse("web:deal_list"), {"q": "a", "order": "-amount", "page": "2"}).content.decode()
    assert 'href="/deals/export.csv?q=a&amp;order=-amount"' in html


def test_hostile_title_is_escaped_in_the_list(client, rep, pipeline):
    DealFactory(title="<img src=x onerror=alert(1)>", owner=rep)
    client.force_login(rep)
    html = client.get(reverse("web:deal_list")).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_route_names_are_unique_in_the_web_namespace():
    from dealflow.web.urls import urlpatterns

    names = [pattern.name for pattern in urlpatterns if getattr(pattern, "name", None)]
    assert len(names) == len(set(names)), sorted({name for name in names if names.count(name) > 1})


# ---- long lists (issue #19) ------------------------------------------------------------------------


def test_past_the_count_cap_the_list_says_more_than_and_every_page_is_reachable(
    client, rep, pipeline, monkeypatch
):
    monkeypatch.setattr("dealflow.core.pagination.COUNT_CAP", 3)
    monkeypatch.setattr(deal_list_views, "PAGE_SIZE", 2)
    for number in range(5):
        DealFactory(title=f"Deal {number}", owner=rep, organization=None)
    client.force_login(rep)
    url = reverse("web:deal_list")
    first = client.get(url, {"order": "title"})
    html = first.content.decode()
    assert "More than 3 deals" in html and "Page 1<" in html and " of " not in html.split("Page 1")[1][:5]
    assert _titles(first) == ["Deal 0", "Deal 1"] and "page=2" in html
    last = client.get(url, {"order": "title", "page": 3})  # beyond the 3 deals counted
    assert _titles(last) == ["Deal 4"]
    assert 'rel="next"' not in last.content.decode() and 'rel="prev"' in last.content.decode()
    rep.language = "nl"
    rep.save(update_fields=["language"])
    html = client.get(url, {"order": "title"}).content.decode()
    assert "Meer dan 3 deals" in html and "Pagina 1<" in html


def test_below_the_cap_the_count_is_exact(client, rep, deals):
    client.force_login(rep)
    html = client.get(reverse("web:deal_list")).content.decode()
    assert "2 deals" in html and "More than" not in html


@pytest.mark.parametrize("contact_ids", [1_000, 0])  # the ids of matching contacts, or a join past the limit
def test_search_finds_title_organization_last_name_and_email_of_visible_deals_only(
    client, manager, rep, outsider, pipeline, monkeypatch, contact_ids
):
    from dealflow.contacts.tests.factories import OrganizationFactory, PersonFactory
    from dealflow.deals import selectors

    monkeypatch.setattr(selectors, "SEARCH_CONTACT_IDS", contact_ids)
    zebra = OrganizationFactory(name="Zebra Holding")
    person = PersonFactory(last_name="Quaggason", email="q@stripes.example", organization=None)
    DealFactory(title="Striped zebra deal", owner=rep, organization=None)
    DealFactory(title="By organization", owner=rep, organization=zebra)
    DealFactory(title="By person", owner=rep, organization=None, person=person)
    DealFactory(title="Plain", owner=rep, organization=None)
    DealFactory(title="Outsider's zebra", owner=outsider, organization=zebra)
    client.force_login(manager)
    url = reverse("web:deal_list")
    assert sorted(_titles(client.get(url, {"q": "ZEBRA"}))) == ["By organization", "Striped zebra deal"]
    assert _titles(client.get(url, {"q": "quagga"})) == ["By person"]
    assert _titles(client.get(url, {"q": "stripes.exa"})) == ["By person"]
    assert _titles(client.get(url, {"q": "nothing like it"})) == []
    client.force_login(outsider)
    assert _titles(client.get(url, {"q": "zebra"})) == ["Outsider's zebra"]
