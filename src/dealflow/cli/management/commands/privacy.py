"""`dealflow privacy export PERSON_ID [--output FILE]` and `dealflow privacy erase PERSON_ID --yes`.

Both act as ``--user`` (default: the first superuser), go through the same access gate and services as
the web and the API, and are written to the audit log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.http import Http404

from dealflow.cli.base import DealflowCommand, acting_user
from dealflow.contacts.selectors import person_get_for_user
from dealflow.core.errors import ApplicationError
from dealflow.directory.services import person_erase, person_export


class Command(DealflowCommand):
    help = "Export everything held about a person as JSON, or erase (anonymise) a person everywhere."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("person_id", type=int)
        parser.add_argument("--user", help="act as this user (default: the first superuser)")
        parser.add_argument("--output", help="export: write the JSON to this file instead of stdout")
        parser.add_argument("--yes", action="store_true", help="erase: confirm; erasing cannot be undone")

    def handle(self, *args: Any, **options: Any) -> None:
        user = acting_user(options["user"])
        try:
            person = person_get_for_user(
                person_id=options["person_id"], user=user, for_write=options["action"] == "erase"
            )
        except Http404 as error:  # the gate's answer for missing and not yours alike
            raise ApplicationError(
                f"There is no person {options['person_id']}.", field="person_id"
            ) from error
        if options["action"] == "export":
            text = json.dumps(person_export(person=person, by=user), indent=2, ensure_ascii=False)
            if options["output"]:
                Path(options["output"]).write_text(text + "\n", encoding="utf-8")
                self.stdout.write(f"Wrote {options['output']}.")
            else:
                self.stdout.write(text)
            return
        if not options["yes"]:
            raise ApplicationError("Erasing cannot be undone; add --yes to confirm.", field="yes")
        person_erase(person=person, by=user)
        self.stdout.write(f"Erased person {person.pk}.")
