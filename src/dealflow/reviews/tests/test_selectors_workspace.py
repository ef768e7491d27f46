"""The review page's totals, data quality and ranked lists come from the database (issue #19: the page
loaded every frozen row, 0.9 s and 762 KB for a company review at 1M deals); they must equal what the
pure calculations give over every row, whatever the rows hold."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from dealflow.reviews import calculations as calc
from dealflow.reviews import selectors, services
from dealflow.reviews.models import ReviewDeal
from dealflow.reviews.tests.conftest import NOW


def _random_rows(review, template: ReviewDeal, count: int, seed: int) -> None:
    """``count`` more frozen rows in ``review``: random stages, owners, amounts (some 0), dates (some none,
    some before the snapshot, some in the period), flags, and ties on every ranking key."""
    rng = random.Random(seed)
    flag_choices = [[], *(row.flags for row in ReviewDeal.objects.filter(review=review) if row.flags)]
    assert len(flag_choices) > 1
    stages = [(template.stage_id, template.stage_name, template.stage_order), (999_001, "Other pipeline", 2)]
    rows = []
    for index in range(count):
        stage_id, stage_name, stage_order = rng.choice(stages)
        close = rng.choice(
            [None, dt.date(2026, 10, 1), dt.date(2026, 11, 20), dt.date(2026, 11, 30), dt.date(2027, 1, 5)]
        )
        amount = rng.choice([0, 500, 1_000, 1_000, 2_500, 10_000]) * 100
        rows.append(
            ReviewDeal(
                review=review,
                deal_id=1_000_000 + index,
                title=f"Random {index}",
                owner_id=rng.choice([template.owner_id, template.owner_id + 1, template.owner_id + 2]),
                pipeline_id=template.pipeline_id,
                stage_id=stage_id,
                stage_name=stage_name,
                stage_order=stage_order,
                days_in_stage=5.0,
                amount_minor=amount,
                expected_close_on=close,
                category=rng.choice(["commit", "best_case", "pipeline", "omitted"]),
                configured_probability=0.5,
                p_win=0.5,
                p_entry=0.6,
                p_model=0.5,
                p_period=0.4,
                p_period_in=0.4,
                p_period_out=0.1,
                days_since_activity=3.0,
                has_next_step=rng.random() < 0.5,
                peak_amount_minor=amount,
                flags=rng.choice(flag_choices),
                expected_value_minor=rng.choice([0, 100, 100, 5_000]),
                expected_period_minor=rng.choice([0, 0, 100, 100, 4_000]),
                value_at_risk_minor=rng.choice([0, 0, 50, 50, 900]),
                value_per_day_minor=1,
            )
        )
    ReviewDeal.objects.bulk_create(rows)


def _reference(review, rows: list[ReviewDeal]) -> dict:
    """The workspace's figures computed from every row in Python (the page's code before issue #19)."""
    stages: dict[int, list] = {}
    categories: dict[str, list] = {code: [0, 0, 0] for code in selectors.CATEGORY_ORDER}
    for row in rows:
        total = stages.setdefault(row.stage_id, [row.stage_name, row.stage_order, 0, 0, 0, 0])
        total[2] += 1
        total[3] += row.amount_minor
        total[4] += row.expected_value_minor
        dated = (
            row.expected_close_on is not None
            and review.period_start <= row.expected_close_on < review.period_end
        )
        if dated:
            total[5] += row.amount_minor
            category = categories.setdefault(row.category, [0, 0, 0])
            category[0] += 1
            category[1] += row.amount_minor
            category[2] += row.expected_period_minor
    quality = calc.data_quality(
        (
            calc.QualityRow(row.owner_id, row.amount_minor, row.expected_close_on, row.has_next_step)
            for row in rows
        ),
        as_of_on=review.snapshot.as_of_on,
    )
    close, rescue = calc.rank_close_this_period(rows), calc.rank_rescue(rows)
    return {
        "stages": [tuple(total) for total in sorted(stages.values(), key=lambda total: total[1])],
        "categories": {code: tuple(values) for code, values in categories.items()},
        "quality": [vars(item) for item in quality],
        "close": [row.deal_id for row in close],
        "rescue": [row.deal_id for row in rescue],
        "flagged": sum(1 for row in rows if row.flags),
        "first": min(row.deal_id for row in rows),
    }


