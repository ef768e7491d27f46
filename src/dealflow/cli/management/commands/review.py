"""`dealflow review start|list|show|report|finish`: pipeline reviews from the command line."""

from __future__ import annotations

from pathlib import Path

from django.http import Http404
from django.utils.translation import gettext as _

from dealflow.accounts.models import Team
from dealflow.cli.base import DealflowCommand, acting_user, user_get_by_username
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Pipeline
from dealflow.reviews import calculations, exports, selectors, services


def _named(model, value: str | None, *, field: str):
    """A team or pipeline by id or (case-insensitive) name."""
    if not value:
        return None
    found = model.objects.filter(pk=int(value)).first() if value.isdigit() else None
    found = found or model.objects.filter(name__iexact=value.strip()).first()
    if found is None:
        raise ApplicationError(f"There is no {field} {value!r}.", field=field)
    return found


class Command(DealflowCommand):
    help = _("Start, list, show, finish and report pipeline reviews.")

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        start = actions.add_parser(
            "start", help=_("Freeze the pipeline of a team, a rep or a pipeline for a period.")
        )
        start.add_argument("--team", help=_("Team name or id."))
        start.add_argument("--rep", help=_("Username of one rep (instead of a team)."))
        start.add_argument("--pipeline", help=_("Pipeline name or id (limits the review to it)."))
        start.add_argument("--period", required=True, help=_("2026-11 or 2026-Q4."))
        start.add_argument(
            "--weekly", action="store_true", help=_("Start a new review of this scope every week.")
        )
        start.add_argument("--user", help=_("Who runs it (default: the first superuser)."))
        listing = actions.add_parser("list", help=_("Reviews you may open, newest first."))
        listing.add_argument("--status", choices=["open", "finished"])
        listing.add_argument("--user")
        show = actions.add_parser("show", help=_("A review's forecast and its two ranked lists."))
        show.add_argument("review_id", type=int)
        show.add_argument("--user")
        report = actions.add_parser("report", help=_("The report as Markdown or CSV."))
        report.add_argument("review_id", type=int)
        report.add_argument("--format", choices=["md", "csv"], default="md")
        report.add_argument("--output", help=_("Write to this file instead of the screen."))
        report.add_argument("--user")
        finish = actions.add_parser("finish", help=_("Finish a review (items still to do carry over)."))
        finish.add_argument("review_id", type=int)
        finish.add_argument("--summary", default="")
        finish.add_argument("--user")

    def handle(self, *args, action: str, **options):
        try:
            getattr(self, f"handle_{action}")(**options)
        except Http404 as error:  # not there, or not this user's to open: one line, exit status 2
            raise ApplicationError(str(error) or "Not found.", field="review_id") from error

    def handle_start(self, *, team, rep, pipeline, period, weekly, user, **options):
        review = services.review_start(
            by=acting_user(user),
            period=period,
            team=_named(Team, team, field="team"),
            rep=user_get_by_username(rep) if rep else None,
            pipeline=_named(Pipeline, pipeline, field="pipeline"),
            recurring=weekly,
        )
        snapshot = review.snapshot
        self.stdout.write(
            _("Review %(id)d of %(label)s for %(period)s: %(deals)d open deals frozen.")
            % {
                "id": review.pk,
                "label": selectors.review_label(review),
                "period": review.period_key,
                "deals": review.deals.count(),
            }
        )
        self.stdout.write(
            f"  {_('Forecast')}: {exports.whole(snapshot.mean_minor, snapshot.currency)} "
            f"(P10 {exports.whole(snapshot.p10_minor, snapshot.currency)}, "
            f"P90 {exports.whole(snapshot.p90_minor, snapshot.currency)}) {snapshot.currency}"
        )

    def handle_list(self, *, status, user, **options):
        for review in selectors.review_list_for_user(user=acting_user(user), status=status)[:100]:
            self.stdout.write(
                f"{review.pk:>6}  {review.created_at:%Y-%m-%d}  {review.period_key:<8} {review.status:<9} "
                f"{selectors.review_label(review)}"
            )

    def handle_show(self, *, review_id, user, **options):
        workspace = selectors.review_workspace_for_user(review_id=review_id, user=acting_user(user))
        snapshot, currency = workspace.snapshot, workspace.snapshot.currency
        self.stdout.write(f"{workspace.label} · {workspace.review.period_key} · {workspace.review.status}")
        self.stdout.write(
            f"  {_('Closed so far')} {exports.whole(snapshot.closed_minor, currency)} · {_('mean')} "
            f"{exports.whole(snapshot.mean_minor, currency)} · P10-P90 {exports.whole(snapshot.p10_minor, currency)}"
            f"-{exports.whole(snapshot.p90_minor, currency)} {currency}"
        )
        self.stdout.write(_("Close this period:"))
        for rank, item in enumerate(workspace.close_list, start=1):
            self.stdout.write(
                f"  {rank:>2}. {item.row.title[:40]:<40} {exports.whole(item.row.expected_period_minor, currency):>12}"
            )
        self.stdout.write(_("Rescue:"))
        for rank, item in enumerate(workspace.rescue_list, start=1):
            reasons = ", ".join(calculations.flag_text(flag) for flag in item.row.flags)
            self.stdout.write(f"  {rank:>2}. {item.row.title[:40]:<40} {reasons}")

    def handle_report(self, *, review_id, format, output, user, **options):
        report = selectors.review_report_for_user(review_id=review_id, user=acting_user(user))
        pieces = [exports.report_markdown(report)] if format == "md" else exports.report_csv(report)
        if output:
            with Path(output).open("w", encoding="utf-8") as handle:
                handle.writelines(pieces)
            self.stdout.write(_("Wrote %(file)s.") % {"file": output})
        else:
            for piece in pieces:
                self.stdout.write(piece, ending="")

    def handle_finish(self, *, review_id, summary, user, **options):
        by = acting_user(user)
        review = selectors.review_get_for_user(review_id=review_id, user=by)
        services.review_finish(review=review, by=by, summary=summary)
        self.stdout.write(_("Review %(id)d finished.") % {"id": review_id})
