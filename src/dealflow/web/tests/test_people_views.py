"""The rep's one-on-one page lists their open deals needing attention (a web-layer join: people never
reads deals, so this test lives with the web views)."""

import datetime as dt

import pytest
from django.urls import reverse

from dealflow.deals.models import Stage
from dealflow.deals.services import deal_update
from dealflow.deals.tests.factories import DealFactory
from dealflow.people.tests.factories import OneOnOneSeriesFactory

MONDAY_TEN = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_series_page_lists_the_reps_deals_needing_attention(
    client, time_machine, manager, rep, rep2, pipeline
):
    time_machine.move_to(dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC), tick=False)
    stale = DealFactory(owner=rep, title="Stale deal", expected_close_on=dt.date(2026, 6, 30))
    slipping = DealFactory(owner=rep, title="Slipping deal", expected_close_on=dt.date(2026, 3, 10))
    time_machine.move_to(dt.datetime(2026, 2, 25, 9, tzinfo=dt.UTC), tick=False)
    deal_update(deal=slipping, by=rep, data={"expected_close_on": dt.date(2026, 4, 30)})
    overdue = DealFactory(owner=rep, title="Overdue deal", expected_close_on=dt.date(2026, 2, 27))
    DealFactory(owner=rep, title="Healthy deal", expected_close_on=dt.date(2026, 5, 1))
    DealFactory(owner=rep2, title="Colleague deal", expected_close_on=dt.date(2026, 1, 1))
    time_machine.move_to(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), tick=False)
    series = OneOnOneSeriesFactory(manager=manager, rep=rep, first_meeting_at=MONDAY_TEN)

    client.force_login(manager)
    page = client.get(reverse("web:people_series", args=[series.pk])).content.decode()
    assert f'data-deal="{overdue.pk}"' in page and "close date passed 3 days ago" in page
    assert f'data-deal="{stale.pk}"' in page and "stale for 56 days" in page
    assert f'data-deal="{slipping.pk}"' in page and "close date pushed back once" in page
    assert "Healthy deal" not in page and "Colleague deal" not in page


def test_a_stage_with_zero_rotting_days_never_makes_a_deal_stale_on_the_one_on_one_page(
    client, time_machine, manager, rep, pipeline
):
    time_machine.move_to(dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC), tick=False)
    quiet = DealFactory(owner=rep, title="Quiet deal", expected_close_on=dt.date(2026, 6, 30))
    Stage.objects.filter(pk=quiet.stage_id).update(rotting_days=0)  # this stage never rots
    time_machine.move_to(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), tick=False)
    series = OneOnOneSeriesFactory(manager=manager, rep=rep, first_meeting_at=MONDAY_TEN)
    client.force_login(manager)
    page = client.get(reverse("web:people_series", args=[series.pk])).content.decode()
    assert "stale for" not in page and f'data-deal="{quiet.pk}"' not in page
    # The same deal once its stage rots after 14 days:
    Stage.objects.filter(pk=quiet.stage_id).update(rotting_days=14)
    page = client.get(reverse("web:people_series", args=[series.pk])).content.decode()
    assert "stale for 56 days" in page


@pytest.mark.django_db
def test_series_page_shows_only_deals_the_viewer_may_see(
    client, time_machine, manager, rep, admin_user, pipeline
):
    time_machine.move_to(dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC), tick=False)
    overdue = DealFactory(owner=rep, title="Overdue deal", expected_close_on=dt.date(2026, 2, 1))
    time_machine.move_to(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), tick=False)
    series = OneOnOneSeriesFactory(manager=manager, rep=rep, first_meeting_at=MONDAY_TEN)
    for user in (rep, admin_user):
        client.force_login(user)
        assert (
            f'data-deal="{overdue.pk}"'
            in client.get(reverse("web:people_series", args=[series.pk])).content.decode()
        )
