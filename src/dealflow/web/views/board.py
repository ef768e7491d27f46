"""The stage board (home page) and the forecast board: columns of deal cards, moved by drag and drop or
by each card's "Move to..." menu (HTMX). A move answers with out-of-band swaps: the card leaves its
column, lands at the top of the new one, and both column headers re-render their totals."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from dealflow.accounts.models import Team, User
from dealflow.accounts.selectors import team_list_visible, user_access_scope, user_list_visible
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.parameters import id_parameter, is_number, text_parameter
from dealflow.core.periods import Period, parse_period, period_containing
from dealflow.deals.models import Deal, Pipeline
from dealflow.deals.selectors import (
    DealFilters,
    base_currency,
    deal_get_for_user,
    lost_reason_get,
    lost_reason_list,
    pipeline_get,
    pipeline_get_default,
    pipeline_list,
    stage_get,
)
from dealflow.deals.selectors_board import (
    board_card_for_user,
    board_column_for_user,
    board_for_user,
    forecast_board_for_user,
    forecast_close_date_in,
    forecast_column_for_user,
    forecast_column_key,
    forecast_months,
)
from dealflow.deals.services import (
    activity_create,
    deal_mark_lost,
    deal_mark_won,
    deal_move_to_stage,
    deal_update,
)
from dealflow.deals.services.trash import deal_undo_stage_step, follow_up_note_text
from dealflow.web.forms.deals import ACTIVITY_KIND_CHOICES, DealActivityForm
from dealflow.web.views.workspace import AuthenticatedRequest

ORIGIN = "web"


# --- the filters every board request carries (GET on the page, hx-include on moves) ----------------------


@dataclass
class BoardQuery:
    """The board's filter controls: pipeline, owner (me / all / u<id> / t<id>), close period, text."""

    pipeline: Pipeline | None
    owner: str
    period: str
    search: str
    filters: DealFilters
    errors: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, data: QueryDict, *, user: User, all_pipelines: bool = False) -> BoardQuery:
        errors: list[str] = []
        pipeline_id = id_parameter(data, "pipeline")
        if pipeline_id is not None:
            pipeline: Pipeline | None = pipeline_get(pipeline_id=pipeline_id)
        else:
            pipeline = None if all_pipelines and "pipeline" in data else pipeline_get_default()
        scope = user_access_scope(user=user)
        default_owner = "all" if scope.sees_everything or scope.is_manager else "me"
        owner = text_parameter(data, "owner") or default_owner
        filters = DealFilters(search=text_parameter(data, "q"))
        if owner == "me":
            filters.mine = True
        elif owner[:1] in ("u", "t") and owner[1:].isascii() and owner[1:].isdigit() and len(owner) < 20:
            if owner[0] == "u":
                filters.owner_id = int(owner[1:])
            else:
                filters.team_id = int(owner[1:])
        else:
            owner = "all"
        period = text_parameter(data, "period") or ""
        if period:
            try:
                chosen = parse_period(period)
                filters.close_from, filters.close_to = chosen.start, chosen.end - dt.timedelta(days=1)
            except ApplicationError as error:
                errors.append(error.message)
                period = ""
        return cls(pipeline, owner, period, filters.search or "", filters, errors)

    def querystring(self) -> str:
        values = {"owner": self.owner, "period": self.period, "q": self.search}
        if self.pipeline is not None:
            values["pipeline"] = str(self.pipeline.pk)
        return urlencode({key: value for key, value in values.items() if value})


def _period_choices(current: str) -> list[tuple[str, str]]:
    today = clock.today()
    month = period_containing(today, kind="month")
    quarter = period_containing(today, kind="quarter")
    year = period_containing(today, kind="year")
    choices = [
        ("", _("Any close date")),
        (month.key, _("This month")),
        (month.next().key, _("Next month")),
        (quarter.key, _("This quarter")),
        (quarter.next().key, _("Next quarter")),
        (year.key, _("This year")),
    ]
    if current and current not in {key for key, _label in choices}:
        choices.append((current, current))
    return choices


def _owner_choices(user: User) -> list[tuple[str, str]]:
    choices = [("me", _("My deals")), ("all", _("All deals I can see"))]
    teams: list[Team] = list(team_list_visible(user=user))
    choices += [(f"t{team.pk}", _("Team: %(name)s") % {"name": team.name}) for team in teams]
    choices += [
        (f"u{person.pk}", person.display_name)
        for person in user_list_visible(user=user)
        if person.pk != user.pk
    ]
    return choices


