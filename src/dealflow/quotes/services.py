"""Quote writes: create (a new number, or the next version of a sent one), edit a draft, send (frozen from
then on, e-mailed with its PDF), accept or decline (an event on the deal, and what the pipeline's rule says)."""

from __future__ import annotations

import datetime as dt
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import formats, translation

from dealflow.accounts.models import User
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Deal, EventKind, LostReason, Pipeline, Stage
from dealflow.deals.services import deal_mark_lost, deal_mark_won, deal_move_to_stage
from dealflow.deals.services.history import event_record, local_date
from dealflow.products.calculations import deal_totals, line_totals
from dealflow.products.models import DealLine
from dealflow.quotes.models import AcceptAction, DeclineAction, Quote, QuoteLine, QuoteRule, QuoteStatus
from dealflow.quotes.rendering import quote_filename, quote_pdf

DEFAULT_VALID_DAYS = 30
LANGUAGES = ("en", "nl")


def _frozen_error(quote: Quote) -> ApplicationError:
    return ApplicationError(
        f"Quote {quote.number} v{quote.version} was sent and cannot change; create a new version.",
        field="status",
    )


def _language(value: Any, deal: Deal) -> str:
    language = str(value or "").strip().lower()[:2]
    if not language:
        person_language = getattr(deal.person, "language", "") if deal.person_id else ""
        country = deal.organization.country if deal.organization is not None else ""
        language = person_language or ("nl" if country in ("NL", "BE") else "en")
    if language not in LANGUAGES:
        raise ApplicationError("A quote is in English (en) or Dutch (nl).", field="language")
    return language


def _valid_until(value: Any, today: dt.date) -> dt.date:
    if value in (None, ""):
        return today + dt.timedelta(days=DEFAULT_VALID_DAYS)
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError as error:
            raise ApplicationError(f"{value!r} is not a date (YYYY-MM-DD).", field="valid_until") from error
    if not isinstance(value, dt.date):
        raise ApplicationError("Valid until must be a date.", field="valid_until")
    if value < today:
        raise ApplicationError("A quote must be valid until today or later.", field="valid_until")
    return value


def _email(value: Any) -> str:
    text = str(value or "").strip()
    if text:
        try:
            validate_email(text)
        except Exception as error:
            raise ApplicationError(f"{text!r} is not an e-mail address.", field="recipient_email") from error
    return text


def _copy_lines(quote: Quote) -> None:
    """Copy the deal's lines into the quote and total them (one currency: the deal's)."""
    deal_lines = list(
        DealLine.objects.filter(deal_id=quote.deal_id).select_related("product").order_by("position", "id")
    )
    if not deal_lines:
        raise ApplicationError("Add line items to the deal before making a quote.", field="lines")
    quote.lines.all().delete()
    priced = []
    for index, line in enumerate(deal_lines):
        if line.currency != quote.currency:
            raise ApplicationError(
                f"Line {index + 1} is in {line.currency}; a quote is in one currency ({quote.currency}).",
                field=f"lines.{index}.currency",
            )
        totals = line_totals(line.price)
        priced.append((totals, line.currency, line.rate_to_deal))
        QuoteLine.objects.create(
            quote=quote,
            position=index,
            product_code=line.product.code if line.product else "",
            description=line.description,
            unit=line.product.unit if line.product else "",
            quantity=line.quantity,
            unit_price_minor=line.unit_price_minor,
            discount_percent=line.discount_percent,
            tax_rate=line.tax_rate,
            billing=line.billing,
            term_months=line.term_months,
            net_minor=totals.net_minor,
            tax_minor=totals.tax_minor,
            tcv_minor=totals.tcv_minor,
        )
    summed = deal_totals(priced, currency=quote.currency)
    quote.net_minor, quote.tax_minor = summed.net_minor, summed.tax_minor
    quote.one_off_minor, quote.mrr_minor, quote.tcv_minor = (
        summed.one_off_minor,
        summed.mrr_minor,
        summed.tcv_minor,
    )


def _customer_name(deal: Deal) -> str:
    if deal.organization is not None:
        return deal.organization.name
    return str(deal.person) if deal.person is not None else ""


def _next_number(year: int) -> str:
    prefix = f"Q-{year}-"
    numbers = Quote.objects.filter(number__startswith=prefix).values_list("number", flat=True)
    highest = max((int(number.removeprefix(prefix)) for number in numbers), default=0)
    return f"{prefix}{highest + 1:04d}"


