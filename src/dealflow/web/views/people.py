"""Team pulse: surveys (builder, answer page, results, eNPS trend, CSV) and one-on-ones.

Results come only from ``people.selectors`` (which apply the anonymity threshold); the one-on-one page
adds the rep's open deals needing attention from the deals selectors, gated for the viewer. That join
happens here, in the web layer, because the people app never reads pipeline data.
One-on-ones have their own module, one_on_ones.py.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.parameters import id_parameter
from dealflow.people import selectors, services
from dealflow.people.exports import results_csv
from dealflow.people.models import QuestionKind
from dealflow.web.forms import form_add_application_error
from dealflow.web.forms.people import SurveyForm
from dealflow.web.views.workspace import (
    AuthenticatedRequest,
    permission_errors_as_403,
)

AGREEMENT_LABELS = {
    1: pgettext_lazy("agreement scale", "Strongly disagree"),
    2: pgettext_lazy("agreement scale", "Disagree"),
    3: pgettext_lazy("agreement scale", "Neutral"),
    4: pgettext_lazy("agreement scale", "Agree"),
    5: pgettext_lazy("agreement scale", "Strongly agree"),
}


def _team_id(request: AuthenticatedRequest) -> int | None:
    return id_parameter(request.GET, "team")


# --- Home and the in-app notices ----------------------------------------------------------------


@login_required
@require_GET
def people_home(request: AuthenticatedRequest) -> HttpResponse:
    """Surveys waiting for the user's answer, the surveys they run, their one-on-ones and action items."""
    user = request.user
    surveys = list(selectors.survey_list_for_user(user=user)[:50])
    latest = selectors.survey_latest_runs_for_user(user=user, survey_ids=[survey.pk for survey in surveys])
    context = {
        "invitations": selectors.invitation_list_pending_for_user(user=user),
        "surveys": [(survey, latest.get(survey.pk)) for survey in surveys],
        "can_create_survey": selectors.survey_team_list_manageable(user=user).exists(),
        "series_list": selectors.one_on_one_series_list_for_user(user=user).filter(is_active=True),
        "action_items": selectors.action_item_list_open_for_user(user=user)[:20],
        "today": clock.today(),
    }
    return render(request, "web/people/home.html", context)


def action_items_partial(request: AuthenticatedRequest) -> HttpResponse:
    context = {
        "action_items": selectors.action_item_list_open_for_user(user=request.user)[:100],
        "invitations": selectors.invitation_list_pending_for_user(user=request.user),
        "today": clock.today(),
    }
    return render(request, "web/people/_action_items.html", context)


@login_required
@require_GET
def people_action_items(request: AuthenticatedRequest) -> HttpResponse:
    """Partial for "My activities": the user's open one-on-one action items and unanswered surveys."""
    return action_items_partial(request)