def _filter_context(request: AuthenticatedRequest, query: BoardQuery, *, all_pipelines: bool = False) -> dict:
    for error in query.errors:
        messages.error(request, error)
    return {
        "query": query,
        "querystring": query.querystring(),
        "pipelines": list(pipeline_list()),
        "owner_choices": _owner_choices(request.user),
        "period_choices": _period_choices(query.period),
        "all_pipelines": all_pipelines,
    }


_SENTINEL = 2147480001


def _url_parts(name: str) -> tuple[str, str]:
    """A route with one integer argument as (prefix, suffix), so 250 cards need no reverse() each."""
    try:
        url = reverse(name, args=[_SENTINEL])
    except NoReverseMatch:
        return "", ""  # the deal page is another module's; cards show plain titles until it exists
    prefix, suffix = url.split(str(_SENTINEL))
    return prefix, suffix


def _card_context(kind: str) -> dict:
    """What every card template needs once per response: URL parts and labels translated once."""
    deal_prefix, deal_suffix = _url_parts("web:deal_detail")
    move_name = "web:forecast_board_move" if kind == "forecast" else "web:board_move"
    move_prefix, move_suffix = _url_parts(move_name)
    return {
        "kind": kind,
        "urls": {
            "deal_prefix": deal_prefix,
            "deal_suffix": deal_suffix,
            "move_prefix": move_prefix,
            "move_suffix": move_suffix,
        },
        "labels": {
            "close": _("Expected close date"),
            "close_passed": _("Expected close date has passed"),
            "no_close": _("No close date"),
            "days_in_stage": _("Days in this stage"),
            "rotting": _("rotting"),
            "overdue": _("Activity overdue"),
            "today": _("Activity today"),
            "planned": _("Activity planned"),
            "no_activity": _("No activity planned"),
            "move_to": _("Move to…"),
        },
    }


def _error_response(error: ApplicationError) -> HttpResponse:
    """A refused move: the status of the error and a red toast; the card stays where it was."""
    response = HttpResponse(error.message, status=error.status_code, content_type="text/plain; charset=utf-8")
    response["HX-Trigger"] = json.dumps({"dealflow:toast": {"text": error.message, "level": "error"}})
    return response


def _toast(response: HttpResponse, text: str, *, undo: dict | None = None) -> HttpResponse:
    toast: dict = {"text": text, "level": "success"}
    if undo is not None:
        toast["undo"] = undo
    response["HX-Trigger"] = json.dumps({"dealflow:toast": toast})
    return response


# --- the stage board ------------------------------------------------------------------------------------


@login_required
@require_GET
def board(request: AuthenticatedRequest) -> HttpResponse:
    """The home page: the stage board of one pipeline (with the filter the user last used on it)."""
    remembered = board_filter_remembered(request)
    if remembered is not None:
        return remembered
    query = BoardQuery.parse(request.GET, user=request.user)
    if query.pipeline is None:
        return render(request, "web/board/no_pipeline.html")
    context = _filter_context(request, query) | _card_context("stage")
    context["board"] = board = board_for_user(
        user=request.user, pipeline=query.pipeline, filters=query.filters
    )
    context["move_options"] = _stage_move_options([column.stage for column in board.columns])
    context["lost_reasons"] = list(lost_reason_list())
    context["activity_kinds"] = ACTIVITY_KIND_CHOICES
    return render(request, "web/board/board.html", context)


BOARD_FILTER_KEY = "dealflow.board_filter"
BOARD_FILTER_FIELDS = {"pipeline", "owner", "period", "q"}


def board_filter_remembered(request: AuthenticatedRequest) -> HttpResponse | None:
    """The board remembers its last filter in the session: a bare visit goes back to it."""
    if request.GET:
        kept = {name: value for name, value in request.GET.items() if name in BOARD_FILTER_FIELDS}
        request.session[BOARD_FILTER_KEY] = urlencode(kept)
        return None
    last = request.session.get(BOARD_FILTER_KEY)
    if last:
        return HttpResponseRedirect(f"{request.path}?{last}")
    return None


@login_required
@require_GET
def board_column(request: AuthenticatedRequest, stage_id: int) -> HttpResponse:
    """The next cards of one column ("load more")."""
    query = BoardQuery.parse(request.GET, user=request.user)
    stage = stage_get(stage_id=stage_id, field=None)
    column = board_column_for_user(
        user=request.user, stage=stage, filters=query.filters, after=request.GET.get("after", "")
    )
    context = {"column": column, "querystring": query.querystring()} | _card_context("stage")
    return render(request, "web/board/_cards.html", context)


