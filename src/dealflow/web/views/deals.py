"""The deals list: the board's filters as a sortable, paginated table with bulk actions and CSV export."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from dealflow.accounts.selectors import user_get_assignable_for_user
from dealflow.core.errors import ApplicationError
from dealflow.core.pagination import CappedPaginator, rows_by_ids
from dealflow.core.parameters import is_number, period_parameter
from dealflow.deals.selectors import DealFilters, deal_list_for_user, user_can_write
from dealflow.deals.services import BulkEditRefusedError, deal_bulk_edit
from dealflow.web.forms import form_add_application_error
from dealflow.web.forms.deals import DealBulkForm, DealFilterForm
from dealflow.web.views.contents import list_custom_cells, list_custom_fields
from dealflow.web.views.saved_views import saved_views_context
from dealflow.web.views.workspace import AuthenticatedRequest, redirect_next, url_if_exists

PAGE_SIZE = 50

# Sortable columns: (ordering key of deals.selectors.DEAL_ORDERINGS, header label).
COLUMNS = [
    ("title", gettext_lazy("Deal")),
    ("organization", gettext_lazy("Organization")),
    ("stage", gettext_lazy("Stage")),
    ("amount", gettext_lazy("Amount")),
    ("expected_close_on", gettext_lazy("Expected close")),
    ("owner", gettext_lazy("Owner")),
    ("updated_at", gettext_lazy("Updated")),
]


def visible_columns(query: QueryDict) -> list[str]:
    """The columns the list shows (``col`` repeated, in COLUMNS order; all by default). The title always
    shows. Saved views keep them, since they keep the whole query string."""
    asked = [value for value in query.getlist("col") if value]
    if not asked:
        return [key for key, _label in COLUMNS]
    known = {key for key, _label in COLUMNS}
    unknown = [value for value in asked if value not in known]
    if unknown:
        raise ApplicationError(
            f"There is no column {unknown[0]!r}; pick from {', '.join(sorted(known))}.", field="col"
        )
    return [key for key, _label in COLUMNS if key in asked or key == "title"]


def deal_filters_from_query(query: QueryDict) -> DealFilters:
    """DealFilters from the list's query string; ``period`` (2026-11, 2026-Q3, ...) sets the close range."""
    filters = DealFilters.from_mapping(query)
    period = period_parameter(query, "period")
    if period is not None:
        filters.close_from, filters.close_to = period.start, period.end - dt.timedelta(days=1)
    return filters


def _query_without(query: QueryDict, *names: str) -> QueryDict:
    copy = query.copy()
    for name in names:
        copy.pop(name, None)
    return copy


def _sort_headers(
    query: QueryDict, order: str, extra: Sequence[tuple[str, Any]] = (), columns: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    base = _query_without(query, "order", "page")
    headers = []
    shown = [(key, label) for key, label in COLUMNS if columns is None or key in columns]
    for key, label in [*shown, *extra]:
        direction = "asc" if order == key else "desc" if order == f"-{key}" else ""
        base["order"] = f"-{key}" if direction == "asc" else key
        headers.append({"key": key, "label": label, "direction": direction, "query": base.urlencode()})
    return headers


@login_required
@require_GET
def deal_list(request: AuthenticatedRequest) -> HttpResponse:
    """Deals the user may see, filtered like the board, sorted by a column, 50 a page."""
    user = request.user
    filter_form = DealFilterForm(request.GET or None, user=user)
    order = request.GET.get("order") or ""
    refused = False
    try:
        columns = visible_columns(request.GET)
    except ApplicationError as error:
        form_add_application_error(filter_form, error)
        columns, refused = [key for key, _label in COLUMNS], True
    try:
        deals = deal_list_for_user(
            user=user, filters=deal_filters_from_query(request.GET), order=order or None
        )
    except ApplicationError as error:
        form_add_application_error(
            filter_form, error, field_map={"close_from": "period", "close_to": "period"}
        )
        order = "" if error.field == "order" else order
        refused = True
        deals = deal_list_for_user(user=user, order=None).none()
    # Join only what a row shows: PostgreSQL spent ~20 ms planning the eight-table join under ORDER BY/LIMIT.
    deals = deals.select_related(None).select_related("owner", "organization", "stage")
    page = CappedPaginator(deals, PAGE_SIZE, rows=rows_by_ids(deals)).get_page(request.GET.get("page"))
    custom_fields = list_custom_fields(getattr(filter_form, "custom_fields", []))
    list_custom_cells(list(page.object_list), custom_fields)
    export_url = url_if_exists("web:deal_export")
    query = _query_without(request.GET, "page")
    context = {
        "filter_form": filter_form,
        "page": page,
        "headers": _sort_headers(
            request.GET, order, [(f"cf_{field.key}", field.label) for field in custom_fields], columns
        ),
        "columns": columns,
        "column_choices": [(key, label, key in columns) for key, label in COLUMNS],
        # (a template's request.GET.lists would look up a parameter named "lists" first)
        "column_kept": [
            (name, value)
            for name, values in request.GET.lists()
            if name not in ("col", "page")
            for value in values
        ],
        "query": query.urlencode(),
        "export_url": f"{export_url}?{query.urlencode()}" if export_url else None,
        "bulk_form": DealBulkForm(user=user, initial={"next": request.get_full_path()}),
        "can_write": user_can_write(user=user),
        "is_filtered": any(
            value for name, value in request.GET.items() if name not in {"order", "page", "col", "view"}
        ),
        **saved_views_context(request),
    }
    return render(request, "web/deals/list.html", context, status=400 if refused else 200)


@login_required
@require_POST
def deal_bulk(request: AuthenticatedRequest) -> HttpResponse:
    """Apply a bulk action to the ticked deals, all or nothing; every refusal is listed, nothing changes."""
    user = request.user
    form = DealBulkForm(request.POST, user=user)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            text = " ".join(str(error) for error in errors)
            messages.error(request, f"{label}: {text}" if label else text)
        return redirect_next(request, reverse("web:deal_list"))
    data = form.cleaned_data
    ids = data["deal"]
    visible = {deal.pk: deal for deal in deal_list_for_user(user=user).filter(pk__in=ids)}
    versions = {
        deal_id: int(value)
        for deal_id in ids
        if is_number(value := request.POST.get(f"version_{deal_id}", ""))
    }
    try:
        owner = (
            user_get_assignable_for_user(user_id=data["owner"].pk, user=user)
            if data["action"] == "owner"
            else None
        )
        done = deal_bulk_edit(
            deals=[visible[deal_id] for deal_id in ids if deal_id in visible],
            missing_ids=[deal_id for deal_id in ids if deal_id not in visible],
            user=user,
            action=data["action"],
            owner=owner,
            stage=data["stage"],
            expected_close_on=data["expected_close_on"],
            tags=data["tags"],
            versions=versions,
            origin="web:bulk",
        )
    except BulkEditRefusedError as error:
        messages.error(
            request,
            _("Nothing was changed: %(count)d of %(total)d deals refused the bulk edit.")
            % {"count": len(error.refusals), "total": len(ids)},
        )
        for refusal in error.refusals:
            messages.error(
                request,
                f"{refusal.title}: {refusal.message}"
                if refusal.title
                else _("Deal #%(id)s: no such deal.") % {"id": refusal.deal_id},
            )
        return redirect_next(request, reverse("web:deal_list"))
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect_next(request, reverse("web:deal_list"))
    messages.success(
        request, ngettext("%(count)d deal updated.", "%(count)d deals updated.", done) % {"count": done}
    )
    return redirect_next(request, reverse("web:deal_list"))
