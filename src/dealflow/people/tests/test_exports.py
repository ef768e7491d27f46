"""The CSV export: aggregates only, thresholded, and safe to open in a spreadsheet."""

import csv
import io

import pytest

from dealflow.core.errors import ApplicationError
from dealflow.people import selectors, services
from dealflow.people.exports import results_csv
from dealflow.people.tests.factories import answer_values


def test_export_refused_below_the_threshold(run, manager, sales_team):
    for user in sales_team[:4]:
        services.survey_response_submit(run=run, user=user, answers=answer_values(run, enps=5))
    results = selectors.survey_run_results_for_user(run_id=run.pk, user=manager)
    with pytest.raises(ApplicationError, match="batches of at least 5"):
        results_csv(results=results)


def test_export_neutralises_formulas_and_keeps_negative_numbers(run, manager, sales_team):
    for user in sales_team[:5]:
        services.survey_response_submit(
            run=run, user=user, answers=answer_values(run, enps=2, text='=HYPERLINK("http://x")')
        )
    rows = list(
        csv.reader(
            io.StringIO(
                results_csv(results=selectors.survey_run_results_for_user(run_id=run.pk, user=manager))
            )
        )
    )
    texts = [row[3] for row in rows if row[0] == "text"]
    assert texts == ['\'=HYPERLINK("http://x")'] * 5
    assert ["enps", "score", "enps", "", "5", "-100.0", "", ""] in rows
    # One row per answer option and summary line; never one row per respondent.
    assert not any(row[0] == "response" for row in rows)
