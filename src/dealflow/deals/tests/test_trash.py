"""The trash for deals, leads and activities, and undo of the board's steps: events, search, derived tables
and metrics (a deleted deal leaves them and comes back exactly as a rebuild computes it)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dealflow.accounts.models import AuditEntry
from dealflow.core.errors import ApplicationError, ConflictError
from dealflow.core.periods import parse_period
from dealflow.deals import services
from dealflow.deals.models import Activity, Deal, DealEvent, DealFact, Lead, StayFact
from dealflow.deals.selectors import deal_list_for_user
from dealflow.deals.services.derived_rebuild import derived_rebuild
from dealflow.deals.services.trash import (
    activity_delete,
    activity_purge,
    activity_restore,
    deal_delete,
    deal_purge,
    deal_restore,
    deal_undo_stage_step,
    lead_delete,
    lead_purge,
    lead_restore,
)
from dealflow.deals.tests.factories import DealFactory, LeadFactory, lead_source, lost_reason, stage_named
from dealflow.metrics.selectors import MetricFilters, metric_summary_for_user, metric_trends_for_user
from dealflow.metrics.tests.test_derived import _snapshot
from dealflow.search.models import SearchEntry

pytestmark = pytest.mark.django_db
START = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)
Q1 = MetricFilters(period=parse_period("2025-Q1"))


def _history(rep, rep2):
    """Two deals with every kind of derived row: spells forward and back, a push, a loss, a reopen."""
    proposal, negotiation = stage_named("Proposal"), stage_named("Negotiation")
    lead = LeadFactory(owner=rep, source=lead_source("referral"), at=START - dt.timedelta(days=40))
    services.lead_qualify(lead=lead, by=rep, has_need=True, has_budget=True)
    won = services.lead_convert(lead=lead, by=rep, amount=Decimal("5000"), at=START)
    services.deal_move_to_stage(deal=won, stage=negotiation, by=rep, at=START + dt.timedelta(days=3))
    services.deal_move_to_stage(deal=won, stage=proposal, by=rep, at=START + dt.timedelta(days=5))
    services.deal_mark_won(deal=won, by=rep, at=START + dt.timedelta(days=40))
    other = DealFactory(owner=rep2, amount=Decimal("100"), at=START)
    services.deal_update(
        deal=other, by=rep2, data={"expected_close_on": dt.date(2025, 2, 1)}, at=START + dt.timedelta(days=1)
    )
    services.deal_update(
        deal=other, by=rep2, data={"expected_close_on": dt.date(2025, 3, 1)}, at=START + dt.timedelta(days=2)
    )
    services.deal_mark_lost(deal=other, reason=lost_reason(), by=rep2, at=START + dt.timedelta(days=31))
    services.deal_reopen(deal=other, by=rep2, at=START + dt.timedelta(days=60))
    return won, other


def test_a_deleted_deal_leaves_the_derived_tables_and_comes_back_as_a_rebuild_computes_it(
    rep, rep2, pipeline
):
    won, other = _history(rep, rep2)
    before = _snapshot()
    assert DealFact.objects.get(deal=won).furthest_stage == stage_named("Negotiation")
    assert DealFact.objects.get(deal=other).close_date_pushes == 1

    deal_delete(deal=won, by=rep)
    assert not DealFact.objects.filter(deal=won).exists()
    assert not StayFact.objects.filter(deal=won).exists()
    in_trash = _snapshot()
    derived_rebuild()  # a rebuild leaves the trash out as well
    assert _snapshot() == in_trash

    deal_restore(deal=Deal.all_objects.get(pk=won.pk), by=rep)
    assert _snapshot() == before
    derived_rebuild()
    assert _snapshot() == before

    deal_delete(deal=other, by=rep2)
    deal_restore(deal=Deal.all_objects.get(pk=other.pk), by=rep2)
    assert _snapshot() == before


def test_metrics_drop_a_deleted_deal_and_count_it_again_after_restore(rep, manager, pipeline):
    """Worked by hand: Q1 2025, A won 1,000 EUR and B won 3,000 EUR, C lost (500 EUR).
    All three: won 2, lost 1, win rate 2/3, won value 4,000, mean deal size 2,000.
    Without B: won 1, lost 1, win rate 1/2, won value 1,000, mean deal size 1,000."""
    deals = {}
    for name, amount in (("A", "1000"), ("B", "3000"), ("C", "500")):
        deals[name] = DealFactory(owner=rep, title=name, amount=Decimal(amount), at=START)
    services.deal_mark_won(deal=deals["A"], by=rep, at=START + dt.timedelta(days=10))
    services.deal_mark_won(deal=deals["B"], by=rep, at=START + dt.timedelta(days=20))
    services.deal_mark_lost(deal=deals["C"], reason=lost_reason(), by=rep, at=START + dt.timedelta(days=30))

    def figures():
        current = metric_summary_for_user(user=manager, filters=Q1).current
        january = next(
            point for point in metric_trends_for_user(user=manager, filters=Q1) if point.month == "2025-01"
        )
        return (
            current.win_rate.won,
            current.win_rate.lost,
            current.win_rate.won_value,
            current.deal_size.mean,
            january.won,
        )

    assert figures() == (2, 1, Decimal("4000"), Decimal("2000"), 2)
    deal_delete(deal=deals["B"], by=rep)
    assert figures() == (1, 1, Decimal("1000"), Decimal("1000"), 1)
    deal_restore(deal=Deal.all_objects.get(pk=deals["B"].pk), by=rep)
    restored = figures()
    assert restored == (2, 1, Decimal("4000"), Decimal("2000"), 2)
    derived_rebuild()
    assert figures() == restored


def test_delete_and_restore_write_events_and_follow_search_and_lists(rep, pipeline):
    deal = DealFactory(owner=rep, title="Junk deal")
    activity = services.activity_create(owner=rep, by=rep, subject="Call about junk", deal=deal)
    assert SearchEntry.objects.filter(kind="deal", object_id=deal.pk).exists()
    version = deal.version
    deal_delete(deal=deal, by=rep, expected_version=version, origin="web")
    assert list(deal_list_for_user(user=rep)) == []
    assert not Activity.objects.filter(pk=activity.pk).exists()
    assert not SearchEntry.objects.filter(kind__in=["deal", "activity"]).exists()
    trashed = Deal.all_objects.get(pk=deal.pk)
    assert (trashed.deleted_by, trashed.version) == (rep, version + 1)
    with pytest.raises(ApplicationError, match="already in the trash"):
        deal_delete(deal=trashed, by=rep)

    deal_restore(deal=trashed, by=rep)
    assert [event.kind for event in DealEvent.objects.filter(deal=deal).order_by("id")][-2:] == [
        "deleted",
        "restored",
    ]
    assert Activity.objects.filter(pk=activity.pk).exists()
    assert SearchEntry.objects.filter(kind="deal", object_id=deal.pk).exists()
    assert SearchEntry.objects.filter(kind="activity", object_id=activity.pk).exists()
    with pytest.raises(ApplicationError, match="not in the trash"):
        deal_restore(deal=Deal.objects.get(pk=deal.pk), by=rep)


def test_a_stale_delete_is_refused(rep, pipeline):
    deal = DealFactory(owner=rep)
    with pytest.raises(ConflictError):
        deal_delete(deal=deal, by=rep, expected_version=deal.version - 1 if deal.version > 1 else 99)
    assert Deal.objects.filter(pk=deal.pk).exists()


def test_an_activity_deleted_before_its_deal_stays_in_the_trash_when_the_deal_comes_back(rep, pipeline):
    deal = DealFactory(owner=rep)
    first = services.activity_create(owner=rep, by=rep, subject="Deleted on its own", deal=deal)
    second = services.activity_create(owner=rep, by=rep, subject="Went with the deal", deal=deal)
    activity_delete(activity=first, by=rep, at=START)
    deal_delete(deal=deal, by=rep, at=START + dt.timedelta(hours=1))
    with pytest.raises(ApplicationError, match="restore the deal first"):
        activity_restore(activity=Activity.all_objects.get(pk=second.pk), by=rep)
    deal_restore(deal=Deal.all_objects.get(pk=deal.pk), by=rep)
    assert list(Activity.objects.filter(deal=deal)) == [second]
    activity_restore(activity=Activity.all_objects.get(pk=first.pk), by=rep)
    assert Activity.objects.filter(deal=deal).count() == 2
    assert AuditEntry.objects.filter(action__in=["activity.deleted", "activity.restored"]).count() == 2


def test_purge_erases_a_deal_but_keeps_its_append_only_history(rep, admin_user, pipeline):
    deal = DealFactory(owner=rep, title="Secret project")
    services.activity_create(owner=rep, by=rep, subject="Secret call", deal=deal)
    with pytest.raises(ApplicationError, match="delete it first"):
        deal_purge(deal=deal, by=admin_user)
    deal_delete(deal=deal, by=rep)
    events = DealEvent.objects.filter(deal_id=deal.pk).count()
    deal_purge(deal=Deal.all_objects.get(pk=deal.pk), by=admin_user)
    purged = Deal.all_objects.get(pk=deal.pk)
    assert (purged.title, purged.purged_at is not None) == ("(purged)", True)
    assert not Activity.all_objects.filter(deal_id=deal.pk).exists()
    assert DealEvent.objects.filter(deal_id=deal.pk).count() == events
    entry = AuditEntry.objects.get(action="deal.purged")
    assert entry.detail["title"] == "Secret project"


def test_leads_go_to_the_trash_unless_converted(rep, admin_user, pipeline):
    lead = LeadFactory(owner=rep, title="Cold lead")
    services.activity_create(owner=rep, by=rep, subject="Ring", lead=lead)
    lead_delete(lead=lead, by=rep)
    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert not Activity.objects.filter(lead_id=lead.pk).exists()
    lead_restore(lead=Lead.all_objects.get(pk=lead.pk), by=rep)
    assert Activity.objects.filter(lead_id=lead.pk).count() == 1
    lead_delete(lead=Lead.objects.get(pk=lead.pk), by=rep)
    lead_purge(lead=Lead.all_objects.get(pk=lead.pk), by=admin_user)
    assert not Lead.all_objects.filter(pk=lead.pk).exists()
    assert [entry.action for entry in AuditEntry.objects.order_by("id")][-4:] == [
        "lead.deleted",
        "lead.restored",
        "lead.deleted",
        "lead.purged",
    ]
    converted = LeadFactory(owner=rep)
    services.lead_qualify(lead=converted, by=rep, has_need=True, has_budget=True)
    services.lead_convert(lead=converted, by=rep)
    with pytest.raises(ApplicationError, match="delete the deal instead"):
        lead_delete(lead=Lead.objects.get(pk=converted.pk), by=rep)


def test_activity_purge_is_for_good(rep, admin_user, pipeline):
    activity = services.activity_create(owner=rep, by=rep, subject="Once")
    activity_delete(activity=activity, by=rep)
    activity_purge(activity=Activity.all_objects.get(pk=activity.pk), by=admin_user)
    assert not Activity.all_objects.filter(pk=activity.pk).exists()


# --- Undo of the board's quick steps ---------------------------------------------------------------------


def test_undo_a_move_a_win_and_a_loss(rep, pipeline):
    qualification, proposal = stage_named("Qualification"), stage_named("Proposal")
    deal = DealFactory(owner=rep, stage=qualification)
    services.deal_move_to_stage(deal=deal, stage=proposal, by=rep)
    deal_undo_stage_step(deal=deal, previous_stage=qualification, expected_version=deal.version, by=rep)
    assert (deal.stage, deal.status) == (qualification, "open")

    services.deal_mark_lost(deal=deal, reason=lost_reason(), by=rep)
    deal_undo_stage_step(deal=deal, previous_stage=qualification, expected_version=deal.version, by=rep)
    assert (deal.stage, deal.status, deal.lost_reason) == (qualification, "open", None)

    services.deal_mark_won(deal=deal, by=rep)
    deal_undo_stage_step(deal=deal, previous_stage=qualification, expected_version=deal.version, by=rep)
    assert (deal.stage, deal.status) == (qualification, "open")
    kinds = list(DealEvent.objects.filter(deal=deal).order_by("id").values_list("kind", "note"))
    assert kinds[1:] == [
        ("stage_changed", ""),
        ("stage_changed", "Undo"),
        ("lost", ""),
        ("reopened", "Undo"),
        ("won", ""),
        ("reopened", "Undo. The post-sale follow-up task the win created went to the trash."),
    ]


def test_undoing_a_win_trashes_its_untouched_follow_up_task(rep, pipeline):
    qualification = stage_named("Qualification")
    deal = DealFactory(owner=rep, stage=qualification)
    services.deal_mark_won(deal=deal, by=rep)
    follow_up = Activity.objects.get(deal=deal, origin="post_sale")
    deal = deal_undo_stage_step(
        deal=deal, previous_stage=qualification, expected_version=deal.version, by=rep
    )
    assert deal.follow_up_note == "The post-sale follow-up task the win created went to the trash."
    trashed = Activity.all_objects.get(pk=follow_up.pk)
    assert (trashed.deleted_at is not None, trashed.deleted_by) == (True, rep)
    assert not Activity.objects.filter(deal=deal).exists()
    assert AuditEntry.objects.filter(action="activity.deleted", target=f"activity:{follow_up.pk}").exists()
    assert not SearchEntry.objects.filter(kind="activity", object_id=follow_up.pk).exists()
    # Winning again schedules a new one; reopening (the deal page, the API) trashes that one as well.
    services.deal_mark_won(deal=deal, by=rep)
    second = Activity.objects.get(deal=deal, origin="post_sale")
    deal = services.deal_reopen(deal=deal, by=rep, note="Customer backed out")
    assert Activity.all_objects.get(pk=second.pk).deleted_at is not None
    assert DealEvent.objects.filter(deal=deal).order_by("-id").values_list("kind", "note")[0] == (
        "reopened",
        "Customer backed out. The post-sale follow-up task the win created went to the trash.",
    )


@pytest.mark.parametrize("change", ["done", "edited"])
def test_undoing_a_win_keeps_a_follow_up_task_already_done_or_edited_and_says_so(rep, pipeline, change):
    qualification = stage_named("Qualification")
    deal = DealFactory(owner=rep, stage=qualification)
    services.deal_mark_won(deal=deal, by=rep)
    follow_up = Activity.objects.get(deal=deal, origin="post_sale")
    if change == "done":
        services.activity_complete(activity=follow_up, by=rep)
    else:
        services.activity_update(activity=follow_up, data={"notes": "Call Jan about the invoice"}, by=rep)
    deal.refresh_from_db()
    deal = deal_undo_stage_step(
        deal=deal, previous_stage=qualification, expected_version=deal.version, by=rep
    )
    kept = "The post-sale follow-up task the win created was kept: it has been done or changed."
    assert deal.follow_up_note == kept
    assert Activity.objects.filter(pk=follow_up.pk).exists()
    assert DealEvent.objects.filter(deal=deal).order_by("-id").values_list("kind", "note")[0] == (
        "reopened",
        f"Undo. {kept}",
    )


def test_undoing_a_loss_or_a_move_leaves_activities_alone(rep, pipeline):
    qualification, proposal = stage_named("Qualification"), stage_named("Proposal")
    deal = DealFactory(owner=rep, stage=qualification)
    task = services.activity_create(owner=rep, by=rep, deal=deal, subject="Send the quote")
    services.deal_mark_lost(deal=deal, reason=lost_reason(), by=rep)
    deal = deal_undo_stage_step(
        deal=deal, previous_stage=qualification, expected_version=deal.version, by=rep
    )
    services.deal_move_to_stage(deal=deal, stage=proposal, by=rep)
    deal = deal_undo_stage_step(
        deal=deal, previous_stage=qualification, expected_version=deal.version, by=rep
    )
    assert deal.follow_up_note == ""
    assert list(Activity.objects.filter(deal=deal)) == [task]


def test_an_undo_after_someone_elses_change_is_refused(rep, manager, pipeline):
    qualification, proposal = stage_named("Qualification"), stage_named("Proposal")
    deal = DealFactory(owner=rep, stage=qualification)
    services.deal_mark_lost(deal=deal, reason=lost_reason(), by=rep)
    after_loss = deal.version
    services.deal_update(deal=deal, by=manager, data={"title": "Renamed by the manager"})
    with pytest.raises(ConflictError, match="changed after this action"):
        deal_undo_stage_step(deal=deal, previous_stage=qualification, expected_version=after_loss, by=rep)
    deal.refresh_from_db()
    assert (deal.status, deal.stage) == ("lost", stage_named("Lost"))
    assert proposal.pk != qualification.pk
