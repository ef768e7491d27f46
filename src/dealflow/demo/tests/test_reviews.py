"""The reviews demo: six finished weekly reviews per team, decisions taken from what happened next,
open items carried over, nothing applied to today's deals."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db.models import Count

from dealflow.deals.models import DealEvent
from dealflow.demo import generate
from dealflow.demo import reviews as demo_reviews
from dealflow.reviews.models import DecisionStatus, PipelineReview, ReviewDecision, ReviewStatus

TODAY = dt.date(2026, 6, 30)


@pytest.mark.django_db
def test_demo_reviews(monkeypatch, time_machine):
    time_machine.move_to(dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC), tick=False)
    monkeypatch.setattr(generate, "OPTIONAL_STEPS", [])
    generate.demo_generate(deals=400, seed=3, today=TODAY, progress=False, chunk_size=400)
    events_before = DealEvent.objects.count()
    out = io.StringIO()
    demo_reviews.seed(seed=3, today=TODAY, stdout=out)
    teams = PipelineReview.objects.values("team").distinct().count()
    assert teams >= 2
    assert PipelineReview.objects.count() == 6 * teams
    assert f"Reviews: {6 * teams} past weekly reviews" in out.getvalue()
    assert not PipelineReview.objects.exclude(status=ReviewStatus.FINISHED).exists()
    first = PipelineReview.objects.order_by("created_at", "id").first()
    assert first.snapshot.as_of == dt.datetime(2026, 5, 25, 7, 0, tzinfo=dt.UTC)  # 09:00 in Amsterdam
    later = PipelineReview.objects.filter(team=first.team).order_by("-created_at").first()
    assert later.previous is not None and later.snapshot.waterfall is not None
    totals = later.snapshot.waterfall["totals"]
    assert (
        totals["start"]
        + totals["new"]
        + totals["pulled_in"]
        - totals["pushed_out"]
        + totals["increased"]
        - totals["decreased"]
        - totals["won"]
        - totals["lost"]
    ) == totals["end"]
    kinds = dict(ReviewDecision.objects.values_list("kind").annotate(count=Count("id")))
    assert kinds.get("keep") and len(kinds) >= 3
    applied = ReviewDecision.objects.filter(status=DecisionStatus.APPLIED).exclude(kind="keep")
    assert applied.exists() and all(decision.event_ids for decision in applied)
    assert ReviewDecision.objects.filter(carried_from__isnull=False).exists()
    assert DealEvent.objects.count() == events_before  # history is described, never rewritten
    demo_reviews.seed(seed=3, today=TODAY, stdout=out)  # idempotent
    assert PipelineReview.objects.count() == 6 * teams
