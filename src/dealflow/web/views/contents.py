"""The deal page's sections for what a deal holds: line items, quotes, custom fields and tags; the quote
PDF; the deals list's custom-field columns. Each POST calls one service and redirects back to the deal (PRG);
a refusal re-renders the deal page with the message and what the user typed (status 400)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_POST

from dealflow.core.errors import ApplicationError
from dealflow.core.money import from_minor
from dealflow.core.parameters import is_number
from dealflow.customfields.models import CustomField, Entity
from dealflow.customfields.selectors import custom_values_map
from dealflow.deals.models import Deal
from dealflow.deals.selectors import deal_get_for_user
from dealflow.deals.selectors_contents import deal_contents_of
from dealflow.deals.services import deal_custom_values_set, deal_lines_set, deal_tags_set
from dealflow.products.models import Product
from dealflow.products.selectors import product_choices, product_list
from dealflow.quotes.rendering import quote_filename, quote_html, quote_pdf
from dealflow.quotes.selectors import quote_get_for_user, quote_list_of
from dealflow.quotes.services import (
    quote_create,
    quote_mark_accepted,
    quote_mark_declined,
    quote_send,
    quote_update,
)
from dealflow.tags.selectors import tag_names_map
from dealflow.web.forms import form_add_application_error
from dealflow.web.forms.contents import (
    QuoteForm,
    TagsForm,
    custom_values_form,
    custom_values_submitted,
    lines_submitted,
)
from dealflow.web.views.workspace import AuthenticatedRequest, attach_for_template, permission_errors_as_403

BLANK_LINES = 2


def _line_rows(contents: Any) -> list[dict[str, str]]:
    rows = []
    for line in contents.lines:
        rows.append(
            {
                "product": str(line.product_id or ""),
                "description": line.description,
                "quantity": format(line.quantity.normalize(), "f"),
                "unit_price": str(from_minor(line.unit_price_minor, line.currency)),
                "currency": line.currency,
                "discount_percent": format(line.discount_percent.normalize(), "f")
                if line.discount_percent
                else "",
                "tax_rate": format(Decimal(line.tax_rate).normalize(), "f"),
            }
        )
    return rows


def contents_context(
    request: AuthenticatedRequest, deal: Deal, *, failed: tuple[str, Any] | None = None
) -> dict[str, Any]:
    """What the deal page's contents sections show; ``failed`` = (section, what the user sent, error)."""
    contents = deal_contents_of(deal=deal)
    failed_key, failed_value = failed if failed else ("", {})
    rows = failed_value["rows"] if failed_key == "lines" else _line_rows(contents)
    blank = {
        "product": "",
        "description": "",
        "quantity": "",
        "unit_price": "",
        "currency": "",
        "discount_percent": "",
        "tax_rate": "",
    }
    custom_form = (
        failed_value if failed_key == "custom" else custom_values_form(contents.fields, contents.values)
    )
    return {
        "contents": contents,
        "line_rows": [*rows, *[dict(blank) for _ in range(BLANK_LINES)]],
        "lines_error": failed_value["error"] if failed_key == "lines" else "",
        "products": product_choices(),
        "custom_form": custom_form,
        "tags_form": failed_value
        if failed_key == "tags"
        else TagsForm(initial={"tags": ", ".join(contents.tags)}),
        "quote_form": failed_value if failed_key == "quote" else QuoteForm(),
        "quote_error": failed_value if failed_key == "quote_action" else "",
        "quotes": list(quote_list_of(deal=deal)),
    }


def _deal_page(request: AuthenticatedRequest, deal: Deal, failed: tuple[str, Any]) -> HttpResponse:
    from dealflow.web.views.deal_page import (
        workspace_context,  # the deal page's own context, with ours on top
    )

    context = workspace_context(request, deal)
    context.update(contents_context(request, deal, failed=failed))
    return render(request, "web/deal/detail.html", context, status=400)


def _back(deal: Deal, anchor: str) -> HttpResponse:
    return HttpResponseRedirect(reverse("web:deal_detail", args=[deal.pk]) + f"#{anchor}")


def _products_by_id(rows: list[dict[str, str]]) -> dict[str, Product]:
    ids = {row["product"] for row in rows if is_number(row["product"])}
    return {str(product.pk): product for product in product_list(include_inactive=True).filter(pk__in=ids)}


