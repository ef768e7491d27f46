"""`dealflow createuser`: add a person who signs in, optionally with a role in a team."""

from __future__ import annotations

import getpass
import sys

from django.db import transaction
from django.utils.translation import gettext as _

from dealflow.accounts.models import Role, Team
from dealflow.accounts.services import membership_set, team_create, user_create
from dealflow.cli.base import DealflowCommand
from dealflow.core.errors import ApplicationError


def read_password(*, from_stdin: bool) -> str | None:
    """The password from stdin (first line), from a prompt on a terminal, or None (the user cannot sign in yet)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        return None
    password = getpass.getpass(_("Password: "))
    if password != getpass.getpass(_("Password (again): ")):
        raise ApplicationError(_("The two passwords differ."), field="password")
    return password


class Command(DealflowCommand):
    help = _("Create a user; with --team, give them a role in that team (the team is created when missing).")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--admin", action="store_true", help=_("Make the user an administrator."))
        parser.add_argument("--team", help=_("Team to add the user to."))
        parser.add_argument(
            "--role", choices=Role.values, default=Role.REP, help=_("Role in the team (default: rep).")
        )
        parser.add_argument(
            "--password-stdin", action="store_true", help=_("Read the password from standard input.")
        )

    @transaction.atomic
    def handle(
        self, *args, username, email, first_name, last_name, admin, team, role, password_stdin, **options
    ):
        user = user_create(
            username=username,
            password=read_password(from_stdin=password_stdin),
            email=email,
            first_name=first_name,
            last_name=last_name,
            is_superuser=admin,
        )
        message = _("Created user %(username)s.") % {"username": user.username}
        if team:
            team_row = Team.objects.filter(name__iexact=team.strip()).first() or team_create(name=team)
            membership_set(user=user, team=team_row, role=role)
            message = _("Created user %(username)s, %(role)s in %(team)s.") % {
                "username": user.username,
                "role": role,
                "team": team_row.name,
            }
        self.stdout.write(message)
