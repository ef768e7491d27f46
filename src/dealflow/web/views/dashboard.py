"""The Dashboard (six metrics, funnel, flow, time in stage, bottlenecks, breakdown) and the Funnel page.

Numbers come from dealflow.metrics; every number links to the deals behind it in the deals list (or, for
funnel steps, to the funnel page's list of the deals that reached the stage). docs/metrics.md, served at
web:metrics_definitions, defines each number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from dealflow.accounts.selectors import team_list_visible, user_list_visible
from dealflow.core.errors import ApplicationError
from dealflow.core.formatting import format_number, format_percent
from dealflow.core.parameters import boolean_parameter, choice_parameter, id_parameter
from dealflow.core.periods import Period
from dealflow.deals.selectors import base_currency, lead_source_list, pipeline_list
from dealflow.forecasting.accuracy_tile import forecast_accuracy_tile_for_user
from dealflow.metrics import selectors
from dealflow.metrics.selectors import BREAKDOWN_ORDERINGS, MetricFilters
from dealflow.web.views.workspace import AuthenticatedRequest

COLORS = {"line": "#2563eb", "won": "#16a34a", "lost": "#dc2626", "back": "#d97706", "muted": "#94a3b8"}


def _filters(request: AuthenticatedRequest) -> tuple[MetricFilters, int]:
    """The page's filters and the page's status: a bad one is reported and dropped (the page answers 400)."""
    try:
        return MetricFilters.from_mapping(request.GET), 200
    except ApplicationError as error:
        messages.error(request, error.message)
        return MetricFilters.from_mapping({}), 400


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


@dataclass
class DealLinks:
    """Links to the deals list for one set of filters (the list's own query parameters)."""

    filters: MetricFilters

    def url(self, **extra: Any) -> str | None:
        base = _url("web:deal_list")
        if base is None:
            return None
        query: dict[str, Any] = {
            "pipeline": self.filters.pipeline_id,
            "team": self.filters.team_id,
            "owner": self.filters.owner_id,
            "source": self.filters.source,
        }
        query.update(extra)
        return base + "?" + urlencode({key: value for key, value in query.items() if value not in (None, "")})

    def closed(self, status: str, **extra: Any) -> str | None:
        period = self.filters.period
        return self.url(status=status, closed_from=period.start, closed_to=_last_day(period), **extra)

    def created(self, **extra: Any) -> str | None:
        period = self.filters.period
        return self.url(created_from=period.start, created_to=_last_day(period), **extra)


def _last_day(period: Period) -> dt.date:
    return period.end - dt.timedelta(days=1)


def _sparkline(values: list[Any], *, percent: bool = False) -> dict:
    numbers = [None if value is None else float(value) * (100 if percent else 1) for value in values]
    return {
        "data": [
            {
                "y": numbers,
                "type": "scatter",
                "mode": "lines",
                "line": {"color": COLORS["line"], "width": 2},
                "hoverinfo": "y",
                "connectgaps": False,
            }
        ],
        "layout": {
            "height": 44,
            "margin": {"t": 2, "r": 2, "b": 2, "l": 2},
            "showlegend": False,
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
        },
        "config": {"staticPlot": True},
    }


def _funnel_figure(funnel: selectors.Funnel, links: list[str | None]) -> dict:
    steps = funnel.steps
    colors = {"top": "#93c5fd", "middle": "#3b82f6", "bottom": "#1d4ed8"}
    text = [
        format_number(step.count)
        + (f" · {format_percent(step.conversion)} →" if step.conversion is not None else "")
        for step in steps
    ]
    return {
        "data": [
            {
                "type": "funnel",
                "y": [step.label for step in steps],
                "x": [step.count for step in steps],
                "text": text,
                "textinfo": "text",
                "customdata": links,
                "hoverinfo": "y+x",
                "marker": {"color": [colors[step.segment] for step in steps]},
                "connector": {"line": {"width": 0}},
            }
        ],
        "layout": {"height": 340, "margin": {"t": 10, "r": 10, "b": 10, "l": 130}},
    }


def _sankey_figure(flow: selectors.Flow) -> dict:
    colors = {
        "created": COLORS["line"],
        "reopened": COLORS["back"],
        "forward": COLORS["line"],
        "back": COLORS["back"],
        "won": COLORS["won"],
        "lost": COLORS["lost"],
    }
    return {
        "data": [
            {
                "type": "sankey",
                "arrangement": "snap",
                "node": {"label": [node.label for node in flow.nodes], "pad": 14, "thickness": 14},
                "link": {
                    "source": [link.source for link in flow.links],
                    "target": [link.target for link in flow.links],
                    "value": [link.count for link in flow.links],
                    "color": [colors.get(link.kind, COLORS["muted"]) + "66" for link in flow.links],
                    "customdata": [link.kind for link in flow.links],
                    "hovertemplate": "%{source.label} → %{target.label}: %{value} (%{customdata})<extra></extra>",
                },
            }
        ],
        "layout": {"height": 360, "margin": {"t": 10, "r": 10, "b": 10, "l": 10}},
    }


def _stage_time_figure(stages: list[selectors.StageTime]) -> dict:
    names = [row.name for row in stages]

    def bars(label: str, values: list[Any], color: str) -> dict:
        return {"type": "bar", "name": label, "x": names, "y": values, "marker": {"color": color}}

    return {
        "data": [
            bars(_("Median, this period"), [row.median_days for row in stages], COLORS["line"]),
            bars(_("P80, this period"), [row.p80_days for row in stages], "#93c5fd"),
            bars(_("Median, previous period"), [row.previous_median_days for row in stages], COLORS["muted"]),
            bars(_("P80 of won deals"), [row.won_p80_days for row in stages], COLORS["won"]),
        ],
        "layout": {
            "height": 320,
            "barmode": "group",
            "yaxis": {"title": _("days"), "rangemode": "tozero"},
            "legend": {"orientation": "h"},
        },
    }


def _filter_options(request: AuthenticatedRequest) -> dict[str, Any]:
    user = request.user
    return {
        "pipelines": list(pipeline_list()),
        "teams": list(team_list_visible(user=user)),
        "owners": list(user_list_visible(user=user).order_by("first_name", "last_name", "username")),
        "sources": list(lead_source_list()),
    }


@login_required
@require_GET
def dashboard_page(request: AuthenticatedRequest) -> HttpResponse:
    """GET ?period=&pipeline=&team=&owner=&source=&by=owner|team&order=-won_value."""
    filters, status = _filters(request)
    by = choice_parameter(request.GET, "by", ("owner", "team"), default="owner") or "owner"
    orderings = [prefix + name for name in BREAKDOWN_ORDERINGS for prefix in ("", "-")]
    order = choice_parameter(request.GET, "order", orderings, default="-won_value") or "-won_value"
    board = selectors.dashboard_for_user(
        user=request.user, filters=filters, by=by, order=order, with_attention=False
    )
    context = _dashboard_context(request, filters, board, by, order)
    return render(request, "web/dashboard/page.html", context, status=status)


@login_required
@require_GET
def dashboard_attention(request: AuthenticatedRequest) -> HttpResponse:
    """GET ?period=&pipeline=&team=&owner=&source=: the stale and slipped deals, which the dashboard loads
    after its numbers (they are read from the open deals, not from totals kept at write time)."""
    filters, status = _filters(request)
    attention = selectors.deal_attention_for_user(user=request.user, filters=filters)
    context = {"attention": attention, "currency": base_currency()}
    return render(request, "web/dashboard/_attention.html", context, status=status)


def _dashboard_context(
    request, filters: MetricFilters, board: selectors.Dashboard, by: str, order: str
) -> dict:
    links = DealLinks(filters)
    trends = board.trends
    funnel_url = _url("web:funnel")
    funnel_links = [_funnel_step_url(funnel_url, filters, step) for step in board.funnel.steps]
    base_query = filters.as_query()
    sort_links = {}
    for name in BREAKDOWN_ORDERINGS:
        direction = f"-{name}" if order != f"-{name}" else name
        sort_links[name] = "?" + urlencode({**base_query, "by": by, "order": direction})
    rows = [
        {
            "row": row,
            "url": links.url(**{by: row.key}) if row.key else None,
            "won_url": links.closed("won", **{by: row.key}) if row.key else None,
        }
        for row in board.breakdown
    ]
    return {
        "filters": filters,
        "board": board,
        "summary": board.summary,
        "current": board.summary.current,
        "previous": board.summary.previous,
        "accuracy": forecast_accuracy_tile_for_user(user=request.user, filters=filters),
        "options": _filter_options(request),
        "links": {
            "won": links.closed("won"),
            "lost": links.closed("lost"),
            "open": links.url(status="open"),
            "created": links.created(),
            "leads": _url("web:lead_inbox"),
            "funnel": funnel_url + "?" + urlencode(base_query) if funnel_url else None,
        },
        "by": by,
        "order": order,
        "sort_links": sort_links,
        "breakdown_rows": rows,
        "product_rows": selectors.product_figures_for_user(user=request.user, filters=filters),
        "charts": {
            "lead_conversion": _sparkline([point.lead_conversion for point in trends], percent=True),
            "deal_size": _sparkline([point.deal_size for point in trends]),
            "cycle": _sparkline([point.cycle_days for point in trends]),
            "win_rate": _sparkline([point.win_rate for point in trends], percent=True),
            "velocity": _sparkline([point.velocity for point in trends]),
            "funnel": _funnel_figure(board.funnel, funnel_links),
            "flow": _sankey_figure(board.flow),
            "stages": _stage_time_figure(board.stages),
        },
        "trend_range": f"{trends[0].month} – {trends[-1].month}" if trends else "",
        "bottlenecks": [row for row in board.stages if row.flags],
        "stage_names": {row.stage_id: row.name for row in board.stages},
        "query": urlencode(base_query),
        "attention_url": reverse("web:dashboard_attention") + "?" + urlencode(base_query),
    }


def _funnel_step_url(base: str | None, filters: MetricFilters, step: selectors.FunnelStep) -> str | None:
    if base is None or step.key in ("leads", "converted"):
        return None
    query = {**filters.as_query(), **({"stage": step.stage_id} if step.stage_id else {"won": "1"})}
    return f"{base}?{urlencode(query)}#deals"


@login_required
@require_GET
def funnel_page(request: AuthenticatedRequest) -> HttpResponse:
    """GET ?period=&pipeline=&team=&owner=&source=[&stage=<id>|&won=1]: the funnel; a step lists its deals."""
    filters, status = _filters(request)
    funnel = selectors.funnel_for_user(user=request.user, filters=filters)
    base = reverse("web:funnel")
    stage_id = id_parameter(request.GET, "stage")
    won = boolean_parameter(request.GET, "won")
    deals, chosen = None, None
    if stage_id is not None or won:
        try:
            deals = list(
                selectors.funnel_deals_for_user(
                    user=request.user, filters=filters, stage_id=stage_id, won=won
                )[:200]
            )
            chosen = next(
                (
                    step
                    for step in funnel.steps
                    if (won and step.key == "won") or (stage_id and step.stage_id == stage_id)
                ),
                None,
            )
        except ApplicationError as error:
            messages.error(request, error.message)
    steps: list[dict[str, Any]] = [
        {"step": step, "url": _funnel_step_url(base, filters, step)} for step in funnel.steps
    ]
    return render(
        request,
        "web/funnel/page.html",
        {
            "filters": filters,
            "funnel": funnel,
            "steps": steps,
            "deals": deals,
            "chosen": chosen,
            "options": _filter_options(request),
            "chart": _funnel_figure(funnel, [item["url"] for item in steps]),
            "created_url": DealLinks(filters).created(pipeline=funnel.pipeline_id),
        },
        status=status,
    )


_DEFINITIONS_CACHE: dict[str, str] = {}


@login_required
@require_GET
def metrics_definitions(request: AuthenticatedRequest) -> HttpResponse:
    """docs/metrics.md rendered as a page: the definition of every number on the dashboard."""
    path = settings.BASE_DIR / "docs" / "metrics.md"
    html = _DEFINITIONS_CACHE.get(str(path))
    if html is None:
        from markdown_it import MarkdownIt

        text = path.read_text(encoding="utf-8") if path.exists() else _("The definitions file is missing.")
        html = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
        _DEFINITIONS_CACHE[str(path)] = html
    return render(request, "web/dashboard/definitions.html", {"html": html})
