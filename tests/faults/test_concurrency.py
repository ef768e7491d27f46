"""Concurrent writers on PostgreSQL, each thread with its own connection.

- Two edits (deal_update) or two wins of one deal at the same moment: exactly one succeeds, the other gets
  ConflictError, and the event log holds exactly the winner's events.
- An import that changes deals while a user edits the same deals: neither deadlocks, both finish (the import
  either applies or, when an edit lands between its read and its write, refuses whole with a conflict and
  is run again), and every deal ends with the import's values, the user's edit and one event per change.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, transaction

from dealflow.core.errors import ApplicationError, ConflictError
from dealflow.deals.models import Deal, DealEvent
from dealflow.deals.services import deal_mark_won, deal_update
from dealflow.deals.tests.factories import DealFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 6


def _race(deal_id: int, writers: dict[str, object]) -> dict[str, str]:
    """Run each writer(deal) in its own thread, all starting from the same read of the deal."""
    barrier = threading.Barrier(len(writers), timeout=20)
    outcomes: dict[str, str] = {}

    def run(name: str, write) -> None:
        try:
            copy = Deal.objects.select_related("stage", "pipeline").get(pk=deal_id)
            barrier.wait()
            with transaction.atomic():
                write(copy)
                time.sleep(0.05)  # hold the row lock so the other writer really waits on it
            outcomes[name] = "done"
        except ConflictError:
            outcomes[name] = "conflict"
        except Exception as error:  # shown by the assertion
            outcomes[name] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in writers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    return outcomes


def _events(deal) -> list[tuple[str, str, str]]:
    return list(
        DealEvent.objects.filter(deal=deal).order_by("id").values_list("kind", "from_value", "to_value")
    )


def test_two_edits_of_one_deal_one_wins_and_the_log_matches(rep):
    for _ in range(ROUNDS):
        deal = DealFactory(owner=rep, amount=Decimal("1000"))
        outcomes = _race(
            deal.pk,
            {
                "2000": lambda copy: deal_update(
                    deal=copy, by=rep, data={"amount": Decimal("2000")}, expected_version=copy.version
                ),
                "3000": lambda copy: deal_update(
                    deal=copy, by=rep, data={"amount": Decimal("3000")}, expected_version=copy.version
                ),
            },
        )
        assert sorted(outcomes.values()) == ["conflict", "done"], outcomes
        winner = next(amount for amount, outcome in outcomes.items() if outcome == "done")
        stored = Deal.objects.get(pk=deal.pk)
        assert (stored.amount_minor, stored.version) == (int(winner) * 100, 2)
        changes = [event for event in _events(deal) if event[0] != "created"]
        assert len(changes) == 1 and changes[0][2].startswith(winner), changes


def test_a_win_and_an_edit_of_one_deal_one_wins_and_the_log_matches(rep):
    for _ in range(ROUNDS):
        deal = DealFactory(owner=rep, amount=Decimal("1000"))
        outcomes = _race(
            deal.pk,
            {
                "won": lambda copy: deal_mark_won(deal=copy, by=rep, expected_version=copy.version),
                "edit": lambda copy: deal_update(
                    deal=copy, by=rep, data={"amount": Decimal("5000")}, expected_version=copy.version
                ),
            },
        )
        assert sorted(outcomes.values()) == ["conflict", "done"], outcomes
        stored = Deal.objects.get(pk=deal.pk)
        kinds = [kind for kind, _, _ in _events(deal)]
        if outcomes["won"] == "done":
            assert (stored.status, stored.amount_minor) == ("won", 100000)
            assert kinds[1:] == ["won"]
        else:
            assert (stored.status, stored.amount_minor) == ("open", 500000)
            assert "won" not in kinds and len(kinds) == 2
        assert stored.version == 2


def test_two_wins_of_one_deal_exactly_one_is_recorded(rep):
    for _ in range(ROUNDS):
        deal = DealFactory(owner=rep)
        outcomes = _race(
            deal.pk,
            {
                name: (lambda copy: deal_mark_won(deal=copy, by=rep, expected_version=copy.version))
                for name in ("first", "second")
            },
        )
        assert sorted(outcomes.values()) == ["conflict", "done"], outcomes
        assert [kind for kind, _, _ in _events(deal)].count("won") == 1


HEADER = "Deal - ID,Deal - Title,Deal - Value,Deal - Currency,Deal - Pipeline,Deal - Stage,Deal - Status,Deal - Owner,Deal - Deal created\n"
DEALS = 40


def _sheet(path: Path, *, stage: str, value: int) -> Path:
    rows = [
        f"{number},Concurrent deal {number},{value + number},EUR,Sales,{stage},open,Rita Rep,2026-10-01 10:00:00\n"
        for number in range(1, DEALS + 1)
    ]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def test_an_import_and_edits_of_the_same_deals_do_not_deadlock(rep, admin_user, tmp_path):
    from dealflow.importers.services import import_apply

    import_apply(path=_sheet(tmp_path / "first.csv", stage="Qualification", value=1000), by=admin_user)
    deal_ids = list(
        Deal.objects.filter(title__startswith="Concurrent deal").order_by("id").values_list("id", flat=True)
    )
    assert len(deal_ids) == DEALS
    second = _sheet(tmp_path / "second.csv", stage="Proposal", value=7000)
    failures: list[str] = []
    start = threading.Barrier(2, timeout=20)

    refused: list[str] = []

    def importer() -> None:
        try:
            start.wait()
            import_apply(path=second, by=admin_user)
        except ApplicationError as error:
            refused.append(error.message)  # an edit landed between its read and its write: all or nothing
        except Exception as error:
            failures.append(f"import: {error!r}")
        finally:
            connection.close()

    def editor() -> None:
        try:
            start.wait()
            for deal_id in reversed(deal_ids):  # the other way round from the import, to invite a deadlock
                for _attempt in range(20):
                    deal = Deal.objects.get(pk=deal_id)
                    try:
                        deal_update(
                            deal=deal,
                            by=rep,
                            data={"next_step": f"call {deal_id}"},
                            expected_version=deal.version,
                        )
                        break
                    except ConflictError:
                        continue
                else:
                    failures.append(f"edit of {deal_id} never got through")
        except Exception as error:
            failures.append(f"edit: {error!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=importer), threading.Thread(target=editor)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer hung (deadlock?)"
    assert not failures, failures
    if refused:
        assert "changed by someone else" in refused[0] and "Nothing was imported" in refused[0], refused
        assert not Deal.objects.filter(pk__in=deal_ids).exclude(stage__name="Qualification").exists()
        import_apply(path=second, by=admin_user)  # what the user does next: import again
    for number, deal in enumerate(Deal.objects.filter(pk__in=deal_ids).order_by("id"), start=1):
        assert (deal.stage.name, deal.amount_minor, deal.next_step) == (
            "Proposal",
            (7000 + number) * 100,
            f"call {deal.pk}",
        )
        stage_changes = DealEvent.objects.filter(deal=deal, kind="stage_changed")
        assert list(stage_changes.values_list("from_value", "to_value")) == [("Qualification", "Proposal")]