# --- Surveys ------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@permission_errors_as_403
def people_survey_new(request: AuthenticatedRequest) -> HttpResponse:
    """The survey builder."""
    if not selectors.survey_team_list_manageable(user=request.user).exists():
        raise Http404("Only managers create surveys.")
    form = SurveyForm(request.POST or None, user=request.user, initial={"starts_on": clock.today()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            survey = services.survey_create(
                title=data["title"],
                teams=list(data["teams"]),
                questions=form.question_specs(),
                cadence=data["cadence"],
                starts_on=data["starts_on"],
                open_days=data["open_days"],
                by=request.user,
            )
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            messages.success(request, _("Survey created."))
            return HttpResponseRedirect(reverse("web:people_survey", args=[survey.pk]))
    return render(request, "web/people/survey_form.html", {"form": form, "max_questions": 10})


@login_required
@require_GET
def people_survey(request: AuthenticatedRequest, survey_id: int) -> HttpResponse:
    """A survey: its questions and runs with response rates."""
    survey = selectors.survey_get_for_user(survey_id=survey_id, user=request.user)
    context = {
        "survey": survey,
        "questions": survey.questions.order_by("position"),
        "runs": selectors.survey_run_list_for_user(survey_id=survey.pk, user=request.user),
        "today": clock.today(),
    }
    return render(request, "web/people/survey_detail.html", context)


@login_required
@require_POST
@permission_errors_as_403
def people_survey_deactivate(request: AuthenticatedRequest, survey_id: int) -> HttpResponse:
    survey = selectors.survey_get_for_user(survey_id=survey_id, user=request.user)
    services.survey_deactivate(survey=survey, by=request.user)
    messages.success(request, _("No new runs of this survey will open."))
    return HttpResponseRedirect(reverse("web:people_survey", args=[survey.pk]))


@login_required
@require_POST
def people_run_close(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    run = selectors.survey_run_get_for_user(run_id=run_id, user=request.user)
    try:
        services.survey_run_close(run=run, by=request.user)
        messages.success(request, _("The run is closed; no more answers are accepted."))
    except ApplicationError as error:
        messages.error(request, error.message)
    return HttpResponseRedirect(reverse("web:people_survey", args=[run.survey_id]))


def _answer_rows(questions: list, posted: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for question in questions:
        if question.kind == QuestionKind.CHOICE:
            options = list(enumerate(question.display_choices))
        elif question.kind == QuestionKind.AGREEMENT:
            options = [(value, str(AGREEMENT_LABELS[value])) for value in range(1, 6)]
        elif question.kind == QuestionKind.TEXT:
            options = []
        else:
            options = [(value, str(value)) for value in range(0, 11)]
        name = f"question_{question.pk}"
        rows.append({"question": question, "name": name, "options": options, "value": posted.get(name, "")})
    return rows


@login_required
@require_http_methods(["GET", "POST"])
@permission_errors_as_403
def people_answer(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    """The answer page of a run the user is invited to."""
    page = selectors.survey_run_get_for_respondent(run_id=run_id, user=request.user)
    error = None
    if request.method == "POST" and page.is_open and not page.is_answered:
        answers = {
            key.removeprefix("question_"): value
            for key, value in request.POST.items()
            if key.startswith("question_")
        }
        try:
            services.survey_response_submit(run=page.run, user=request.user, answers=answers)
        except ApplicationError as refusal:
            error = refusal
        else:
            messages.success(request, _("Thank you. Your answers were saved anonymously."))
            return HttpResponseRedirect(reverse("web:people_home"))
    context = {
        "page": page,
        "rows": _answer_rows(page.questions, request.POST.dict() if request.method == "POST" else {}),
        "error": error,
    }
    return render(request, "web/people/answer.html", context, status=400 if error else 200)


@login_required
@require_GET
def people_results(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    """A run's results (whole, or one team when that keeps the threshold)."""
    run = selectors.survey_run_get_for_user(run_id=run_id, user=request.user)
    teams = (
        selectors.survey_team_list_manageable(user=request.user).filter(surveys=run.survey).order_by("name")
    )
    refusal = None
    try:
        results = selectors.survey_run_results_for_user(
            run_id=run.pk, user=request.user, team_id=_team_id(request)
        )
    except ApplicationError as error:
        refusal = error.message
        results = selectors.survey_run_results_for_user(run_id=run.pk, user=request.user)
    context = {"results": results, "teams": teams, "refusal": refusal, "agreement_labels": AGREEMENT_LABELS}
    return render(request, "web/people/results.html", context, status=400 if refusal else 200)


@login_required
@require_GET
def people_results_csv(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    """The results as CSV, refused (like the page) below the threshold."""
    try:
        results = selectors.survey_run_results_for_user(
            run_id=run_id, user=request.user, team_id=_team_id(request)
        )
        body = results_csv(results=results)
    except ApplicationError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("web:people_results", args=[run_id]))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="survey-run-{run_id}.csv"'
    return response


def _trend_figure(trend: selectors.EnpsTrend) -> dict[str, Any]:
    points = [point for point in trend.points if point.enps is not None]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": str(_("eNPS")),
                "x": [point.run.opens_on.isoformat() for point in points],
                "y": [point.enps.score for point in points if point.enps],
            }
        ],
        "layout": {"yaxis": {"range": [-100, 100], "zeroline": True, "title": {"text": str(_("eNPS"))}}},
    }


@login_required
@require_GET
def people_enps(request: AuthenticatedRequest, survey_id: int) -> HttpResponse:
    """eNPS over a survey's runs, whole or per team."""
    survey = selectors.survey_get_for_user(survey_id=survey_id, user=request.user)
    trend = selectors.survey_enps_trend_for_user(
        survey_id=survey.pk, user=request.user, team_id=_team_id(request)
    )
    teams = selectors.survey_team_list_manageable(user=request.user).filter(surveys=survey).order_by("name")
    context = {"trend": trend, "teams": teams, "figure": _trend_figure(trend)}
    return render(request, "web/people/enps.html", context)
