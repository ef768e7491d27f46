"""Two writers move the same deal at the same moment: exactly one wins, the other gets the conflict.

Each writer runs in its own thread with its own PostgreSQL connection. Both read the deal (same version),
meet at a barrier, then move it to different stages. The winner keeps its transaction open a little after
its UPDATE so the loser's UPDATE really waits on the row lock before it re-reads the row and matches nothing.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from dealflow.accounts.tests.factories import UserFactory
from dealflow.core.errors import ConflictError
from dealflow.deals.models import Deal, DealEvent, StageSpell
from dealflow.deals.services import deal_move_to_stage
from dealflow.deals.tests.factories import DealFactory, stage_named

ROUNDS = 10


def race(deal_id: int, stages, by) -> dict[str, str]:
    barrier = threading.Barrier(len(stages), timeout=20)
    outcomes: dict[str, str] = {}

    def writer(stage) -> None:
        try:
            copy = Deal.objects.select_related("stage").get(pk=deal_id)
            barrier.wait()
            with transaction.atomic():
                deal_move_to_stage(deal=copy, stage=stage, by=by, origin="race")
                time.sleep(0.05)  # hold the row lock while the other writer's UPDATE waits for it
            outcomes[stage.name] = "moved"
        except ConflictError:
            outcomes[stage.name] = "conflict"
        except Exception as error:  # surfaced by the assertion below
            outcomes[stage.name] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(stage,)) for stage in stages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_writers_moving_one_deal_one_wins_and_the_log_matches():
    rep = UserFactory(username="racer")
    proposal, negotiation = stage_named("Proposal"), stage_named("Negotiation")
    winners = set()
    for _ in range(ROUNDS):
        deal = DealFactory(owner=rep)
        outcomes = race(deal.pk, [proposal, negotiation], rep)
        assert sorted(outcomes.values()) == ["conflict", "moved"], outcomes
        winner = next(name for name, outcome in outcomes.items() if outcome == "moved")
        winners.add(winner)

        stored = Deal.objects.select_related("stage").get(pk=deal.pk)
        assert (stored.stage.name, stored.version) == (winner, 2)
        events = list(
            DealEvent.objects.filter(deal=deal).order_by("id").values_list("kind", "from_value", "to_value")
        )
        assert events == [("created", "", "Qualification"), ("stage_changed", "Qualification", winner)]
        spells = list(
            StageSpell.objects.filter(deal=deal)
            .order_by("id")
            .values_list("stage__name", "exit_kind", "next_stage")
        )
        assert spells == [("Qualification", "forward", stored.stage_id), (winner, "", None)]
    assert winners <= {"Proposal", "Negotiation"}
