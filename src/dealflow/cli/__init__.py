"""The `dealflow` command: Dealflow's own commands plus every Django management command.

`dealflow serve`, `dealflow demo`, `dealflow metrics ...` are management commands of this app; anything
else (`dealflow migrate`, `dealflow shell`) passes through to Django, so one command is all an operator needs.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    arguments = list(sys.argv if argv is None else ["dealflow", *argv])
    arguments[0] = "dealflow"
    execute_from_command_line(arguments)
