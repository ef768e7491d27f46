"""Quotes of a deal: create, edit a draft, send (frozen, e-mailed with its PDF), accept, decline, PDF."""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse
from ninja import Router, Schema, Status

from dealflow.api.base import ApiRequest
from dealflow.api.schemas import Id, decimal_text, money_text
from dealflow.deals.selectors import (
    deal_get_for_user,
    lost_reason_get,
    pipeline_get,
    settings_check_admin,
    stage_get,
)
from dealflow.quotes.models import Quote, QuoteLine
from dealflow.quotes.rendering import quote_filename, quote_pdf
from dealflow.quotes.selectors import quote_get_for_user, quote_list_for_deal, quote_rule_for_pipeline
from dealflow.quotes.services import (
    quote_create,
    quote_mark_accepted,
    quote_mark_declined,
    quote_rule_set,
    quote_send,
    quote_update,
)

router = Router(tags=["Quotes"])


class QuoteLineOut(Schema):
    position: int
    product_code: str
    description: str
    unit: str
    quantity: str
    unit_price: str
    discount_percent: str
    tax_rate: str
    billing: str
    term_months: int | None
    net: str
    tax: str


class QuoteOut(Schema):
    id: int
    deal_id: int
    number: str
    version: int
    status: str
    language: str
    currency: str
    valid_until: dt.date
    terms: str
    customer_name: str
    recipient_email: str
    net: str
    tax: str
    gross: str
    one_off: str
    mrr: str
    tcv: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    decided_at: dt.datetime | None
    lines: list[QuoteLineOut]


def _line_out(line: QuoteLine, currency: str) -> dict:
    return {
        "position": line.position,
        "product_code": line.product_code,
        "description": line.description,
        "unit": line.unit,
        "quantity": decimal_text(line.quantity),
        "unit_price": money_text(line.unit_price_minor, currency),
        "discount_percent": decimal_text(line.discount_percent),
        "tax_rate": decimal_text(line.tax_rate),
        "billing": line.billing,
        "term_months": line.term_months,
        "net": money_text(line.net_minor, currency),
        "tax": money_text(line.tax_minor, currency),
    }


def quote_out(quote: Quote) -> dict:
    code = quote.currency
    return {
        **{
            name: getattr(quote, name)
            for name in (
                "id",
                "deal_id",
                "number",
                "version",
                "status",
                "language",
                "currency",
                "valid_until",
                "terms",
                "customer_name",
                "recipient_email",
                "created_at",
                "sent_at",
                "decided_at",
            )
        },
        "net": money_text(quote.net_minor, code),
        "tax": money_text(quote.tax_minor, code),
        "gross": money_text(quote.gross_minor, code),
        "one_off": money_text(quote.one_off_minor, code),
        "mrr": money_text(quote.mrr_minor, code),
        "tcv": money_text(quote.tcv_minor, code),
        "lines": [_line_out(line, code) for line in quote.lines.all()],
    }


class QuoteIn(Schema):
    language: str = ""  # en or nl; default: the customer's (an organisation in NL or BE: nl)
    valid_until: dt.date | None = None  # default: 30 days from today
    terms: str = ""
    recipient_email: str = ""


class QuoteUpdateIn(Schema):
    language: str | None = None
    valid_until: dt.date | None = None
    terms: str | None = None
    recipient_email: str | None = None
    refresh_lines: bool | None = None  # take the deal's current lines again


class QuoteSendIn(Schema):
    send_email: bool = True


@router.get("/deals/{deal_id}/quotes", response=list[QuoteOut])
def list_quotes(request: ApiRequest, deal_id: Id):
    """A deal's quotes, newest first (every version)."""
    return [quote_out(quote) for quote in quote_list_for_deal(deal_id=deal_id, user=request.user)]


