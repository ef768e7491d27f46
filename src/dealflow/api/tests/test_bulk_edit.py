"""POST /api/v1/deals/bulk-edit: all or nothing, every refusal listed, no version bump without a change."""

from __future__ import annotations

import datetime as dt

import pytest

from dealflow.deals import services
from dealflow.deals.models import Deal, DealEvent
from dealflow.deals.tests.factories import DealFactory, stage_named

pytestmark = pytest.mark.django_db


def test_bulk_edit_changes_every_deal_or_none(api_as, rep):
    first, second = DealFactory(owner=rep), DealFactory(owner=rep, title="Second")
    api = api_as(rep)
    services.deal_update(deal=Deal.objects.get(pk=second.pk), by=rep, data={"title": "Second (renamed)"})
    response = api.post(
        "/deals/bulk-edit",
        {
            "deal_ids": [first.pk, second.pk],
            "action": "close_date",
            "expected_close_on": "2027-01-31",
            "versions": {str(first.pk): 1, str(second.pk): 1},  # the second is stale
        },
    )
    assert response.status_code == 400
    assert response.data["detail"] == "Nothing was changed: 1 of 2 deals refused the bulk edit."
    assert [(row["deal_id"], row["title"]) for row in response.data["refusals"]] == [
        (second.pk, "Second (renamed)")
    ]
    assert Deal.objects.filter(expected_close_on=dt.date(2027, 1, 31)).count() == 0
    assert not DealEvent.objects.filter(origin="api").exists()

    response = api.post(
        "/deals/bulk-edit",
        {"deal_ids": [first.pk, second.pk], "action": "stage", "stage_id": stage_named("Proposal").pk},
    )
    assert response.data == {"changed": 2}
    assert set(Deal.objects.values_list("stage__name", flat=True)) == {"Proposal"}
    # The same edit again changes nothing and bumps no version.
    versions = dict(Deal.objects.values_list("pk", "version"))
    response = api.post(
        "/deals/bulk-edit",
        {"deal_ids": [first.pk, second.pk], "action": "stage", "stage_id": stage_named("Proposal").pk},
    )
    assert response.data == {"changed": 0}
    assert dict(Deal.objects.values_list("pk", "version")) == versions


def test_bulk_edit_of_a_deal_you_may_not_see_answers_404(api_as, rep, outsider):
    deal = DealFactory(owner=rep)
    response = api_as(outsider).post(
        "/deals/bulk-edit", {"deal_ids": [deal.pk], "action": "tag", "tags": ["vip"]}
    )
    assert response.status_code == 404


def test_bulk_edit_without_a_value_names_the_field(api_as, rep):
    deal = DealFactory(owner=rep)
    response = api_as(rep).post("/deals/bulk-edit", {"deal_ids": [deal.pk], "action": "owner"})
    assert (response.status_code, response.data["field"]) == (400, "owner")
    response = api_as(rep).post("/deals/bulk-edit", {"deal_ids": [deal.pk], "action": "explode"})
    assert (response.status_code, response.data["field"]) == (400, "action")
