"""`dealflow people ...`: pulse surveys and one-on-ones from the shell, acting as a named user.

    dealflow people survey-create --user mona --title "March pulse" --team Benelux \\
        --question enps --question workload --question "choice:Best day?:Monday|Friday" --cadence monthly
    dealflow people surveys --user mona
    dealflow people runs 12 --user mona
    dealflow people results 34 --user mona [--team 3] [--csv]
    dealflow people enps 12 --user mona [--team 3]
    dealflow people one-on-ones --user mona
    dealflow people open-due-runs | send-reminders | publish-answers

Results go through the same selectors as the page and the API, so the anonymity threshold holds here too.
"""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from dealflow.accounts.models import Team
from dealflow.cli.base import DealflowCommand, user_get_by_username
from dealflow.core.errors import ApplicationError
from dealflow.people import selectors, services
from dealflow.people.calculations import Enps
from dealflow.people.exports import results_csv
from dealflow.people.library import LIBRARY_BY_KEY


def parse_question(text: str) -> services.QuestionSpec:
    """A library key (``enps``), or ``kind:text`` (``rating:How was the week?``), or ``choice:text:a|b|c``."""
    if text in LIBRARY_BY_KEY:
        return services.QuestionSpec(library_key=text)
    kind, _separator, rest = text.partition(":")
    if not rest:
        raise ApplicationError(
            _("%(question)r is neither a library key nor kind:text.") % {"question": text}, field="question"
        )
    if kind == "choice":
        question, _separator, options = rest.rpartition(":")
        return services.QuestionSpec(kind=kind, text=question, choices=options.split("|"))
    return services.QuestionSpec(kind=kind, text=rest)


def enps_line(enps: Enps | None) -> str:
    if enps is None:
        return _("eNPS hidden (too few answers)")
    return _(
        "eNPS %(score)+.1f  (promoters %(p).1f%%, passives %(n).1f%%, detractors %(d).1f%%; %(total)d answers)"
    ) % {
        "score": enps.score or 0,
        "p": enps.promoter_share,
        "n": enps.passive_share,
        "d": enps.detractor_share,
        "total": enps.total,
    }