def _figures(workspace) -> dict:
    return {
        "stages": [
            (s.stage, s.order, s.count, s.amount_minor, s.expected_minor, s.in_period_minor)
            for s in workspace.stages
        ],
        "categories": {
            item["category"]: (item["count"], item["amount_minor"], item["expected_minor"])
            for item in workspace.categories
        },
        "quality": [vars(item.quality) for item in workspace.quality],
        "flagged": workspace.flagged,
        "first": workspace.first_deal_id,
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_database_totals_quality_and_lists_equal_the_calculations_over_every_row(
    team_deals, manager, team, frozen_now, seed
):
    review = services.review_start(by=manager, team=team, period="2026-11")
    template = ReviewDeal.objects.filter(review=review).order_by("deal_id").first()
    _random_rows(review, template, 120, seed)
    rows = list(selectors.review_rows(review=review))
    expected = _reference(review, rows)

    page = selectors.review_workspace_for_user(review_id=review.pk, user=manager)
    assert _figures(page) == {
        key: expected[key] for key in ("stages", "categories", "quality", "flagged", "first")
    }
    assert [item.row.deal_id for item in page.close_list] == expected["close"][: selectors.AGENDA_SIZE]
    assert [item.row.deal_id for item in page.rescue_list] == expected["rescue"][: selectors.AGENDA_SIZE]
    assert (page.close_total, page.rescue_total) == (len(expected["close"]), len(expected["rescue"]))
    assert page.open_deals == len(rows)

    everything = selectors.review_workspace_for_user(review_id=review.pk, user=manager, show_all=True)
    assert [item.row.deal_id for item in everything.close_list] == expected["close"]
    assert [item.row.deal_id for item in everything.rescue_list] == expected["rescue"]
    assert _figures(everything) == _figures(page)

    # A page at a time: page 2 holds ranks AGENDA_PAGE+1 .. 2*AGENDA_PAGE of each list, with the lists' totals.
    size = selectors.AGENDA_PAGE
    for number in (1, 2, 3):
        paged = selectors.review_workspace_for_user(review_id=review.pk, user=manager, page=number)
        window = slice((number - 1) * size, number * size)
        assert [item.row.deal_id for item in paged.close_list] == expected["close"][window]
        assert [item.row.deal_id for item in paged.rescue_list] == expected["rescue"][window]
        assert (paged.close_total, paged.rescue_total) == (len(expected["close"]), len(expected["rescue"]))
        longest = max(len(expected["close"]), len(expected["rescue"]))
        assert paged.has_next_page == (number * size < longest)
        assert paged.page_count == max(1, -(-longest // size))
        assert paged.list_offset == (number - 1) * size
    assert len(expected["close"]) > size or len(expected["rescue"]) > size  # page 2 is not empty

    # The report's CSV: every row once, "close this period" first in its order, then the rest by deal, with
    # both ranks as the calculations give them over every row.
    ranked = list(selectors.review_rows_ranked(review=review))
    close_rank = {deal_id: rank for rank, deal_id in enumerate(expected["close"], start=1)}
    rescue_rank = {deal_id: rank for rank, deal_id in enumerate(expected["rescue"], start=1)}
    rest = sorted(row.deal_id for row in rows if row.deal_id not in close_rank)
    assert [item.row.deal_id for item in ranked] == expected["close"] + rest
    assert [(item.close_rank, item.rescue_rank) for item in ranked] == [
        (close_rank.get(item.row.deal_id), rescue_rank.get(item.row.deal_id)) for item in ranked
    ]


def test_a_hand_worked_review(team_deals, manager, team, frozen_now):
    """The conftest's four Benelux deals (Otto's is another team's), snapshot on 16 November 2026."""
    review = services.review_start(by=manager, team=team, period="2026-11")
    page = selectors.review_workspace_for_user(review_id=review.pk, user=manager)
    assert page.open_deals == 4
    # Dated in November: proposal (1,000, 28 Nov) and negotiation (4,000, 20 Nov); closing is in December,
    # undated has no date.
    in_period = {item["category"]: (item["count"], item["amount_minor"]) for item in page.categories}
    assert sum(count for count, _amount in in_period.values()) == 2
    assert sum(amount for _count, amount in in_period.values()) == 500_000
    assert sum(stage.count for stage in page.stages) == 4
    assert sum(stage.amount_minor for stage in page.stages) == 750_000
    assert sum(stage.in_period_minor for stage in page.stages) == 500_000
    # Every deal dated before the snapshot day would be "past"; none is. The undated one misses a date.
    by_owner = {item.owner: item.quality for item in page.quality}
    assert sorted(quality.open_deals for quality in by_owner.values()) == [2, 2]
    assert sum(quality.missing_close_date for quality in by_owner.values()) == 1
    assert sum(quality.past_close_date for quality in by_owner.values()) == 0
    assert page.first_deal_id == team_deals.proposal.pk
    assert page.titles[team_deals.proposal.pk] == "Proposal deal"
    assert NOW.date() == review.snapshot.as_of_on


def test_lists_leave_out_the_snapshot_detail_and_one_review_has_it(team_deals, manager, team, frozen_now):
    """A list of reviews reads the snapshot's totals, not its megabytes of samples, waterfall and bottlenecks
    (480 MB of a worker for 30 reviews at 1M deals); the deal history finds each review once."""
    review = services.review_start(by=manager, team=team, period="2026-11")
    services.review_decision_record(review=review, deal_id=team_deals.proposal.pk, kind="keep", by=manager)
    listed = selectors.review_list_for_user(user=manager, with_counts=True).get(pk=review.pk)
    detail = {"new_samples", "thresholds", "waterfall", "bottlenecks"}
    assert detail <= listed.snapshot.get_deferred_fields()
    assert listed.deal_count == 4 and listed.snapshot.mean_minor == review.snapshot.mean_minor
    whole = selectors.review_get_for_user(review_id=review.pk, user=manager)
    assert not whole.snapshot.get_deferred_fields()
    assert whole.snapshot.new_samples == review.snapshot.new_samples
    history = selectors.deal_review_history_for_user(deal_id=team_deals.proposal.pk, user=manager)
    assert [entry.review.pk for entry in history] == [review.pk]  # frozen in it and decided: once
    assert [decision.kind for decision in history[0].decisions] == ["keep"]
