from decimal import Decimal

import pytest

from dealflow.deals import services
from dealflow.deals.models import DealEvent, StageSpell
from dealflow.deals.tests.factories import DealFactory, lost_reason, stage_named


@pytest.mark.django_db
def test_a_deal_walks_the_pipeline_and_leaves_a_history(rep):
    deal = DealFactory(owner=rep, amount=Decimal("1200.50"))
    services.deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
    services.deal_mark_lost(deal=deal, reason=lost_reason(), by=rep)
    services.deal_reopen(deal=deal, by=rep)
    services.deal_mark_won(deal=deal, by=rep)
    kinds = list(DealEvent.objects.filter(deal=deal).values_list("kind", flat=True))
    assert kinds == ["created", "stage_changed", "lost", "reopened", "won"]
    assert StageSpell.objects.filter(deal=deal).count() == 3
    assert deal.amount_base_minor == 120050
