"""Pipeline reviews: list and start, the review (gather, bottlenecks, agenda, data quality), deal cards with
keyboard shortcuts (static/web/review.js), decisions singly and in bulk, what-if, finish and the report."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from dealflow.accounts.models import Team, User
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.money import to_minor
from dealflow.core.parameters import (
    boolean_parameter,
    choice_parameter,
    date_parameter,
    integer_parameter,
    text_parameter,
)
from dealflow.deals.models import ForecastCategory, Pipeline
from dealflow.deals.selectors import lost_reason_list
from dealflow.reviews import calculations, exports, selectors, services
from dealflow.reviews.models import DecisionKind
from dealflow.web.views.workspace import AuthenticatedRequest, permission_errors_as_403, redirect_next

PARAM_FIELDS = (
    "expected_close_on", "days", "stage_id", "amount", "category", "probability", "owner_id", "reason_id",
    "next_step", "next_step_on",
)  # fmt: skip
WATERFALL_MEASURES = {"start": "absolute", "end": "total"}
WATERFALL_SIGNS = {"pushed_out": -1, "decreased": -1, "won": -1, "lost": -1}


def _integer(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _params(data) -> dict[str, str]:
    return {name: data[name] for name in PARAM_FIELDS if data.get(name) not in (None, "")}


def waterfall_figure(workspace: selectors.Workspace) -> dict | None:
    """Plotly waterfall: start, the changes (each bar signed), end; the end bar is the sum of the others."""
    if not workspace.waterfall:
        return None
    totals = workspace.waterfall["totals"]
    keys = list(calculations.WATERFALL_BUCKETS)
    values = [WATERFALL_SIGNS.get(key, 1) * totals[key] / 100 for key in keys]
    return {
        "data": [
            {
                "type": "waterfall",
                "x": [str(exports.WATERFALL_LABELS[key]) for key in keys],
                "measure": [WATERFALL_MEASURES.get(key, "relative") for key in keys],
                "y": values,
                "connector": {"line": {"color": "#c5ccd5"}},
                "increasing": {"marker": {"color": "#1c8a4c"}},
                "decreasing": {"marker": {"color": "#c9302c"}},
                "totals": {"marker": {"color": "#2f5bea"}},
            }
        ],
        "layout": {"height": 300, "showlegend": False, "yaxis": {"title": workspace.snapshot.currency}},
    }


def review_context(workspace: selectors.Workspace) -> dict[str, Any]:
    """What the review page and the report show, prepared for the templates (titles, texts, labels)."""
    titles = workspace.titles
    waterfall_rows = []
    if workspace.waterfall:
        totals, items = workspace.waterfall["totals"], workspace.waterfall["items"]
        for key in calculations.WATERFALL_BUCKETS:
            sign = (
                {-1: "−", 1: "+"}.get(WATERFALL_SIGNS.get(key, 1), "") if key not in ("start", "end") else ""
            )
            waterfall_rows.append(
                {
                    "key": key,
                    "label": exports.WATERFALL_LABELS[key],
                    "sign": sign,
                    "amount": totals[key],
                    "items": calculations.bar_items(items.get(key, [])),
                }
            )
    bottlenecks = [
        {**row, "stuck_titles": [titles.get(deal_id, str(deal_id)) for deal_id in row["stuck_deals"]]}
        for row in workspace.bottlenecks
    ]

    def rows_of(decisions):
        return [
            {
                "decision": item,
                "title": titles.get(item.deal_id, str(item.deal_id)),
                "text": exports.decision_text(item),
            }
            for item in decisions
        ]

    return {
        "workspace": workspace,
        "review": workspace.review,
        "snapshot": workspace.snapshot,
        "chart": waterfall_figure(workspace),
        "waterfall_rows": waterfall_rows,
        "bottlenecks": bottlenecks,
        "decision_rows": rows_of(workspace.decisions),
        "carried_rows": rows_of(workspace.carried),
        "pending_count": sum(1 for item in workspace.decisions if item.is_pending),
    }


BULK_KINDS = [
    (kind, label)
    for kind, label in DecisionKind.choices
    if kind in ("push_close_date", "keep", "change_category", "mark_lost")
]


@login_required
@require_GET
def review_list(request: AuthenticatedRequest) -> HttpResponse:
    """Past and running reviews the user may open, and the form to start one."""
    user: User = request.user
    status = choice_parameter(request.GET, "status", ("open", "finished"))
    reviews = selectors.review_list_for_user(user=user, status=status, with_counts=True)[:200]
    context = {
        "reviews": [(review, selectors.review_label(review)) for review in reviews],
        "can_start": selectors.review_can_start(user=user),
        "options": selectors.review_start_options_for_user(user=user, today=clock.today()),
        "series": [
            (series, selectors.review_label(series)) for series in selectors.series_list_for_user(user=user)
        ],
    }
    return render(request, "web/reviews/list.html", context)


@login_required
@require_POST
def review_start(request: AuthenticatedRequest) -> HttpResponse:
    """Start a review of a team, a rep or a pipeline; optionally every week."""
    data = request.POST
    try:
        review = services.review_start(
            by=request.user,
            period=data.get("period", ""),
            team=Team.objects.filter(pk=_integer(data.get("team")) or 0).first(),
            rep=User.objects.filter(pk=_integer(data.get("rep")) or 0).first(),
            pipeline=Pipeline.objects.filter(pk=_integer(data.get("pipeline")) or 0).first(),
            recurring=data.get("recurring") in ("1", "on", "true"),
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("web:review_list"))
    return HttpResponseRedirect(reverse("web:review_detail", args=[review.pk]))


@login_required
@require_GET
def review_detail(request: AuthenticatedRequest, review_id: int) -> HttpResponse:
    """The review: gather, bottlenecks, the two ranked lists (with bulk decisions), data quality, decisions."""
    if boolean_parameter(request.GET, "all"):  # the old "every deal" link: now a page at a time
        return HttpResponseRedirect(f"{reverse('web:review_detail', args=[review_id])}?page=1#agenda")
    workspace = selectors.review_workspace_for_user(
        review_id=review_id,
        user=request.user,
        page=integer_parameter(request.GET, "page", minimum=1, maximum=1_000_000),
    )
    context = {
        **review_context(workspace),
        "agenda_page": selectors.AGENDA_PAGE,
        "bulk_kinds": BULK_KINDS,
        "lost_reasons": lost_reason_list(),
        "categories": [item for item in ForecastCategory.choices if item[0] != ForecastCategory.CLOSED],
    }
    return render(request, "web/reviews/detail.html", {**context, "waterfall_on_demand": True})


@login_required
@require_GET
def review_waterfall_items(
    request: AuthenticatedRequest, review_id: int, bar: str
) -> HttpResponse | StreamingHttpResponse:
    """The deals behind one bar of the review's waterfall (the page loads them when the bar is opened)."""
    review = selectors.review_get_for_user(review_id=review_id, user=request.user)
    waterfall = review.snapshot.waterfall
    if bar not in calculations.WATERFALL_BUCKETS or not waterfall:
        raise Http404("No such bar.")
    items = waterfall["items"].get(bar, [])
    if choice_parameter(request.GET, "format", ("csv",)) == "csv":
        response = StreamingHttpResponse(
            exports.waterfall_csv(items, currency=review.snapshot.currency),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="review-{review.pk}-{bar}.csv"'
        return response
    context = {
        "bar": calculations.bar_items(items),
        "bar_key": bar,
        "review": review,
        "snapshot": review.snapshot,
    }
    return render(request, "web/reviews/_waterfall_items.html", context)


@login_required
@require_GET
def review_deal(request: AuthenticatedRequest, review_id: int, deal_id: int) -> HttpResponse:
    """One deal card: j/k or arrows walk the agenda, 1-9 pick a decision (review.js)."""
    card = selectors.review_deal_card_for_user(
        review_id=review_id,
        deal_id=deal_id,
        user=request.user,
        list_name=choice_parameter(
            request.GET, "list", ("agenda", "close", "rescue", "all"), default="agenda"
        )
        or "agenda",
    )
    return render(
        request, "web/reviews/deal.html", {"card": card, "review": card.review, "kinds": DecisionKind.choices}
    )


@login_required
@require_POST
@permission_errors_as_403
def review_decide(request: AuthenticatedRequest, review_id: int, deal_id: int) -> HttpResponse:
    """Record a decision about the deal, and apply it at once with ``apply=1``."""
    review = selectors.review_get_for_user(review_id=review_id, user=request.user)
    data = request.POST
    try:
        decision = services.review_decision_record(
            review=review,
            deal_id=deal_id,
            kind=data.get("kind", ""),
            by=request.user,
            params=_params(data),
            note=data.get("note", ""),
            apply=data.get("apply") == "1",
        )
        messages.success(
            request, _("Decision recorded: %(decision)s.") % {"decision": exports.decision_text(decision)}
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    fallback = reverse("web:review_deal", args=[review_id, deal_id])
    return redirect_next(request, fallback)


@login_required
@require_GET
def review_what_if(request: AuthenticatedRequest, review_id: int, deal_id: int) -> HttpResponse:
    """HTMX: the period forecast with this deal's probability, amount or close date changed (not applied)."""
    data = request.GET
    context: dict[str, Any] = {"review_id": review_id, "deal_id": deal_id}
    try:
        snapshot_currency = selectors.review_get_for_user(
            review_id=review_id, user=request.user
        ).snapshot.currency
        probability = integer_parameter(data, "probability", minimum=0, maximum=100)
        amount = text_parameter(data, "amount")
        context["result"] = selectors.review_what_if_for_user(
            review_id=review_id,
            deal_id=deal_id,
            user=request.user,
            probability=probability / 100 if probability is not None else None,
            amount_minor=to_minor(amount, snapshot_currency) if amount else None,
            expected_close_on=date_parameter(data, "expected_close_on"),
        )
    except ApplicationError as error:
        context["error"] = error.message
    return render(request, "web/reviews/_what_if.html", context)


@login_required
@require_POST
@permission_errors_as_403
def review_decision_apply(request: AuthenticatedRequest, review_id: int, decision_id: int) -> HttpResponse:
    """Apply a recorded (or carried-over) decision through the deal services."""
    decision = selectors.decision_get_for_user(
        review_id=review_id, decision_id=decision_id, user=request.user
    )
    try:
        services.review_decision_apply(decision=decision, by=request.user)
        messages.success(request, _("Applied: %(decision)s.") % {"decision": exports.decision_text(decision)})
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect_next(request, reverse("web:review_deal", args=[review_id, decision.deal_id]))


@login_required
@require_POST
@permission_errors_as_403
def review_bulk(request: AuthenticatedRequest, review_id: int) -> HttpResponse:
    """The same decision for every selected deal, applied at once (e.g. push close dates by 14 days)."""
    review = selectors.review_get_for_user(review_id=review_id, user=request.user)
    data = request.POST
    deal_ids = [value for value in (_integer(item) for item in data.getlist("deal")) if value is not None]
    try:
        decisions = services.review_decisions_bulk(
            review=review,
            deal_ids=deal_ids,
            kind=data.get("kind", ""),
            by=request.user,
            params=_params(data),
            note=data.get("note", ""),
            apply=data.get("apply", "1") == "1",
        )
        messages.success(
            request,
            ngettext("%(count)d decision recorded.", "%(count)d decisions recorded.", len(decisions))
            % {"count": len(decisions)},
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    return HttpResponseRedirect(reverse("web:review_detail", args=[review_id]) + "#agenda")


@login_required
@require_POST
@permission_errors_as_403
def review_finish(request: AuthenticatedRequest, review_id: int) -> HttpResponse:
    """Finish the review (open items carry over) and show its report."""
    review = selectors.review_get_for_user(review_id=review_id, user=request.user)
    try:
        services.review_finish(review=review, by=request.user, summary=request.POST.get("summary", ""))
    except ApplicationError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("web:review_detail", args=[review_id]))
    messages.success(request, _("Review finished. Items still to do carry over to the next review."))
    return HttpResponseRedirect(reverse("web:review_report", args=[review_id]))


@login_required
@require_GET
def review_report(request: AuthenticatedRequest, review_id: int) -> HttpResponse:
    """The report: print it (print stylesheet) for a PDF, or export it as Markdown or CSV."""
    report = selectors.review_report_for_user(review_id=review_id, user=request.user)
    adjustments = [
        {"event": item.event, "text": exports.event_text(item.event)} for item in report.adjustments
    ]
    context = {**review_context(report.workspace), "report": report, "adjustments": adjustments}
    return render(request, "web/reviews/report.html", context)


@login_required
@require_GET
def review_export(request: AuthenticatedRequest, review_id: int, export_format: str) -> HttpResponseBase:
    """report.md, or report.csv: every frozen row, streamed as the database returns it."""
    if export_format not in ("md", "csv"):
        raise Http404("Export as .md or .csv.")
    report = selectors.review_report_for_user(review_id=review_id, user=request.user)
    response: HttpResponseBase
    if export_format == "md":
        response = HttpResponse(exports.report_markdown(report), content_type="text/markdown; charset=utf-8")
    else:
        response = StreamingHttpResponse(exports.report_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="review-{review_id}.{export_format}"'
    return response


@login_required
@require_GET
def review_deal_history(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """How a deal was discussed review after review."""
    history = selectors.deal_review_history_for_user(deal_id=deal_id, user=request.user)
    title = next((entry.row.title for entry in history if entry.row), str(deal_id))
    return render(
        request, "web/reviews/deal_history.html", {"history": history, "title": title, "deal_id": deal_id}
    )


@login_required
@require_POST
@permission_errors_as_403
def review_series_stop(request: AuthenticatedRequest, series_id: int) -> HttpResponse:
    """Stop a weekly series (its reviews stay)."""
    series = selectors.series_get_for_user(series_id=series_id, user=request.user)
    services.review_series_stop(series=series, by=request.user)
    messages.success(request, _("The weekly review stops; past reviews stay."))
    return HttpResponseRedirect(reverse("web:review_list"))
