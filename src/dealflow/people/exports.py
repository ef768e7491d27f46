"""A run's results as CSV: aggregates only (never one row per respondent), under the same threshold as
the page, so a spreadsheet cannot be used to cross-tabulate a person's answers."""

from __future__ import annotations

import csv
import io

from django.utils.translation import gettext as _

from dealflow.core.errors import ApplicationError
from dealflow.people.selectors import RunResults

HEADER = ["section", "question", "kind", "answer", "count", "share_percent", "mean", "previous_mean"]


def results_csv_rows(*, results: RunResults) -> list[list[str]]:
    """The rows of the export; refuses results that are hidden by the threshold."""
    if not results.is_visible:
        raise ApplicationError(results.hidden_reason, field="run")
    run = results.run
    rows: list[list[str]] = [HEADER]

    def add(*values: object) -> None:
        rows.append(["" if value is None else str(value) for value in values])

    add("run", run.survey.title, "", run.opens_on.isoformat(), "", "", "", "")
    if results.team is not None:
        add("team", results.team.name, "", "", "", "", "", "")
    add("invited", "", "", "", results.invited, "", "", "")
    add("answered", "", "", "", results.answered, results.response_rate, "", "")
    if results.enps is not None:
        add("enps", "promoters", "enps", "9-10", results.enps.promoters, results.enps.promoter_share, "", "")
        add("enps", "passives", "enps", "7-8", results.enps.passives, results.enps.passive_share, "", "")
        add(
            "enps", "detractors", "enps", "0-6", results.enps.detractors, results.enps.detractor_share, "", ""
        )
        previous = results.previous_enps.score if results.previous_enps else None
        add("enps", "score", "enps", "", results.enps.total, results.enps.score, "", previous)
    for item in results.questions:
        question = item.question
        if not item.is_visible:
            add(
                "question", question.display_text, question.kind, _("hidden: too few answers"), "", "", "", ""
            )
            continue
        for bar in item.bars:
            add("question", question.display_text, question.kind, bar.label, bar.count, bar.share, "", "")
        if item.mean is not None:
            add(
                "question",
                question.display_text,
                question.kind,
                "mean",
                item.count,
                "",
                item.mean,
                item.previous_mean,
            )
        for text in item.texts:
            add("text", question.display_text, question.kind, text, "", "", "", "")
    return rows


def results_csv(*, results: RunResults) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in results_csv_rows(results=results):
        # A cell starting with = + - @ would run as a formula in a spreadsheet; free text is user input.
        writer.writerow(
            [
                "'" + cell if cell[:1] in ("=", "+", "-", "@") and not _is_number(cell) else cell
                for cell in row
            ]
        )
    return buffer.getvalue()


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
