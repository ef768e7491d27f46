"""The pure deal lifecycle: properties over random histories, no database (test_bulk is the safety net)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealflow.core.errors import ApplicationError
from dealflow.core.money import RateTable
from dealflow.deals import lifecycle

UTC = dt.UTC
START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
RATES = RateTable(
    "EUR",
    [
        ("USD", dt.date(2026, 1, 1), Decimal("0.90")),
        ("USD", dt.date(2026, 2, 1), Decimal("0.95")),
        ("JPY", dt.date(2026, 1, 1), Decimal("0.0062")),
    ],
)
CONTEXT = lifecycle.Context(local_date=lambda moment: moment.date(), to_base_minor=RATES.to_base_minor)
PIPELINE = 1
STAGES = [
    lifecycle.StageInfo(10, PIPELINE, "Qualification", "open", 1, True),
    lifecycle.StageInfo(11, PIPELINE, "Proposal", "open", 2, True),
    lifecycle.StageInfo(12, PIPELINE, "Negotiation", "open", 3, True),
    lifecycle.StageInfo(13, PIPELINE, "Retired", "open", 4, False),
    lifecycle.StageInfo(18, PIPELINE, "Won", "won", 8, True),
    lifecycle.StageInfo(19, PIPELINE, "Lost", "lost", 9, True),
    lifecycle.StageInfo(20, 2, "Elsewhere", "open", 1, True),
]
WON_STAGE, LOST_STAGE = STAGES[4], STAGES[5]
OWNER = lifecycle.OwnerInfo(5, 7, True)
PRICE = lifecycle.ReasonInfo(3, "Price", True)


def new_deal(at: dt.datetime = START, **overrides) -> lifecycle.Change:
    arguments = {
        "title": "Acme",
        "owner": OWNER,
        "pipeline_id": PIPELINE,
        "stage": STAGES[0],
        "amount_minor": 120050,
        "currency": "USD",
        "at": at,
        "by_id": 5,
    }
    arguments.update(overrides)
    return lifecycle.create(CONTEXT, **arguments)


# --- worked examples ---------------------------------------------------------------------------------


def test_the_rate_on_the_day_is_the_latest_valid_one_or_the_earliest_known():
    assert RATES.rate_on("USD", dt.date(2025, 12, 15)) == Decimal("0.90")  # before any: the earliest
    assert RATES.rate_on("USD", dt.date(2026, 1, 31)) == Decimal("0.90")
    assert RATES.rate_on("USD", dt.date(2026, 2, 1)) == Decimal("0.95")
    assert RATES.rate_on("EUR", dt.date(2026, 2, 1)) == Decimal(1)
    # 1,200.50 USD at 0.95 = 1,140.475 EUR -> 114048 cents (half up); 1,000 JPY at 0.0062 = 6.20 EUR.
    assert RATES.to_base_minor(120050, "USD", dt.date(2026, 2, 3)) == 114048
    assert RATES.to_base_minor(1000, "JPY", dt.date(2026, 2, 3)) == 620
    with pytest.raises(ApplicationError, match="no exchange rate for GBP"):
        RATES.to_base_minor(100, "GBP", dt.date(2026, 2, 3))


def test_a_win_stores_cycle_days_and_the_base_value_on_the_closing_day():
    created = new_deal(lead_created_at=START - dt.timedelta(days=10))
    won = lifecycle.win(
        CONTEXT, created.state, won_stage=WON_STAGE, at=dt.datetime(2026, 2, 3, 15, tzinfo=UTC), by_id=5
    )
    state = won.state
    # 5 Jan -> 3 Feb is 29 days; the lead came 10 days earlier: 39.
    assert (state.status, state.closed_on, state.cycle_days, state.lead_cycle_days) == (
        "won",
        dt.date(2026, 2, 3),
        29,
        39,
    )
    assert state.amount_base_minor == 114048
    assert state.version == 2
    assert won.spell_close is not None
    assert won.spell_close.duration_days == pytest.approx(29.25)  # 09:00 -> 15:00 four weeks and a day later
    assert won.follow_up is not None
    assert won.follow_up.due_at == dt.datetime(2026, 2, 17, 15, tzinfo=UTC)


def test_an_update_that_changes_nothing_bumps_no_version_and_records_nothing():
    state = new_deal(expected_close_on=dt.date(2026, 3, 31)).state
    same = lifecycle.update(
        CONTEXT,
        state,
        changes={
            "title": " Acme ",
            "expected_close_on": "2026-03-31",
            "amount_minor": 120050,
            "owner": OWNER,
        },
        at=START,
        by_id=5,
    )
    assert same.is_empty and same.state is state


def test_a_currency_change_re_expresses_the_amount_and_records_one_event():
    state = new_deal(currency="EUR", amount_minor=1000).state
    change = lifecycle.update(CONTEXT, state, changes={"currency": "jpy"}, at=START, by_id=5)
    assert (change.state.amount_minor, change.state.currency) == (10, "JPY")  # EUR 10.00 -> JPY 10
    assert [(event.kind, event.from_value, event.to_value) for event in change.events] == [
        ("amount_changed", "10.00 EUR", "10 JPY")
    ]


def test_a_deal_with_lines_refuses_an_amount_change_unless_it_comes_from_the_lines():
    state = dataclasses.replace(new_deal().state, has_lines=True)
    with pytest.raises(ApplicationError, match="sum of its lines"):
        lifecycle.update(CONTEXT, state, changes={"amount_minor": 5}, at=START, by_id=5)
    change = lifecycle.update(CONTEXT, state, changes={"amount_minor": 5}, at=START, by_id=5, from_lines=True)
    assert change.state.amount_minor == 5


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (lambda state: lifecycle.move(CONTEXT, state, stage=STAGES[0], at=START, by_id=1), "already in"),
        (lambda state: lifecycle.move(CONTEXT, state, stage=STAGES[3], at=START, by_id=1), "open stage"),
        (lambda state: lifecycle.move(CONTEXT, state, stage=STAGES[6], at=START, by_id=1), "open stage"),
        (lambda state: lifecycle.move(CONTEXT, state, stage=WON_STAGE, at=START, by_id=1), "open stage"),
        (lambda state: lifecycle.reopen(CONTEXT, state, stage=STAGES[1], at=START, by_id=1), "already open"),
        (
            lambda state: lifecycle.lose(
                CONTEXT, state, reason=None, lost_stage=LOST_STAGE, at=START, by_id=1
            ),
            "lost reason",
        ),
        (
            lambda state: lifecycle.lose(
                CONTEXT,
                state,
                reason=lifecycle.ReasonInfo(4, "Old", False),
                lost_stage=LOST_STAGE,
                at=START,
                by_id=1,
            ),
            "retired",
        ),
        (lambda state: lifecycle.win(CONTEXT, state, won_stage=None, at=START, by_id=1), "no won stage"),
        (
            lambda state: lifecycle.update(CONTEXT, state, changes={"status": "won"}, at=START, by_id=1),
            "cannot",
        ),
        (
            lambda state: lifecycle.update(
                CONTEXT, state, changes={"owner": lifecycle.OwnerInfo(6, None, False)}, at=START, by_id=1
            ),
            "active user",
        ),
        (
            lambda state: lifecycle.update(
                CONTEXT, state, changes={"probability_override": 101}, at=START, by_id=1
            ),
            "0 to 100",
        ),
    ],
)
def test_refusals(step, message):
    with pytest.raises(ApplicationError, match=message):
        step(new_deal().state)


# --- properties over random histories ----------------------------------------------------------------

steps = st.lists(
    st.one_of(
        st.tuples(st.just("move"), st.sampled_from(STAGES)),
        st.tuples(st.just("win"), st.booleans()),
        st.tuples(st.just("lose"), st.just(PRICE)),
        st.tuples(st.just("reopen"), st.sampled_from(STAGES)),
        st.tuples(
            st.just("update"),
            st.fixed_dictionaries(
                {},
                optional={
                    "amount_minor": st.integers(min_value=0, max_value=10**9),
                    "currency": st.sampled_from(["EUR", "USD", "JPY"]),
                    "expected_close_on": st.dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
                    "probability_override": st.one_of(st.none(), st.integers(0, 100)),
                    "forecast_category_override": st.sampled_from(["", "commit", "best_case"]),
                    "owner": st.sampled_from([OWNER, lifecycle.OwnerInfo(6, None, True)]),
                    "title": st.sampled_from(["Acme", "Acme renewal"]),
                },
            ),
        ),
    ),
    max_size=12,
)


def apply(state: lifecycle.DealState, step: tuple, at: dt.datetime) -> lifecycle.Change:
    kind, argument = step
    if kind == "move":
        return lifecycle.move(CONTEXT, state, stage=argument, at=at, by_id=5)
    if kind == "win":
        return lifecycle.win(CONTEXT, state, won_stage=WON_STAGE, at=at, by_id=5, schedule_follow_up=argument)
    if kind == "lose":
        return lifecycle.lose(CONTEXT, state, reason=argument, lost_stage=LOST_STAGE, at=at, by_id=5)
    if kind == "reopen":
        return lifecycle.reopen(CONTEXT, state, stage=argument, at=at, by_id=5)
    return lifecycle.update(CONTEXT, state, changes=argument, at=at, by_id=5)


@settings(max_examples=300, deadline=None)
@given(history=steps, hours=st.lists(st.integers(min_value=-30, max_value=24 * 40), min_size=12, max_size=12))
def test_any_history_keeps_the_invariants(history, hours):
    change = new_deal()
    state = change.state
    open_spells = [change.spell_open]
    at = START
    for step, offset in zip(history, hours, strict=False):
        at = at + dt.timedelta(hours=offset)  # sometimes backwards: imports backdate
        try:
            change = apply(state, step, at)
        except ApplicationError:
            continue  # a refusal changes nothing: the state stays as it was
        before, state = state, change.state
        # One version per change that changed something, none otherwise.
        assert state.version == before.version + (0 if change.is_empty else 1)
        assert change.is_empty == (state is before)
        # Spells: a close ends the one open spell, an open starts the next; an open deal has exactly one.
        if change.spell_close is not None:
            assert open_spells and change.spell_close.duration_days >= 0
            assert change.spell_close.exited_at >= before.stage_entered_at
            open_spells.pop()
        if change.spell_open is not None:
            assert not open_spells
            open_spells.append(change.spell_open)
        assert len(open_spells) == (1 if state.status == "open" else 0)
        if open_spells:
            assert open_spells[0].stage_id == state.stage.pk
        # The stage matches the status, and closed deals carry their write-time fields.
        assert state.stage.kind == {"open": "open", "won": "won", "lost": "lost"}[state.status]
        if state.status == "open":
            assert state.closed_on is state.cycle_days is state.amount_base_minor is None
        else:
            assert state.closed_on is not None and state.cycle_days is not None and state.cycle_days >= 0
            assert state.amount_base_minor == RATES.to_base_minor(
                state.amount_minor, state.currency, state.closed_on
            )
        assert state.last_activity_at >= before.last_activity_at or step[0] == "reopen"
        # Every event carries the deal's amount after the change.
        for event in change.events:
            assert (event.amount_minor, event.currency) == (state.amount_minor, state.currency)


@settings(max_examples=200, deadline=None)
@given(history=steps)
def test_applying_an_update_twice_changes_nothing_the_second_time(history):
    state = new_deal().state
    for kind, argument in history:
        if kind != "update":
            continue
        first = lifecycle.update(CONTEXT, state, changes=argument, at=START, by_id=5)
        again = lifecycle.update(CONTEXT, first.state, changes=argument, at=START, by_id=5)
        assert again.is_empty and not again.events
        state = first.state


def test_state_replace_copies_like_dataclasses_replace():
    from dealflow.deals.lifecycle.state import state_replace

    state = new_deal().state
    assert not hasattr(lifecycle.DealState, "__post_init__")  # state_replace would skip it
    assert state_replace(state) == state and state_replace(state) is not state
    for number, field in enumerate(dataclasses.fields(lifecycle.DealState)):
        value = ("x", number)  # differs from every real value
        copy = state_replace(state, **{field.name: value})
        assert copy == dataclasses.replace(state, **{field.name: value})
        assert getattr(copy, field.name) == value and getattr(state, field.name) != value
    with pytest.raises(TypeError):
        state_replace(state, colour="red")
    with pytest.raises(dataclasses.FrozenInstanceError):
        state_replace(state).title = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "cls",
    [
        lifecycle.OwnerInfo,
        lifecycle.DealState,
        lifecycle.Event,
        lifecycle.SpellOpen,
        lifecycle.SpellClose,
        lifecycle.FollowUp,
        lifecycle.Change,
    ],
)
def test_quick_init_builds_what_the_dataclass_init_builds(cls):
    """The generated ``__init__`` of the lifecycle's value classes: same arguments, same fields, still frozen."""
    fields = dataclasses.fields(cls)
    reference = dataclasses.make_dataclass(
        "Reference",
        [
            (field.name, field.type)
            if field.default is dataclasses.MISSING
            else (field.name, field.type, dataclasses.field(default=field.default))
            for field in fields
        ],
        frozen=True,
    )
    values = [("value", number) for number, _field in enumerate(fields)]
    by_position, by_name = cls(*values), cls(**{field.name: value for field, value in zip(fields, values)})
    assert by_position == by_name
    assert dataclasses.astuple(by_position) == dataclasses.astuple(reference(*values))
    required = [field for field in fields if field.default is dataclasses.MISSING]
    shortest = cls(*values[: len(required)])  # the defaults fill the rest, as the dataclass's own do
    expected = reference(*values[: len(required)])
    assert [getattr(shortest, field.name) for field in fields] == [
        getattr(expected, field.name) for field in fields
    ]
    with pytest.raises(TypeError):
        cls(*values, "one too many")
    with pytest.raises(TypeError):
        cls(**{field.name: value for field, value in zip(fields, values)}, colour="red")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(by_position, fields[0].name, "x")
