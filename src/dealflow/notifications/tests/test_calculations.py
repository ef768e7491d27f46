import datetime as dt

from dealflow.notifications.calculations import CursorState, cursor_advance, mentioned_usernames

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
WAIT = dt.timedelta(seconds=60)


def test_mentions_are_read_once_each_in_order_and_not_from_email_addresses():
    text = "Thanks @Rep2, see mail from jan@example.com; cc @manager. and @rep2 again, @x.y-"
    assert mentioned_usernames(text) == ["rep2", "manager", "x.y"]


def test_no_mention_in_plain_text():
    assert mentioned_usernames("Price agreed at 10 @ 5% discount") == []


def test_cursor_reads_on_without_gaps():
    state = cursor_advance(state=CursorState(10, {}), read_ids=[11, 12, 13], now=NOW, gap_wait=WAIT)
    assert (state.high, state.missing, state.position) == (13, {}, 13)


def test_a_late_commit_is_waited_for_then_read():
    # 12 was taken by a transaction that had not committed when 11 and 13 were read.
    state = cursor_advance(state=CursorState(10, {}), read_ids=[11, 13], now=NOW, gap_wait=WAIT)
    assert state.missing == {12: NOW.isoformat()}
    assert state.position == 11  # everything up to 11 is done; 12 will be read again
    later = cursor_advance(state=state, read_ids=[12, 14], now=NOW + dt.timedelta(seconds=5), gap_wait=WAIT)
    assert (later.high, later.missing, later.position) == (14, {}, 14)


def test_a_gap_is_given_up_after_the_wait():
    state = cursor_advance(state=CursorState(10, {}), read_ids=[11, 13], now=NOW, gap_wait=WAIT)
    still = cursor_advance(state=state, read_ids=[], now=NOW + dt.timedelta(seconds=59), gap_wait=WAIT)
    assert still.missing == {12: NOW.isoformat()}
    gone = cursor_advance(state=state, read_ids=[], now=NOW + dt.timedelta(seconds=61), gap_wait=WAIT)
    assert (gone.missing, gone.position) == ({}, 13)
