"""`dealflow commissions statements|recompute|approve|pay|pdf|badges`: commission statements from a terminal."""

from __future__ import annotations

import json
from pathlib import Path

from django.utils.translation import gettext as _

from dealflow.accounts.selectors import user_access_scope
from dealflow.cli.base import DealflowCommand, acting_user
from dealflow.commissions import exports, selectors
from dealflow.commissions.services import documents, gamification, statements
from dealflow.core import clock


class Command(DealflowCommand):
    help = _("Commission statements: list or export a period, recompute drafts, approve, pay, write a PDF.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("statements", help=_("A period's statements as CSV, JSON or XLSX."))
        listing.add_argument("--period", required=True, help=_("2026-Q4 or 2026-11"))
        listing.add_argument("--format", choices=["csv", "json", "xlsx"], default="csv")
        listing.add_argument("--output", help=_("Write to this file instead of standard output."))
        recompute = sub.add_parser("recompute", help=_("Recompute the draft statements of a period."))
        recompute.add_argument("--period", help=_("Default: the current quarter."))
        for name in ("approve", "pay"):
            sub.add_parser(name).add_argument("statement_id", type=int)
        pdf = sub.add_parser("pdf", help=_("Write a statement as a PDF in the person's language."))
        pdf.add_argument("statement_id", type=int)
        pdf.add_argument("file")
        sub.add_parser("badges", help=_("Award the badges earned so far."))
        for parser_ in sub.choices.values():
            parser_.add_argument("--user", help=_("Act as this user (default: the first superuser)."))

    def handle(self, *args, action: str, **options):
        user = acting_user(options.get("user"))
        if action == "statements":
            period = selectors.period_parse(options["period"], today=clock.today())
            rows = selectors.statement_list_for_user(user=user, period_key=period.key)
            if options["format"] == "json":
                content: str | bytes = json.dumps(exports.payroll_rows(statements=rows), indent=2) + "\n"
            elif options["format"] == "xlsx":
                content = exports.payroll_xlsx(statements=rows)
                if not options.get("output"):
                    self.stderr.write(_("XLSX needs --output FILE."))
                    return
            else:
                content = exports.payroll_csv(statements=rows)
            if options.get("output"):
                path = Path(options["output"])
                path.write_bytes(content if isinstance(content, bytes) else content.encode())
                self.stdout.write(self.style.SUCCESS(_("Wrote %(path)s.") % {"path": path}))
            else:
                self.stdout.write(content if isinstance(content, str) else "", ending="")
            return
        if action == "recompute":
            period = selectors.period_parse(options.get("period"), today=clock.today())
            people = selectors.people_for_statements(user=user).values_list("pk", flat=True)
            is_everybody = user_access_scope(user=user).is_admin
            saved = statements.statements_recompute(
                period=period, user_ids=None if is_everybody else list(people), by=user
            )
            drafts = sum(1 for statement in saved if statement.is_draft)
            self.stdout.write(
                self.style.SUCCESS(
                    _("%(period)s: %(drafts)s drafts recomputed, %(kept)s approved or paid kept.")
                    % {"period": period.key, "drafts": drafts, "kept": len(saved) - drafts}
                )
            )
            return
        if action == "badges":
            count = gamification.badges_award(today=clock.today())
            self.stdout.write(self.style.SUCCESS(_("%(count)s new badges.") % {"count": count}))
            return
        statement = selectors.statement_get_for_user(statement_id=options["statement_id"], user=user)
        if action == "pdf":
            Path(options["file"]).write_bytes(documents.statement_pdf_render(statement=statement))
            self.stdout.write(self.style.SUCCESS(_("Wrote %(path)s.") % {"path": options["file"]}))
            return
        if action == "approve":
            statement = statements.statement_approve(statement=statement, by=user)
        else:
            statement = statements.statement_mark_paid(statement=statement, by=user)
        self.stdout.write(
            self.style.SUCCESS(f"{statement.period_key} {statement.user.username}: {statement.status}")
        )