@router.post("/deals/{deal_id}/quotes", response={201: QuoteOut})
def create_quote(request: ApiRequest, deal_id: Id, payload: QuoteIn):
    """A draft quote of the deal's lines: a new version of its sent quote, or a new number."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    quote = quote_create(deal=deal, by=request.user, origin="api", **payload.dict())
    return Status(201, quote_out(quote))


@router.get("/quotes/{quote_id}", response=QuoteOut)
def get_quote(request: ApiRequest, quote_id: Id):
    return quote_out(quote_get_for_user(quote_id=quote_id, user=request.user))


@router.patch("/quotes/{quote_id}", response=QuoteOut)
def update_quote(request: ApiRequest, quote_id: Id, payload: QuoteUpdateIn):
    """Edit a draft; a sent quote answers 400 (create a new version instead)."""
    quote = quote_get_for_user(quote_id=quote_id, user=request.user, for_write=True)
    return quote_out(quote_update(quote=quote, data=payload.dict(exclude_unset=True), by=request.user))


@router.post("/quotes/{quote_id}/send", response=QuoteOut)
def send_quote(request: ApiRequest, quote_id: Id, payload: QuoteSendIn):
    """Freeze the draft and e-mail it with its PDF (`send_email: false` only marks it sent)."""
    quote = quote_get_for_user(quote_id=quote_id, user=request.user, for_write=True)
    return quote_out(quote_send(quote=quote, by=request.user, send_email=payload.send_email, origin="api"))


@router.post("/quotes/{quote_id}/accept", response=QuoteOut)
def accept_quote(request: ApiRequest, quote_id: Id):
    """Record that the customer accepted; the pipeline's quote rule may move or win the deal."""
    quote = quote_get_for_user(quote_id=quote_id, user=request.user, for_write=True)
    return quote_out(quote_mark_accepted(quote=quote, by=request.user, origin="api"))


@router.post("/quotes/{quote_id}/decline", response=QuoteOut)
def decline_quote(request: ApiRequest, quote_id: Id):
    """Record that the customer declined; the pipeline's quote rule may mark the deal lost."""
    quote = quote_get_for_user(quote_id=quote_id, user=request.user, for_write=True)
    return quote_out(quote_mark_declined(quote=quote, by=request.user, origin="api"))


@router.get("/quotes/{quote_id}/pdf", response={200: bytes})
def quote_pdf_download(request: ApiRequest, quote_id: Id):
    """The quote as a PDF file."""
    quote = quote_get_for_user(quote_id=quote_id, user=request.user)
    response = HttpResponse(quote_pdf(quote=quote), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{quote_filename(quote=quote)}"'
    return response


class QuoteRuleOut(Schema):
    pipeline_id: int
    on_accept: str
    accept_stage_id: int | None
    on_decline: str
    decline_reason_id: int | None


class QuoteRuleIn(Schema):
    on_accept: str = "nothing"  # nothing, move or win
    accept_stage_id: Id | None = None
    on_decline: str = "nothing"  # nothing or lose
    decline_reason_id: Id | None = None


def _rule_out(pipeline_id: int) -> dict:
    rule = quote_rule_for_pipeline(pipeline_id=pipeline_id)
    if rule is None:
        return {
            "pipeline_id": pipeline_id,
            "on_accept": "nothing",
            "accept_stage_id": None,
            "on_decline": "nothing",
            "decline_reason_id": None,
        }
    return {
        "pipeline_id": pipeline_id,
        "on_accept": rule.on_accept,
        "accept_stage_id": rule.accept_stage_id,
        "on_decline": rule.on_decline,
        "decline_reason_id": rule.decline_reason_id,
    }


@router.get("/pipelines/{pipeline_id}/quote-rule", response=QuoteRuleOut, tags=["Settings"])
def get_quote_rule(request: ApiRequest, pipeline_id: Id):
    """What accepting or declining a quote does to a deal of this pipeline."""
    return _rule_out(pipeline_get(pipeline_id=pipeline_id).pk)


@router.put("/pipelines/{pipeline_id}/quote-rule", response=QuoteRuleOut, tags=["Settings"])
def set_quote_rule(request: ApiRequest, pipeline_id: Id, payload: QuoteRuleIn):
    """Set the pipeline's quote rule (admins)."""
    settings_check_admin(user=request.user)
    pipeline = pipeline_get(pipeline_id=pipeline_id)
    quote_rule_set(
        pipeline=pipeline,
        on_accept=payload.on_accept,
        accept_stage=stage_get(stage_id=payload.accept_stage_id, field="accept_stage_id")
        if payload.accept_stage_id
        else None,
        on_decline=payload.on_decline,
        decline_reason=lost_reason_get(reason_id=payload.decline_reason_id, field="decline_reason_id")
        if payload.decline_reason_id
        else None,
        by=request.user,
    )
    return _rule_out(pipeline.pk)
