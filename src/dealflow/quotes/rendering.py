"""A quote as HTML and as PDF (WeasyPrint, with the fonts Debian ships), in the customer's language."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import translation

from dealflow.quotes.models import Quote


def quote_context(*, quote: Quote) -> dict:
    lines = list(quote.lines.all())
    return {
        "quote": quote,
        "lines": lines,
        "deal": quote.deal,
        "has_recurring": any(line.billing != "one_off" for line in lines),
    }


def quote_html(*, quote: Quote) -> str:
    """The quote page in the quote's language and that language's number and date formats."""
    with translation.override(quote.language):
        return render_to_string("quotes/quote.html", quote_context(quote=quote))


def quote_pdf(*, quote: Quote) -> bytes:
    """The same page as a PDF (A4)."""
    from weasyprint import HTML  # imported here: it loads pango, which only PDF output needs

    return HTML(string=quote_html(quote=quote), base_url=None).write_pdf()


def quote_filename(*, quote: Quote) -> str:
    return f"{quote.number}-v{quote.version}.pdf"
