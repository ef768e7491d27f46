"""`dealflow imports list|retry|delete|expire`: the uploads of the web wizard and the API from a terminal.

A job whose worker died (no heartbeat for ``IMPORT_LEASE_SECONDS``) is failed with the reason by
``expire`` (the worker also runs it every five minutes) and can then be retried or deleted.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand
from dealflow.core.errors import ApplicationError
from dealflow.importers.selectors import import_job_list_for_user
from dealflow.importers.services import (
    acting_user_get,
    import_job_delete,
    import_job_retry,
    import_jobs_expire,
    import_uploads_sweep,
)


class Command(DealflowCommand):
    help = _("List, retry or delete import jobs; fail the ones whose worker died.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help=_("The latest uploads and their state."))
        listing.add_argument("--user")
        for name, text in (("retry", _("Check a failed upload again.")), ("delete", _("Delete an upload."))):
            command = sub.add_parser(name, help=text)
            command.add_argument("job_id", type=int)
            command.add_argument("--user")
        sub.add_parser("expire", help=_("Fail jobs whose worker died and delete the uploads of dead jobs."))

    def handle(self, *args, action: str, **options):
        if action == "expire":
            expired = import_jobs_expire()
            swept = import_uploads_sweep()
            self.stdout.write(
                _("%(expired)s job(s) failed for lack of a heartbeat; %(swept)s upload folder(s) deleted.")
                % {"expired": expired, "swept": swept}
            )
            return
        user = acting_user_get(username=options.get("user"))
        import_jobs_expire()
        jobs = import_job_list_for_user(user=user)
        if action == "list":
            for job in jobs[:50]:
                line = f"{job.pk:>6}  {job.status:<10}  {job.created_at:%Y-%m-%d %H:%M}  {job.file_name}"
                self.stdout.write(line + (f"  ({job.error})" if job.error else ""))
            return
        found = jobs.filter(pk=options["job_id"]).first()
        if found is None:
            raise ApplicationError(
                _("There is no import %(id)s.") % {"id": options["job_id"]}, field="job_id"
            )
        if action == "retry":
            import_job_retry(job=found, by=user)
            self.stdout.write(_("Import %(id)s is being checked again.") % {"id": found.pk})
        else:
            import_job_delete(job=found, by=user)
            self.stdout.write(_("Import %(id)s deleted.") % {"id": options["job_id"]})
