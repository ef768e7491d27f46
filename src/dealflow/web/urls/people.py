"""Team pulse: surveys, results, eNPS, one-on-ones (views in web/views/people.py and one_on_ones.py)."""

from django.urls import path

from dealflow.web.views import one_on_ones, people

urlpatterns = [
    path("people/", people.people_home, name="people_home"),
    path("people/action-items/", people.people_action_items, name="people_action_items"),
    path("people/surveys/new/", people.people_survey_new, name="people_survey_new"),
    path("people/surveys/<int:survey_id>/", people.people_survey, name="people_survey"),
    path("people/surveys/<int:survey_id>/stop/", people.people_survey_deactivate, name="people_survey_stop"),
    path("people/surveys/<int:survey_id>/enps/", people.people_enps, name="people_enps"),
    path("people/runs/<int:run_id>/answer/", people.people_answer, name="people_answer"),
    path("people/runs/<int:run_id>/results/", people.people_results, name="people_results"),
    path("people/runs/<int:run_id>/results.csv", people.people_results_csv, name="people_results_csv"),
    path("people/runs/<int:run_id>/close/", people.people_run_close, name="people_run_close"),
    path("people/one-on-ones/", one_on_ones.people_one_on_ones, name="people_one_on_ones"),
    path("people/one-on-ones/<int:series_id>/", one_on_ones.people_series, name="people_series"),
    path(
        "people/one-on-ones/<int:series_id>/stop/", one_on_ones.people_series_stop, name="people_series_stop"
    ),
    path("people/one-on-ones/<int:series_id>.ics", one_on_ones.people_series_ics, name="people_series_ics"),
    path("people/meetings/<int:meeting_id>/", one_on_ones.people_meeting, name="people_meeting"),
    path("people/meetings/<int:meeting_id>.ics", one_on_ones.people_meeting_ics, name="people_meeting_ics"),
    path("people/meetings/<int:meeting_id>/agenda/", one_on_ones.people_agenda_add, name="people_agenda_add"),
    path(
        "people/meetings/<int:meeting_id>/notes/",
        one_on_ones.people_meeting_notes,
        name="people_meeting_notes",
    ),
    path(
        "people/meetings/<int:meeting_id>/actions/", one_on_ones.people_action_add, name="people_action_add"
    ),
    path(
        "people/meetings/<int:meeting_id>/complete/",
        one_on_ones.people_meeting_complete,
        name="people_meeting_complete",
    ),
    path(
        "people/agenda/<int:item_id>/toggle/", one_on_ones.people_agenda_toggle, name="people_agenda_toggle"
    ),
    path(
        "people/actions/<int:item_id>/toggle/", one_on_ones.people_action_toggle, name="people_action_toggle"
    ),
]
