"""Reads of the people app. Every access gate and the anonymity threshold live here, so each door
(page, API, CSV export, CLI) shows exactly what these functions return and nothing more.

One module per topic: surveys (gates, runs, the respondent's side), results (behind the anonymity
threshold), one_on_ones. Callers use ``selectors.<name>``.
"""

from dealflow.people.selectors.one_on_ones import (
    action_item_get_for_user,
    action_item_list_for_meeting,
    action_item_list_open_for_user,
    agenda_item_get_for_user,
    agenda_list_for_meeting,
    meeting_get_for_user,
    meeting_list_for_series,
    meeting_next_for_series,
    one_on_one_partner_list,
    one_on_one_series_get_for_user,
    one_on_one_series_list_for_user,
    private_note_text_for_user,
)
from dealflow.people.selectors.results import (
    Bar,
    EnpsTrend,
    QuestionResult,
    RunResults,
    TeamRow,
    TrendPoint,
    survey_enps_trend_for_user,
    survey_run_results_for_user,
)
from dealflow.people.selectors.surveys import (
    AnswerForm,
    RunRow,
    invitation_list_pending_for_user,
    survey_get_for_user,
    survey_latest_runs_for_user,
    survey_list_for_user,
    survey_part_for_user,
    survey_run_get_for_respondent,
    survey_run_get_for_user,
    survey_run_list_for_user,
    survey_team_list_manageable,
)

__all__ = [
    "AnswerForm",
    "Bar",
    "EnpsTrend",
    "QuestionResult",
    "RunResults",
    "RunRow",
    "TeamRow",
    "TrendPoint",
    "action_item_get_for_user",
    "action_item_list_for_meeting",
    "action_item_list_open_for_user",
    "agenda_item_get_for_user",
    "agenda_list_for_meeting",
    "invitation_list_pending_for_user",
    "meeting_get_for_user",
    "meeting_list_for_series",
    "meeting_next_for_series",
    "one_on_one_partner_list",
    "one_on_one_series_get_for_user",
    "one_on_one_series_list_for_user",
    "private_note_text_for_user",
    "survey_enps_trend_for_user",
    "survey_get_for_user",
    "survey_latest_runs_for_user",
    "survey_list_for_user",
    "survey_part_for_user",
    "survey_run_get_for_respondent",
    "survey_run_get_for_user",
    "survey_run_list_for_user",
    "survey_run_results_for_user",
    "survey_team_list_manageable",
]