class Command(DealflowCommand):
    help = _("Pulse surveys and one-on-ones: create a survey, list runs, print results and eNPS.")

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True)

        create = commands.add_parser("survey-create", help=_("Create a survey for teams you manage."))
        create.add_argument("--user", required=True, help=_("Act as this user (a manager or admin)."))
        create.add_argument("--title", required=True)
        create.add_argument(
            "--team", action="append", required=True, help=_("Team name; repeat for several.")
        )
        create.add_argument(
            "--question",
            action="append",
            required=True,
            help=_("A library key (%(keys)s), kind:text, or choice:text:a|b. Repeat, at most 10.")
            % {"keys": ", ".join(LIBRARY_BY_KEY)},
        )
        create.add_argument(
            "--cadence", default="monthly", choices=["once", "weekly", "monthly", "quarterly"]
        )
        create.add_argument(
            "--starts-on", type=dt.date.fromisoformat, help=_("First run (YYYY-MM-DD); default today.")
        )
        create.add_argument("--open-days", type=int, default=7)

        listing = commands.add_parser("surveys", help=_("List the surveys you manage."))
        listing.add_argument("--user", required=True)

        runs = commands.add_parser("runs", help=_("List a survey's runs with response rates."))
        runs.add_argument("survey_id", type=int)
        runs.add_argument("--user", required=True)

        results = commands.add_parser(
            "results", help=_("Print a run's results (hidden below the threshold).")
        )
        results.add_argument("run_id", type=int)
        results.add_argument("--user", required=True)
        results.add_argument(
            "--team", type=int, help=_("Team id to narrow to (refused below the threshold).")
        )
        results.add_argument("--csv", action="store_true", help=_("Print the CSV export instead."))

        trend = commands.add_parser("enps", help=_("Print a survey's eNPS per run."))
        trend.add_argument("survey_id", type=int)
        trend.add_argument("--user", required=True)
        trend.add_argument("--team", type=int)

        meetings = commands.add_parser(
            "one-on-ones", help=_("List your one-on-one series and next meetings.")
        )
        meetings.add_argument("--user", required=True)

        commands.add_parser(
            "open-due-runs", help=_("Open the runs due today now (the worker does this hourly).")
        )
        commands.add_parser(
            "send-reminders", help=_("Send today's reminders now (the worker does this hourly).")
        )
        commands.add_parser(
            "publish-answers",
            help=_("Publish the survey answers whose batch is full, and pool closed runs' rest (hourly)."),
        )

    def handle(self, *args, action: str, **options):
        getattr(self, "handle_" + action.replace("-", "_"))(**options)

    def handle_survey_create(self, *, user, title, team, question, cadence, starts_on, open_days, **_options):
        teams = []
        for name in team:
            found = Team.objects.filter(name__iexact=name.strip()).first()
            if found is None:
                raise ApplicationError(_("There is no team %(name)r.") % {"name": name}, field="team")
            teams.append(found)
        survey = services.survey_create(
            title=title,
            teams=teams,
            questions=[parse_question(text) for text in question],
            cadence=cadence,
            starts_on=starts_on,
            open_days=open_days,
            by=user_get_by_username(user),
        )
        self.stdout.write(_("Created survey %(id)d: %(title)s") % {"id": survey.pk, "title": survey.title})
        for run in survey.runs.all():
            self.stdout.write(
                _("Run %(id)d is open until %(day)s; %(count)d people invited.")
                % {"id": run.pk, "day": run.last_day.isoformat(), "count": run.invitations.count()}
            )

    def handle_surveys(self, *, user, **_options):
        for survey in selectors.survey_list_for_user(user=user_get_by_username(user)):
            teams = ", ".join(team.name for team in survey.teams.all())
            self.stdout.write(f"{survey.pk:>5}  {survey.title}  [{survey.cadence}, {teams}]")

    def handle_runs(self, *, user, survey_id, **_options):
        for row in selectors.survey_run_list_for_user(survey_id=survey_id, user=user_get_by_username(user)):
            rate = "-" if row.response_rate is None else f"{row.response_rate:.1f}%"
            self.stdout.write(
                f"{row.run.pk:>5}  {row.run.opens_on} .. {row.run.last_day}  {row.answered}/{row.invited}  {rate}"
            )

    def handle_results(self, *, user, run_id, team, csv, **_options):
        results = selectors.survey_run_results_for_user(
            run_id=run_id, user=user_get_by_username(user), team_id=team
        )
        if csv:
            self.stdout.write(results_csv(results=results), ending="")
            return
        run = results.run
        self.stdout.write(
            f"{run.survey.title} {run.opens_on} .. {run.last_day}"
            + (f" [{results.team}]" if results.team else "")
        )
        rate = "-" if results.response_rate is None else f"{results.response_rate:.1f}%"
        self.stdout.write(
            _("Answered %(answered)d of %(invited)d (%(rate)s)")
            % {"answered": results.answered, "invited": results.invited, "rate": rate}
        )
        if not results.is_visible:
            self.stdout.write(results.hidden_reason)
            return
        if results.enps is not None:
            self.stdout.write(enps_line(results.enps))
        for item in results.questions:
            self.stdout.write("")
            self.stdout.write(item.question.display_text)
            if not item.is_visible:
                self.stdout.write("  " + _("hidden: fewer answers than the threshold"))
                continue
            for bar in item.bars:
                self.stdout.write(
                    f"  {bar.label:<24} {bar.count:>4}  {bar.share:5.1f}%  {'#' * round(bar.share / 5)}"
                )
            if item.mean is not None:
                previous = "" if item.previous_mean is None else f"  (previous {item.previous_mean:.2f})"
                self.stdout.write(f"  {_('mean')} {item.mean:.2f}{previous}")
            for text in item.texts:
                self.stdout.write(f"  - {text}")

    def handle_enps(self, *, user, survey_id, team, **_options):
        trend = selectors.survey_enps_trend_for_user(
            survey_id=survey_id, user=user_get_by_username(user), team_id=team
        )
        if not trend.has_enps_question:
            self.stdout.write(_("This survey does not ask the eNPS question."))
            return
        for point in trend.points:
            self.stdout.write(f"{point.run.opens_on}  {enps_line(point.enps)}")

    def handle_one_on_ones(self, *, user, **_options):
        for series in selectors.one_on_one_series_list_for_user(user=user_get_by_username(user)):
            upcoming = selectors.meeting_next_for_series(series=series)
            when = upcoming.scheduled_at.strftime("%Y-%m-%d %H:%M %Z") if upcoming else "-"
            self.stdout.write(
                f"{series.pk:>5}  {series.manager.display_name} / {series.rep.display_name}  [{series.cadence}]  {when}"
            )

    def handle_open_due_runs(self, **_options):
        for run in services.survey_runs_open_due():
            self.stdout.write(_("Opened run %(id)d of %(title)s") % {"id": run.pk, "title": run.survey.title})

    def handle_send_reminders(self, **_options):
        for run in services.survey_runs_remind_due():
            self.stdout.write(
                _("Reminded run %(id)d of %(title)s") % {"id": run.pk, "title": run.survey.title}
            )

    def handle_publish_answers(self, **_options):
        published = services.survey_runs_publish_closed()
        self.stdout.write(_("Published %(count)d survey answers.") % {"count": published})