def _event(quote: Quote, what: str, by: User | None, at: dt.datetime, origin: str) -> None:
    event_record(
        deal=quote.deal,
        kind=EventKind.FIELD_CHANGED,
        by=by,
        at=at,
        field="quote",
        to_value=f"{quote.number} v{quote.version} {what}",
        origin=origin,
    )


def quote_create(
    *,
    deal: Deal,
    by: User | None,
    language: str = "",
    valid_until: Any = None,
    terms: str = "",
    recipient_email: str = "",
    origin: str = "",
) -> Quote:
    """A draft quote of the deal's lines: the next version of its sent or declined quote, else a new number."""
    moment = clock.now()
    latest = Quote.objects.filter(deal=deal).order_by("-created_at", "-id").first()
    if latest is not None and latest.status == QuoteStatus.DRAFT:
        raise ApplicationError(
            f"Quote {latest.number} v{latest.version} is still a draft; edit or send it first.", field="deal"
        )
    if latest is not None and latest.status == QuoteStatus.ACCEPTED:
        raise ApplicationError(
            f"Quote {latest.number} was accepted; the deal needs no new quote.", field="deal"
        )
    fields = {
        "deal": deal,
        "language": _language(language or (latest.language if latest else ""), deal),
        "currency": deal.currency,
        "valid_until": _valid_until(valid_until, local_date(moment)),
        "terms": str(terms or (latest.terms if latest else "")),
        "customer_name": _customer_name(deal),
        "recipient_email": _email(
            recipient_email
            or (latest.recipient_email if latest else "")
            or (deal.person.email if deal.person is not None else "")
        ),
        "created_by": by,
        "created_at": moment,
    }
    for _attempt in range(5):  # two quotes numbered at once: the unique constraint makes one retry
        try:
            with transaction.atomic():
                if latest is not None:
                    quote = Quote(number=latest.number, version=_last_version(latest.number) + 1, **fields)
                else:
                    quote = Quote(number=_next_number(moment.year), version=1, **fields)
                quote.save()
                _copy_lines(quote)
                quote.save()
                _event(quote, "drafted", by, moment, origin)
                return quote
        except IntegrityError:
            continue
    raise ApplicationError("Could not number the quote; try again.", field="number")


def _last_version(number: str) -> int:
    return (
        Quote.objects.filter(number=number).order_by("-version").values_list("version", flat=True).first()
        or 0
    )


_EDITABLE = {"language", "valid_until", "terms", "recipient_email", "refresh_lines"}


@transaction.atomic
def quote_update(*, quote: Quote, data: dict[str, Any], by: User | None = None) -> Quote:
    """Edit a draft: language, validity, terms, recipient, or take the deal's current lines again."""
    if quote.is_frozen:
        raise _frozen_error(quote)
    unknown = set(data) - _EDITABLE
    if unknown:
        name = sorted(unknown)[0]
        raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
    if "language" in data:
        quote.language = _language(data["language"], quote.deal)
    if "valid_until" in data:
        quote.valid_until = _valid_until(data["valid_until"], local_date(clock.now()))
    if "terms" in data:
        quote.terms = str(data["terms"] or "")
    if "recipient_email" in data:
        quote.recipient_email = _email(data["recipient_email"])
    if data.get("refresh_lines"):
        quote.currency = quote.deal.currency
        _copy_lines(quote)
    quote.save()
    return quote


@transaction.atomic
def quote_send(*, quote: Quote, by: User | None, send_email: bool = True, origin: str = "") -> Quote:
    """Freeze a draft and e-mail it with its PDF; the version it replaces is superseded."""
    if quote.is_frozen:
        raise _frozen_error(quote)
    if send_email and not quote.recipient_email:
        raise ApplicationError(
            "Give the recipient's e-mail address to send the quote.", field="recipient_email"
        )
    if quote.valid_until < local_date(clock.now()):
        raise ApplicationError("The quote's validity date has passed; change it first.", field="valid_until")
    moment = clock.now()
    Quote.objects.filter(number=quote.number, status=QuoteStatus.SENT).exclude(pk=quote.pk).update(
        status=QuoteStatus.SUPERSEDED
    )
    quote.status = QuoteStatus.SENT
    quote.sent_at = moment
    quote.save(update_fields=["status", "sent_at", "updated_at"])
    if send_email:
        pdf = quote_pdf(quote=quote)
        with translation.override(quote.language):
            subject = translation.gettext("Quote %(number)s") % {"number": quote.number}
            body = translation.gettext(
                "Please find attached our quote %(number)s (version %(version)s), valid until %(day)s."
            ) % {
                "number": quote.number,
                "version": quote.version,
                "day": formats.date_format(quote.valid_until, "SHORT_DATE_FORMAT"),
            }
        message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [quote.recipient_email])
        message.attach(quote_filename(quote=quote), pdf, "application/pdf")
        try:
            message.send()  # inside the transaction: a failed send leaves the quote a draft
        except (OSError, smtplib.SMTPException) as error:
            raise ApplicationError(
                f"The e-mail to {quote.recipient_email} could not be sent ({error}); the quote is still a draft.",
                field="recipient_email",
            ) from error
    _event(quote, "sent", by, moment, origin)
    return quote


