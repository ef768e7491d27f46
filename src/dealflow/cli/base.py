"""What every `dealflow` command shares: an ApplicationError ends it with one red line and exit status 2."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from dealflow.accounts.models import User
from dealflow.core.errors import ApplicationError

APPLICATION_ERROR_EXIT_STATUS = 2


def application_error_line(error: ApplicationError) -> str:
    """The error as one line: the message, and the input at fault when there is one."""
    message = " ".join(str(error.message).split())
    return f"{message} ({error.field})" if error.field else message


class DealflowCommand(BaseCommand):
    """Base class for Dealflow's management commands (GUIDE.md: the CLI is one of three front doors).

    ``call_command`` still raises the ApplicationError, so code and tests see the real error; run from
    the shell (``dealflow ...``), it prints ``application_error_line`` in red on stderr and exits 2.
    """

    def run_from_argv(self, argv: list[str]) -> None:
        try:
            super().run_from_argv(argv)
        except ApplicationError as error:
            if "--traceback" in argv:
                raise
            self.stderr.write(application_error_line(error))  # stderr's style is ERROR: red on a terminal
            sys.exit(APPLICATION_ERROR_EXIT_STATUS)


def user_get_by_username(username: str) -> User:
    """The user a command names on its command line, or an ApplicationError naming the argument."""
    user = User.objects.filter(username__iexact=username.strip()).first()
    if user is None:
        raise ApplicationError(f"There is no user {username!r}.", field="username")
    return user


def acting_user(username: str | None) -> User:
    """Whom a command acts as: the user ``--user`` names, else the first active superuser."""
    if username:
        return user_get_by_username(username)
    user = User.objects.filter(is_superuser=True, is_active=True).order_by("id").first()
    if user is None:
        raise ApplicationError("Name a user with --user (there is no superuser).", field="user")
    return user


__all__ = ["CommandError", "DealflowCommand", "acting_user", "application_error_line", "user_get_by_username"]
