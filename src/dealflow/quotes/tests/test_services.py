"""Quotes: numbers and versions, frozen once sent, e-mailed with the PDF, accept/decline and the deal."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core import mail

from dealflow.core.errors import ApplicationError
from dealflow.deals.models import DealEvent, DealStatus
from dealflow.deals.services import deal_lines_set
from dealflow.deals.tests.factories import DealFactory, default_pipeline, lost_reason, stage_named
from dealflow.products.tests.factories import ProductFactory
from dealflow.quotes.models import QuoteStatus
from dealflow.quotes.rendering import quote_html, quote_pdf
from dealflow.quotes.services import (
    quote_create,
    quote_mark_accepted,
    quote_mark_declined,
    quote_rule_set,
    quote_send,
    quote_update,
)

pytestmark = pytest.mark.django_db
DAY = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def deal(rep):
    seat = ProductFactory(
        name="Seat", code="SEAT", prices={"EUR": "49.00"}, billing="monthly", term_months=12, tax_rate="21"
    )
    onboarding = ProductFactory(name="Onboarding", code="ONB", prices={"EUR": "1500.00"}, tax_rate="21")
    with time_machine.travel(DAY, tick=False):
        deal = DealFactory(owner=rep, amount=Decimal("0"))
        deal_lines_set(deal=deal, lines=[{"product": seat, "quantity": 10}, {"product": onboarding}], by=rep)
    return deal


def test_a_quote_copies_the_lines_and_totals(deal, rep):
    with time_machine.travel(DAY, tick=False):
        quote = quote_create(deal=deal, by=rep, recipient_email="buyer@example.com", language="nl")
    # Seats 10 x 49.00 = 490.00 a month (tax 102.90); onboarding 1,500.00 (tax 315.00).
    assert (quote.number, quote.version, quote.status) == ("Q-2026-0001", 1, QuoteStatus.DRAFT)
    assert (quote.net_minor, quote.tax_minor, quote.gross_minor) == (199000, 41790, 240790)
    assert (quote.one_off_minor, quote.mrr_minor, quote.tcv_minor) == (150000, 49000, 150000 + 588000)
    assert quote.valid_until == dt.date(2027, 1, 6)  # 30 days
    html = quote_html(quote=quote)
    assert "Offerte" in html and "€ 1.500,00" in html and "€ 2.407,90" in html and "06-01-2027" in html
    assert quote_pdf(quote=quote).startswith(b"%PDF")


def test_sent_quote_is_frozen_and_a_new_version_supersedes_it(deal, rep):
    with time_machine.travel(DAY, tick=False):
        first = quote_create(deal=deal, by=rep, recipient_email="buyer@example.com")
        with pytest.raises(ApplicationError):
            quote_create(deal=deal, by=rep)  # a draft is open
        with pytest.raises(ApplicationError):
            quote_update(quote=first, data={"colour": 1})
        quote_update(quote=first, data={"terms": "Net 30 days."})
        quote_send(quote=first, by=rep)
    first.refresh_from_db()
    assert first.status == QuoteStatus.SENT and first.terms == "Net 30 days."
    with pytest.raises(ApplicationError) as error:
        quote_update(quote=first, data={"terms": "changed"})
    assert "cannot change" in error.value.message
    with pytest.raises(ApplicationError):
        quote_send(quote=first, by=rep)
    with time_machine.travel(DAY + dt.timedelta(days=2), tick=False):
        second = quote_create(deal=deal, by=rep)
        assert (second.number, second.version, second.terms) == ("Q-2026-0001", 2, "Net 30 days.")
        quote_send(quote=second, by=rep)
    first.refresh_from_db()
    assert first.status == QuoteStatus.SUPERSEDED
    with pytest.raises(ApplicationError):
        quote_mark_accepted(quote=first, by=rep)  # only the live version can be decided
    with time_machine.travel(DAY + dt.timedelta(days=3), tick=False):
        quote_mark_accepted(quote=second, by=rep)
    events = list(
        DealEvent.objects.filter(deal=deal, field="quote").order_by("id").values_list("to_value", flat=True)
    )
    assert events == [
        "Q-2026-0001 v1 drafted",
        "Q-2026-0001 v1 sent",
        "Q-2026-0001 v2 drafted",
        "Q-2026-0001 v2 sent",
        "Q-2026-0001 v2 accepted",
    ]


def test_sending_mails_the_pdf_in_the_customers_language(deal, rep, django_capture_on_commit_callbacks):
    with time_machine.travel(DAY, tick=False):
        quote = quote_create(deal=deal, by=rep, recipient_email="klant@example.nl", language="nl")
        with django_capture_on_commit_callbacks(execute=True):
            quote_send(quote=quote, by=rep)
    (message,) = mail.outbox
    assert message.to == ["klant@example.nl"]
    assert message.subject == "Offerte Q-2026-0001"
    name, content, mimetype = message.attachments[0]
    assert (name, mimetype) == ("Q-2026-0001-v1.pdf", "application/pdf") and content.startswith(b"%PDF")


def test_a_quote_needs_lines_and_one_currency(rep):
    empty = DealFactory(owner=rep)
    with pytest.raises(ApplicationError) as error:
        quote_create(deal=empty, by=rep)
    assert error.value.field == "lines"


def test_pipeline_rule_moves_wins_or_loses_the_deal(deal, rep, admin_user):
    pipeline = default_pipeline()
    quote_rule_set(
        pipeline=pipeline, on_accept="move", accept_stage=stage_named("Negotiation"), by=admin_user
    )
    quote = quote_create(deal=deal, by=rep, recipient_email="b@example.com")
    quote_send(quote=quote, by=rep, send_email=False)
    quote_mark_accepted(quote=quote, by=rep)
    deal.refresh_from_db()
    assert deal.stage.name == "Negotiation"

    other = DealFactory(owner=rep)
    deal_lines_set(deal=other, lines=[{"description": "Work", "unit_price": "100"}], by=rep)
    quote_rule_set(pipeline=pipeline, on_decline="lose", decline_reason=lost_reason("Price"), by=admin_user)
    declined = quote_create(deal=other, by=rep)
    quote_send(quote=declined, by=rep, send_email=False)
    quote_mark_declined(quote=declined, by=rep)
    other.refresh_from_db()
    assert (other.status, other.lost_reason.name) == (DealStatus.LOST, "Price")

    with pytest.raises(ApplicationError) as error:
        quote_rule_set(pipeline=pipeline, on_accept="move")
    assert error.value.field == "accept_stage"


def test_a_failed_send_leaves_the_quote_a_draft(deal, rep, monkeypatch):
    import smtplib

    from django.core.mail import EmailMessage

    def refuse(self, fail_silently=False):
        raise smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"no such user")})

    monkeypatch.setattr(EmailMessage, "send", refuse)
    quote = quote_create(deal=deal, by=rep, recipient_email="x@example.com")
    with pytest.raises(ApplicationError) as error:
        quote_send(quote=quote, by=rep)
    assert error.value.field == "recipient_email" and "still a draft" in error.value.message
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.DRAFT