def _decidable(quote: Quote) -> None:
    if quote.status != QuoteStatus.SENT:
        raise ApplicationError(
            f"Only a sent quote can be accepted or declined; this one is {quote.get_status_display().lower()}.",
            field="status",
        )


@transaction.atomic
def quote_mark_accepted(*, quote: Quote, by: User | None, origin: str = "") -> Quote:
    """Record the customer's yes; the pipeline's rule may move the deal or mark it won."""
    _decidable(quote)
    moment = clock.now()
    quote.status, quote.decided_at = QuoteStatus.ACCEPTED, moment
    quote.save(update_fields=["status", "decided_at", "updated_at"])
    _event(quote, "accepted", by, moment, origin)
    rule = QuoteRule.objects.filter(pipeline_id=quote.deal.pipeline_id).select_related("accept_stage").first()
    deal = Deal.objects.select_related("stage", "pipeline").get(pk=quote.deal_id)
    if rule is not None and deal.is_open:
        note = f"quote {quote.number} v{quote.version} accepted"
        if rule.on_accept == AcceptAction.WIN:
            deal_mark_won(deal=deal, by=by, origin=origin, note=note)
        elif (
            rule.on_accept == AcceptAction.MOVE
            and rule.accept_stage
            and rule.accept_stage.pk != deal.stage_id
        ):
            deal_move_to_stage(deal=deal, stage=rule.accept_stage, by=by, origin=origin, note=note)
    return quote


@transaction.atomic
def quote_mark_declined(*, quote: Quote, by: User | None, origin: str = "") -> Quote:
    """Record the customer's no; the pipeline's rule may mark the deal lost."""
    _decidable(quote)
    moment = clock.now()
    quote.status, quote.decided_at = QuoteStatus.DECLINED, moment
    quote.save(update_fields=["status", "decided_at", "updated_at"])
    _event(quote, "declined", by, moment, origin)
    rule = (
        QuoteRule.objects.filter(pipeline_id=quote.deal.pipeline_id).select_related("decline_reason").first()
    )
    deal = Deal.objects.select_related("stage", "pipeline").get(pk=quote.deal_id)
    if rule is not None and deal.is_open and rule.on_decline == DeclineAction.LOSE:
        deal_mark_lost(
            deal=deal,
            reason=rule.decline_reason,
            by=by,
            origin=origin,
            note=f"quote {quote.number} v{quote.version} declined",
        )
    return quote


@transaction.atomic
def quote_rule_set(
    *,
    pipeline: Pipeline,
    on_accept: str = AcceptAction.NOTHING,
    accept_stage: Stage | None = None,
    on_decline: str = DeclineAction.NOTHING,
    decline_reason: LostReason | None = None,
    by: User | None = None,
) -> QuoteRule:
    """Say what accepting and declining a quote does to a deal of this pipeline (admins)."""
    if on_accept not in AcceptAction.values:
        raise ApplicationError("On accept: nothing, move or win.", field="on_accept")
    if on_decline not in DeclineAction.values:
        raise ApplicationError("On decline: nothing or lose.", field="on_decline")
    if on_accept == AcceptAction.MOVE:
        if accept_stage is None or accept_stage.pipeline_id != pipeline.pk or accept_stage.is_closed:
            raise ApplicationError(
                "Pick an open stage of this pipeline to move accepted deals to.", field="accept_stage"
            )
    else:
        accept_stage = None
    if on_decline == DeclineAction.LOSE:
        if decline_reason is None or not decline_reason.is_active:
            raise ApplicationError("Pick the lost reason declined quotes record.", field="decline_reason")
    else:
        decline_reason = None
    rule, _created = QuoteRule.objects.update_or_create(
        pipeline=pipeline,
        defaults={
            "on_accept": on_accept,
            "accept_stage": accept_stage,
            "on_decline": on_decline,
            "decline_reason": decline_reason,
        },
    )
    from dealflow.accounts.services import audit_record

    audit_record(
        actor=by,
        action="settings.quote_rule_set",
        target=f"pipeline:{pipeline.pk}",
        detail={"on_accept": on_accept, "on_decline": on_decline},
    )
    return rule
