"""Quote reads behind the deal's access gate: a quote is visible to whoever may see its deal."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from dealflow.accounts.models import User
from dealflow.deals.models import Deal
from dealflow.deals.selectors import deal_get_for_user
from dealflow.quotes.models import Quote, QuoteRule


def quote_list_for_deal(*, deal_id: int, user: User) -> QuerySet[Quote]:
    """A deal's quotes, newest number and version first (404 when the deal is not the user's to see)."""
    return quote_list_of(deal=deal_get_for_user(deal_id=deal_id, user=user)).prefetch_related("lines")


def quote_list_of(*, deal: Deal) -> QuerySet[Quote]:
    """The quotes of a deal the caller already passed the gate for, without their lines."""
    return Quote.objects.filter(deal=deal).order_by("-number", "-version")


def quote_get_for_user(*, quote_id: int, user: User, for_write: bool = False) -> Quote:
    """One quote whose deal the user may see; 404 for a missing quote and for someone else's alike."""
    quote = Quote.objects.filter(pk=quote_id).first()
    if quote is None:
        raise Http404("No such quote.")
    quote.deal = deal_get_for_user(deal_id=quote.deal_id, user=user, for_write=for_write)
    return quote


def quote_rule_for_pipeline(*, pipeline_id: int) -> QuoteRule | None:
    return (
        QuoteRule.objects.select_related("accept_stage", "decline_reason")
        .filter(pipeline_id=pipeline_id)
        .first()
    )