@login_required
@require_POST
def board_move(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """Drop a card on another stage, or on Won / Lost (with a reason)."""
    query = BoardQuery.parse(request.POST, user=request.user)
    try:
        deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
        from_stage = deal.stage
        deal = _apply_stage_move(request, deal)
    except ApplicationError as error:
        return _error_response(error)
    response = render(request, "web/board/_moved.html", _moved_context(request, query, deal, from_stage))
    undo = {
        "url": reverse("web:board_undo", args=[deal.pk]),
        "target": f"#deal-{deal.pk}",
        "values": {"version": deal.version, "previous_stage": from_stage.pk, **_query_values(request)},
    }
    if deal.status == "won":
        text = _("“%(title)s” is won.") % {"title": deal.title}
    elif deal.status == "lost":
        text = _("“%(title)s” is lost.") % {"title": deal.title}
    else:
        text = _("“%(title)s” moved to %(stage)s.") % {"title": deal.title, "stage": deal.stage.name}
    return _toast(response, text, undo=undo)


def _query_values(request: AuthenticatedRequest) -> dict[str, str]:
    """The board's filters, so the undo's answer re-renders the columns as the user sees them."""
    return {name: request.POST[name] for name in BOARD_FILTER_FIELDS if request.POST.get(name)}


@login_required
@require_POST
def board_undo(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """Undo a move, win or loss made on the board: back to the stage it came from (a move, or a reopen),
    refused with a red toast when the deal changed since (someone else's change, or an undo already done)."""
    query = BoardQuery.parse(request.POST, user=request.user)
    try:
        deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
        from_stage = deal.stage
        previous = id_parameter(request.POST, "previous_stage")
        version = _version(request)
        if previous is None or version is None:
            raise ApplicationError(_("There is nothing to undo for this deal."), field="version")
        deal = deal_undo_stage_step(
            deal=deal,
            previous_stage=stage_get(stage_id=previous),
            expected_version=version,
            by=request.user,
            origin=ORIGIN,
        )
    except ApplicationError as error:
        return _error_response(error)
    response = render(request, "web/board/_moved.html", _moved_context(request, query, deal, from_stage))
    undone = _("Undone: “%(title)s” is back in %(stage)s.") % {"title": deal.title, "stage": deal.stage.name}
    return _toast(response, " ".join(part for part in (undone, follow_up_note_text(deal)) if part))


@login_required
@require_POST
def board_activity(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """Plan or log an activity from a card's menu; the card comes back with its activity marker updated."""
    try:
        deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
        form = DealActivityForm(request.POST)
        if not form.is_valid():
            errors = "; ".join(
                f"{form.fields[name].label}: {' '.join(str(item) for item in error)}"
                for name, error in form.errors.items()
            )
            raise ApplicationError(errors, field="activity")
        data = form.cleaned_data
        activity_create(
            owner=request.user,
            by=request.user,
            deal=deal,
            person=deal.person,
            kind=data["kind"],
            subject=data["subject"],
            notes=data["notes"],
            due_at=data["due_at"],
            done_at=(data["due_at"] or clock.now()) if data["is_done"] else None,
            origin=ORIGIN,
        )
    except ApplicationError as error:
        return _error_response(error)
    context = {"card": board_card_for_user(user=request.user, deal=deal), "column_key": str(deal.stage_id)}
    response = render(request, "web/board/_card.html", context | _card_context("stage"))
    return _toast(response, _("Activity added to “%(title)s”.") % {"title": deal.title})


def _version(request: AuthenticatedRequest) -> int | None:
    value = request.POST.get("version") or ""
    return int(value) if is_number(value) else None


def _apply_stage_move(request: AuthenticatedRequest, deal: Deal) -> Deal:
    outcome = request.POST.get("outcome") or ""
    version = _version(request)
    if outcome == "won":
        return deal_mark_won(deal=deal, by=request.user, expected_version=version, origin=ORIGIN)
    if outcome == "lost":
        reason_id = request.POST.get("reason") or ""
        return deal_mark_lost(
            deal=deal,
            reason=lost_reason_get(reason_id=int(reason_id) if is_number(reason_id) else None),
            note=request.POST.get("note", "")[:2000],
            by=request.user,
            expected_version=version,
            origin=ORIGIN,
        )
    stage_id = request.POST.get("stage") or ""
    if not is_number(stage_id):
        raise ApplicationError(_("Pick a stage to move the deal to."), field="stage")
    stage = stage_get(stage_id=int(stage_id))
    return deal_move_to_stage(
        deal=deal, stage=stage, by=request.user, expected_version=version, origin=ORIGIN
    )


def _moved_context(request: AuthenticatedRequest, query: BoardQuery, deal: Deal, from_stage) -> dict:
    user = request.user
    columns = [board_column_for_user(user=user, stage=from_stage, filters=query.filters, per_column=0)]
    card = None
    if deal.is_open:
        columns.append(
            board_column_for_user(user=user, stage=deal.stage, filters=query.filters, per_column=0)
        )
        card = board_card_for_user(user=user, deal=deal)
    return {
        "columns": columns,
        "card": card,
        "target_key": str(deal.stage_id),
        "querystring": query.querystring(),
        "base_currency": base_currency(),
    } | _card_context("stage")


def _stage_move_options(stages) -> list[dict]:
    options = []
    for stage in stages:
        if stage is not None and stage.kind == "open":
            options.append(
                {"key": str(stage.pk), "label": stage.name, "vals": json.dumps({"stage": stage.pk})}
            )
    options.append(
        {"key": "won", "label": _("Won"), "vals": json.dumps({"outcome": "won"}), "outcome": "won"}
    )
    options.append({"key": "lost", "label": _("Lost…"), "vals": "", "outcome": "lost"})
    return options


# --- the forecast board -------------------------------------------------------------------------------


FORECAST_TITLES = {
    "earlier": gettext_lazy("Earlier"),
    "later": gettext_lazy("Later"),
    "none": gettext_lazy("No date"),
}


@login_required
@require_GET
def forecast_board(request: AuthenticatedRequest) -> HttpResponse:
    """Open deals in columns by expected-close month; dragging a card changes its expected close date."""
    query = BoardQuery.parse(request.GET, user=request.user, all_pipelines=True)
    context = _filter_context(request, query, all_pipelines=True) | _card_context("forecast")
    board = forecast_board_for_user(user=request.user, filters=query.filters, pipeline=query.pipeline)
    board.columns = [_titled(column) for column in board.columns]
    context["board"] = board
    context["move_options"] = _month_move_options()
    return render(request, "web/board/forecast.html", context)


@login_required
@require_GET
def forecast_board_column(request: AuthenticatedRequest, column_key: str) -> HttpResponse:
    """The next cards of one month column ("load more")."""
    query = BoardQuery.parse(request.GET, user=request.user, all_pipelines=True)
    column = forecast_column_for_user(
        user=request.user,
        column_key=column_key,
        filters=query.filters,
        pipeline=query.pipeline,
        after=request.GET.get("after", ""),
    )
    context = {"column": _titled(column), "querystring": query.querystring()} | _card_context("forecast")
    return render(request, "web/board/_cards.html", context)


@login_required
@require_POST
def forecast_board_move(request: AuthenticatedRequest, deal_id: int) -> HttpResponse:
    """Drop a card on another month: its expected close date moves to that month (an event records it)."""
    query = BoardQuery.parse(request.POST, user=request.user, all_pipelines=True)
    try:
        deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
        month = _month(request.POST.get("month", ""))
        old_key = forecast_column_key(expected_close_on=deal.expected_close_on)
        new_date = forecast_close_date_in(month=month, current=deal.expected_close_on)
        deal = deal_update(
            deal=deal,
            by=request.user,
            data={"expected_close_on": new_date},
            expected_version=_version(request),
            origin=ORIGIN,
        )
    except ApplicationError as error:
        return _error_response(error)
    user = request.user
    keys = dict.fromkeys([old_key, month.key])
    columns = [
        forecast_column_for_user(
            user=user, column_key=key, filters=query.filters, pipeline=query.pipeline, per_column=0
        )
        for key in keys
    ]
    context = {
        "columns": [_titled(column) for column in columns],
        "card": board_card_for_user(user=user, deal=deal),
        "target_key": month.key,
        "querystring": query.querystring(),
        "base_currency": base_currency(),
    } | _card_context("forecast")
    return render(request, "web/board/_moved.html", context)


def _month(value: str) -> Period:
    month = parse_period(value or "", field="month")
    if month.kind != "month":
        raise ApplicationError(_("Drop the deal on a month."), field="month")
    return month


def _titled(column):
    column.title = FORECAST_TITLES.get(column.key, column.title)
    return column


def _month_move_options() -> list[dict]:
    return [
        {"key": month.key, "label": month.start, "vals": json.dumps({"month": month.key}), "is_month": True}
        for month in forecast_months(today=clock.today())
    ]