@login_required
@require_POST
@permission_errors_as_403
def deal_lines_update(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """Replace the deal's line items with the editor's rows (empty rows are dropped)."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    rows = lines_submitted(request.POST)
    products = _products_by_id(rows)
    lines = []
    for index, row in enumerate(rows):
        if row["product"] and row["product"] not in products:
            return _deal_page(
                request,
                deal,
                (
                    "lines",
                    {
                        "rows": rows,
                        "error": _("Line %(number)s: pick a product from the catalogue.")
                        % {"number": index + 1},
                    },
                ),
            )
        lines.append(
            {
                "product": products.get(row["product"]),
                "description": row["description"],
                "quantity": row["quantity"] or "1",
                "unit_price": row["unit_price"] or None,
                "currency": row["currency"] or None,
                "discount_percent": row["discount_percent"],
                "tax_rate": row["tax_rate"] or None,
            }
        )
    try:
        with transaction.atomic():
            deal_lines_set(deal=deal, lines=lines, by=request.user, origin="web")
    except ApplicationError as error:
        return _deal_page(request, deal, ("lines", {"rows": rows, "error": error.message}))
    messages.success(request, _("Line items saved."))
    return _back(deal, "deal-lines")


@login_required
@require_POST
@permission_errors_as_403
def deal_custom_values_update(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """Save the deal's custom field values (the service checks each and names the one at fault)."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    contents = deal_contents_of(deal=deal)
    form = custom_values_form(contents.fields, contents.values, data=request.POST)
    form.is_valid()
    try:
        with transaction.atomic():
            deal_custom_values_set(
                deal=deal,
                values=custom_values_submitted(contents.fields, request.POST),
                by=request.user,
                origin="web",
            )
    except ApplicationError as error:
        form_add_application_error(form, error)
        return _deal_page(request, deal, ("custom", form))
    messages.success(request, _("Fields saved."))
    return _back(deal, "deal-custom-fields")


@login_required
@require_POST
@permission_errors_as_403
def deal_tags_update(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    form = TagsForm(request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():
                deal_tags_set(deal=deal, tags=form.cleaned_data["tags"], by=request.user, origin="web")
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            messages.success(request, _("Tags saved."))
            return _back(deal, "deal-tags")
    return _deal_page(request, deal, ("tags", form))


@login_required
@require_POST
@permission_errors_as_403
def deal_quote_create(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """A draft quote of the deal's lines (the next version when one was sent)."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    form = QuoteForm(request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():
                quote = quote_create(deal=deal, by=request.user, origin="web", **form.cleaned_data)
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            messages.success(
                request,
                _("Quote %(number)s v%(version)s drafted.")
                % {"number": quote.number, "version": quote.version},
            )
            return _back(deal, "deal-quotes")
    return _deal_page(request, deal, ("quote", form))


_QUOTE_ACTIONS = {
    "send": (
        lambda quote, user: quote_send(quote=quote, by=user, origin="web"),
        gettext_noop("Quote %(number)s v%(version)s sent."),
    ),
    "accept": (
        lambda quote, user: quote_mark_accepted(quote=quote, by=user, origin="web"),
        gettext_noop("Quote %(number)s v%(version)s accepted."),
    ),
    "decline": (
        lambda quote, user: quote_mark_declined(quote=quote, by=user, origin="web"),
        gettext_noop("Quote %(number)s v%(version)s declined."),
    ),
}


@login_required
@require_POST
@permission_errors_as_403
def quote_action(request: AuthenticatedRequest, quote_id: int, action: str) -> HttpResponse:
    """Send (after saving the recipient typed beside the button), accept or decline a quote."""
    if action not in _QUOTE_ACTIONS:
        raise Http404("No such action.")
    quote = quote_get_for_user(quote_id=quote_id, user=request.user, for_write=True)
    perform, message = _QUOTE_ACTIONS[action]
    try:
        with transaction.atomic():
            if action == "send" and "recipient_email" in request.POST:
                quote_update(
                    quote=quote, data={"recipient_email": request.POST["recipient_email"]}, by=request.user
                )
            perform(quote, request.user)
    except ApplicationError as error:
        return _deal_page(
            request, quote.deal, ("quote_action", f"{quote.number} v{quote.version}: {error.message}")
        )
    messages.success(request, _(message) % {"number": quote.number, "version": quote.version})
    return _back(quote.deal, "deal-quotes")


@login_required
@require_GET
def quote_document(request: AuthenticatedRequest, quote_id: int, kind: str) -> HttpResponse:
    """The quote as the customer sees it: the HTML page, or the PDF to download."""
    if kind not in ("html", "pdf"):
        raise Http404("No such document.")
    quote = quote_get_for_user(quote_id=quote_id, user=request.user)
    if kind == "pdf":
        response = HttpResponse(quote_pdf(quote=quote), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{quote_filename(quote=quote)}"'
        return response
    return HttpResponse(quote_html(quote=quote))


def list_custom_fields(fields: list[CustomField]) -> list[CustomField]:
    """The deal custom fields (every pipeline's, as the filter form read them) the list shows as columns."""
    return [field for field in fields if field.kind != "long_text"]


def list_custom_cells(deals: list[Deal], fields: list[CustomField]) -> None:
    """Give each listed deal ``custom_cells`` (value per column) and ``tag_names``: two queries a page."""
    ids = [deal.pk for deal in deals]
    documents = custom_values_map(entity=Entity.DEAL, object_ids=ids) if fields else {}
    tags = tag_names_map(entity="deal", object_ids=ids)
    for deal in deals:
        document = documents.get(deal.pk, {})
        attach_for_template(
            deal,
            custom_cells=[
                (field, dt.date.fromisoformat(value) if field.kind == "date" and value else value)
                for field in fields
                for value in [document.get(field.key)]
            ],
            tag_names=tags.get(deal.pk, []),
        )
