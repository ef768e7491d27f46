"""`dealflow quotes list|create|send|accept|decline|pdf`: a deal's quotes from a terminal."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand, acting_user
from dealflow.core.money import from_minor
from dealflow.deals.selectors import deal_get_for_user
from dealflow.quotes.rendering import quote_pdf
from dealflow.quotes.selectors import quote_get_for_user, quote_list_for_deal
from dealflow.quotes.services import (
    quote_create,
    quote_mark_accepted,
    quote_mark_declined,
    quote_send,
    quote_update,
)


class Command(DealflowCommand):
    help = _("Make, send and record the answer to quotes; write a quote's PDF.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help=_("A deal's quotes."))
        listing.add_argument("deal_id", type=int)
        create = sub.add_parser("create", help=_("A draft quote of the deal's line items."))
        create.add_argument("deal_id", type=int)
        create.add_argument("--language", default="", choices=["", "en", "nl"])
        create.add_argument("--valid-until", dest="valid_until")
        create.add_argument("--terms", default="")
        create.add_argument("--email", dest="recipient_email", default="")
        send = sub.add_parser("send", help=_("Freeze the quote and e-mail it with its PDF."))
        send.add_argument("quote_id", type=int)
        send.add_argument("--email", dest="recipient_email")
        send.add_argument("--no-email", action="store_true", help=_("Mark it sent without e-mailing it."))
        for name in ("accept", "decline"):
            sub.add_parser(name).add_argument("quote_id", type=int)
        pdf = sub.add_parser("pdf", help=_("Write the quote as a PDF file."))
        pdf.add_argument("quote_id", type=int)
        pdf.add_argument("file")
        for parser_ in sub.choices.values():
            parser_.add_argument("--user")

    def handle(self, *args, action: str, **options):
        user = acting_user(options.get("user"))
        if action in ("list", "create"):
            deal = deal_get_for_user(deal_id=options["deal_id"], user=user, for_write=action == "create")
            if action == "create":
                quote = quote_create(
                    deal=deal,
                    by=user,
                    origin="cli",
                    **{
                        name: options[name]
                        for name in ("language", "valid_until", "terms", "recipient_email")
                    },
                )
                self.stdout.write(
                    self.style.SUCCESS(_("Drafted %(quote)s (id %(id)s).") % {"quote": quote, "id": quote.pk})
                )
                return
            for quote in quote_list_for_deal(deal_id=deal.pk, user=user):
                total = from_minor(quote.gross_minor, quote.currency)
                self.stdout.write(
                    f"{quote.pk}\t{quote.number} v{quote.version}\t{quote.status}\t{quote.currency} {total}\t{quote.valid_until}"
                )
            return
        quote = quote_get_for_user(quote_id=options["quote_id"], user=user, for_write=action != "pdf")
        if action == "pdf":
            Path(options["file"]).write_bytes(quote_pdf(quote=quote))
            self.stdout.write(self.style.SUCCESS(_("Wrote %(path)s.") % {"path": options["file"]}))
            return
        if action == "send":
            if options.get("recipient_email"):
                quote_update(quote=quote, data={"recipient_email": options["recipient_email"]}, by=user)
            quote_send(quote=quote, by=user, send_email=not options["no_email"], origin="cli")
        elif action == "accept":
            quote_mark_accepted(quote=quote, by=user, origin="cli")
        else:
            quote_mark_declined(quote=quote, by=user, origin="cli")
        self.stdout.write(self.style.SUCCESS(f"{quote}: {quote.get_status_display()}"))
