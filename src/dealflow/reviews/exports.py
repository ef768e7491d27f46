"""A finished (or running) review's report as Markdown or CSV: the same content as the HTML report.

Both take the ``Report`` that ``selectors.review_report_for_user`` builds, so the three doors (web, API,
CLI) export identical documents. Money is in the review's base currency, whole units.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dealflow.core.money import from_minor
from dealflow.deals.models import EventKind
from dealflow.reviews import calculations as calc
from dealflow.reviews.models import DecisionKind, DecisionStatus
from dealflow.reviews.selectors import Report

WATERFALL_LABELS = {
    "start": gettext_lazy("Start"),
    "new": gettext_lazy("New"),
    "pulled_in": gettext_lazy("Pulled in"),
    "pushed_out": gettext_lazy("Pushed out"),
    "increased": gettext_lazy("Increased"),
    "decreased": gettext_lazy("Decreased"),
    "won": gettext_lazy("Won"),
    "lost": gettext_lazy("Lost"),
    "end": gettext_lazy("End"),
}
WATERFALL_SIGNS = {
    "new": 1,
    "pulled_in": 1,
    "pushed_out": -1,
    "increased": 1,
    "decreased": -1,
    "won": -1,
    "lost": -1,
}


def whole(amount_minor: int | float | None, currency: str) -> str:
    """1234567 minor units -> "12,346" (plain, for files)."""
    if amount_minor is None:
        return ""
    value = from_minor(round(amount_minor), currency).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return f"{value:,}"


def percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.0f}%"


def _blank(value: object) -> object:
    return "" if value is None else value


def markdown_text(text: object) -> str:
    """Text typed by someone (a title, a note, a summary) as inert Markdown: raw HTML is escaped.

    Markdown passes HTML through, so ``<img src=x onerror=...>`` in a deal title would run in any wiki
    or mail client that renders the export. ``&``, ``<`` and ``>`` become entities (shown as the same
    characters), and a leading ``#``, ``>``, ``-``, ``+``, ``*`` or ``=`` cannot start a heading, quote
    or list."""
    value = _html_escaped(text)
    return "\n".join("\\" + line if line[:1] in "#-+*=" and line else line for line in value.split("\n"))


def _html_escaped(text: object) -> str:
    return (
        str(text if text is not None else "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    )


def _cell(text: object) -> str:
    """A table cell: raw HTML escaped (as in markdown_text), a pipe escaped, one line."""
    return _html_escaped(text).replace("|", "\\|").replace("\n", " ")


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(header) for header in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def event_text(event) -> str:
    """A DealEvent in words, for the adjustments table."""
    if event.kind == EventKind.STAGE_CHANGED:
        return _("stage %(old)s → %(new)s") % {"old": event.from_value, "new": event.to_value}
    if event.kind == EventKind.LOST:
        return _("marked lost (%(reason)s)") % {"reason": event.to_value}
    labels = {
        EventKind.CLOSE_DATE_CHANGED: _("close date"),
        EventKind.AMOUNT_CHANGED: _("amount"),
        EventKind.OWNER_CHANGED: _("owner"),
        EventKind.CATEGORY_CHANGED: _("forecast category"),
        EventKind.PROBABILITY_CHANGED: _("probability"),
    }
    label = labels.get(
        event.kind, str(EventKind(event.kind).label) if event.kind in EventKind.values else event.kind
    )
    return f"{label}: {event.from_value or '–'} → {event.to_value or '–'}"


def decision_text(decision) -> str:
    """A decision and its values in words: "Push close date to 2026-12-15"."""
    params = decision.params or {}
    label = str(DecisionKind(decision.kind).label)
    detail = {
        DecisionKind.PUSH_CLOSE_DATE: params.get("expected_close_on"),
        DecisionKind.MOVE_STAGE: params.get("stage"),
        DecisionKind.CHANGE_AMOUNT: params.get("amount")
        and f"{params.get('amount')} {params.get('currency', '')}",
        DecisionKind.CHANGE_CATEGORY: params.get("category"),
        DecisionKind.CHANGE_PROBABILITY: params.get("probability") is not None
        and f"{params.get('probability')} %",
        DecisionKind.REASSIGN: params.get("owner"),
        DecisionKind.MARK_LOST: params.get("reason"),
        DecisionKind.ADD_NEXT_STEP: params.get("next_step")
        and (params["next_step"] + (f" ({params['next_step_on']})" if params.get("next_step_on") else "")),
    }.get(decision.kind)
    return f"{label}: {detail}" if detail else label


def _stamp(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def report_markdown(report: Report) -> str:
    """The report as Markdown (headings, tables), ready for a wiki or an e-mail."""
    workspace = report.workspace
    review, snapshot = workspace.review, workspace.snapshot
    currency = snapshot.currency
    lines = [
        f"# {_('Pipeline review')}: {markdown_text(workspace.label)}, {review.period_key}",
        "",
        _("Snapshot of %(as_of)s · started by %(user)s · %(status)s")
        % {
            "as_of": _stamp(snapshot.as_of),
            "user": markdown_text(review.started_by.display_name),
            "status": str(review.get_status_display()),
        },
    ]
    if review.finished_at:
        lines.append(
            _("Finished %(at)s by %(user)s.")
            % {
                "at": _stamp(review.finished_at),
                "user": markdown_text(review.finished_by.display_name if review.finished_by else ""),
            }
        )
    if review.summary:
        lines += ["", markdown_text(review.summary)]
    lines += ["", f"## {_('Forecast for the period')} ({currency})", ""]
    lines += _table(
        [_("Closed so far"), _("Mean"), "P10", "P50", "P90", _("Quota"), _("P(reaching quota)")],
        [
            [
                whole(snapshot.closed_minor, currency),
                whole(snapshot.mean_minor, currency),
                whole(snapshot.p10_minor, currency),
                whole(snapshot.p50_minor, currency),
                whole(snapshot.p90_minor, currency),
                whole(snapshot.quota_minor, currency),
                percent(snapshot.p_quota),
            ]
        ],
    )
    lines += ["", f"## {_('Open deals by stage')}", ""]
    lines += _table(
        [_("Stage"), _("Deals"), _("Amount"), _("Expected (p × amount)"), _("Dated in the period")],
        [
            [
                stage.stage,
                stage.count,
                whole(stage.amount_minor, currency),
                whole(stage.expected_minor, currency),
                whole(stage.in_period_minor, currency),
            ]
            for stage in workspace.stages
        ],
    )
    lines += ["", f"## {_('Dated in the period, by forecast category')}", ""]
    lines += _table(
        [_("Category"), _("Deals"), _("Amount"), _("Expected in the period")],
        [
            [
                category["label"],
                category["count"],
                whole(category["amount_minor"], currency),
                whole(category["expected_minor"], currency),
            ]
            for category in workspace.categories
        ],
    )
    lines += ["", f"## {_('What changed since the last review')}", ""]
    if workspace.waterfall:
        totals = workspace.waterfall["totals"]
        lines += _table(
            [_("Bar"), _("Amount"), _("Deals")],
            [
                [
                    str(WATERFALL_LABELS[key]),
                    ("−" if WATERFALL_SIGNS.get(key) == -1 else "+" if WATERFALL_SIGNS.get(key) == 1 else "")
                    + whole(totals[key], currency),
                    ", ".join(item["title"] for item in workspace.waterfall["items"].get(key, [])[:12]),
                ]
                for key in calc.WATERFALL_BUCKETS
            ],
        )
    else:
        lines.append(_("This is the first review of this scope: the next one will show what changed."))
    lines += ["", f"## {_('Bottlenecks')}", ""]
    lines += _table(
        [
            _("Stage"),
            _("Entered"),
            _("Conversion"),
            _("Median days"),
            _("P80 days"),
            _("Won deals"),
            _("Open"),
            _("Waiting value"),
            _("Why"),
        ],
        [
            [
                row["stage"],
                row["entered"],
                percent(row["conversion"]),
                _blank(row["median_days"]),
                _blank(row["p80_days"]),
                f"{row['won_days']} ({row['won_label']})" if row["won_days"] is not None else "",
                row["open_deals"],
                whole(row["open_value_minor"], currency),
                " ".join(row["reasons"]),
            ]
            for row in workspace.bottlenecks
        ],
    )
    lines += ["", f"## {_('Data quality per rep')}", ""]
    lines += _table(
        [
            _("Rep"),
            _("Open deals"),
            _("No amount"),
            _("No close date"),
            _("No next step"),
            _("Past close date"),
        ],
        [
            [
                item.owner,
                item.quality.open_deals,
                percent(item.quality.missing_amount_share),
                percent(item.quality.missing_close_date_share),
                percent(item.quality.missing_next_step_share),
                percent(item.quality.past_close_date_share),
            ]
            for item in workspace.quality
        ],
    )
    titles = workspace.titles
    lines += ["", f"## {_('Decisions')}", ""]
    lines += _table(
        [_("Deal"), _("Decision"), _("Note"), _("Status"), _("Decided by"), _("Applied by")],
        [
            [
                titles.get(decision.deal_id, decision.deal_id),
                decision_text(decision),
                decision.note,
                str(DecisionStatus(decision.status).label) + (" ↩" if decision.carried_from_id else ""),
                f"{decision.decided_by.display_name} {_stamp(decision.created_at)}",
                f"{decision.applied_by.display_name} {_stamp(decision.applied_at)}"
                if decision.applied_by
                else "",
            ]
            for decision in workspace.decisions
        ],
    )
    lines += ["", f"## {_('Adjustments')}", ""]
    rows = [
        [
            adjustment.event.deal.title,
            event_text(adjustment.event),
            adjustment.event.note,
            adjustment.event.actor.display_name if adjustment.event.actor else "",
            _stamp(adjustment.event.occurred_at),
        ]
        for adjustment in report.adjustments
    ]
    rows += [
        [
            activity.deal.title if activity.deal else "",
            _("task: %(subject)s") % {"subject": activity.subject},
            activity.notes,
            activity.owner.display_name,
            _stamp(activity.created_at),
        ]
        for activity in report.activities
    ]
    lines += _table([_("Deal"), _("Change"), _("Note"), _("By"), _("When")], rows)
    return "\n".join(lines) + "\n"


CSV_COLUMNS = [
    "deal_id", "title", "owner", "stage", "amount", "currency", "expected_close_on", "category", "p_win",
    "p_period", "expected_value", "expected_in_period", "value_at_risk", "flags", "close_rank", "rescue_rank",
    "decisions", "decision_notes", "decision_status", "decided_by", "applied_by",
]  # fmt: skip


def spreadsheet_safe(value: object) -> object:
    """A text cell starting with = + - @ (a formula to a spreadsheet) gets a leading quote (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


CSV_LINES_PER_CHUNK = 500  # lines joined into one piece of the streamed file


WATERFALL_CSV_COLUMNS = [
    "deal_id",
    "title",
    "amount",
    "currency",
    "close_date_before",
    "close_date_now",
    "left_scope",
]


def waterfall_csv(items: list[dict[str, Any]], *, currency: str) -> Iterator[str]:
    """Every deal behind one bar of the waterfall, one line each (the page lists the largest 50)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(WATERFALL_CSV_COLUMNS)
    for number, item in enumerate(items, start=1):
        writer.writerow(
            spreadsheet_safe(value)
            for value in [
                item["deal_id"],
                item["title"],
                str(from_minor(item["amount_minor"], currency)),
                currency,
                item.get("from_close_on") or "",
                item.get("to_close_on") or "",
                "yes" if item.get("left_scope") else "",
            ]
        )
        if number % CSV_LINES_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def report_csv(report: Report) -> Iterator[str]:
    """One line per deal of the snapshot: its frozen numbers, flags, ranks and the decisions taken.

    The file comes in pieces (a header, then ``CSV_LINES_PER_CHUNK`` lines at a time) as ``report.rows``
    reads the rows: a web response streams them and a worker never holds the whole file (74,000 rows at 1M
    deals). "Close this period" first in rank order, then every other deal by id."""
    workspace = report.workspace
    currency = workspace.snapshot.currency
    by_deal: dict[int, list] = {}
    for decision in workspace.decisions:
        by_deal.setdefault(decision.deal_id, []).append(decision)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for number, ranked in enumerate(report.rows, start=1):
        row = ranked.row
        decisions = by_deal.get(row.deal_id, [])
        writer.writerow(
            spreadsheet_safe(value)
            for value in [
                row.deal_id,
                row.title,
                workspace.owners.get(row.owner_id, row.owner_id),
                row.stage_name,
                str(from_minor(row.amount_minor, currency)),
                currency,
                row.expected_close_on or "",
                row.category,
                f"{row.p_win:.4f}",
                f"{row.p_period:.4f}",
                str(from_minor(row.expected_value_minor, currency)),
                str(from_minor(row.expected_period_minor, currency)),
                str(from_minor(row.value_at_risk_minor, currency)),
                "; ".join(calc.flag_text(flag) for flag in row.flags),
                _blank(ranked.close_rank),
                _blank(ranked.rescue_rank),
                "; ".join(decision_text(item) for item in decisions),
                "; ".join(item.note for item in decisions if item.note),
                "; ".join(item.status for item in decisions),
                "; ".join(item.decided_by.display_name for item in decisions),
                "; ".join(item.applied_by.display_name for item in decisions if item.applied_by),
            ]
        )
        if number % CSV_LINES_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
