"""`dealflow trash list|delete|restore|purge`: the trash from a terminal, as a user (``--user``, else the
first superuser) sees it on the trash page. Purge asks for ``--yes`` (it deletes for good)."""

from __future__ import annotations

from django.http import Http404

from dealflow.cli.base import DealflowCommand, acting_user
from dealflow.contacts.selectors import organization_get_for_user, person_get_for_user
from dealflow.core.errors import ApplicationError
from dealflow.deals.selectors import activity_get_for_user, deal_get_for_user, lead_get_for_user
from dealflow.directory.trash import (
    TRASH_KINDS,
    trash_delete,
    trash_get_for_user,
    trash_list_for_user,
    trash_purge,
    trash_restore,
)


def _live(kind: str, record_id: int, user) -> object:
    getters = {
        "deal": lambda: deal_get_for_user(deal_id=record_id, user=user, for_write=True),
        "lead": lambda: lead_get_for_user(lead_id=record_id, user=user, for_write=True),
        "activity": lambda: activity_get_for_user(activity_id=record_id, user=user, for_write=True),
        "organization": lambda: organization_get_for_user(
            organization_id=record_id, user=user, for_write=True
        ),
        "person": lambda: person_get_for_user(person_id=record_id, user=user, for_write=True),
    }
    try:
        return getters[kind]()
    except Http404 as error:
        raise ApplicationError(f"There is no {kind} {record_id} you may change.", field="id") from error


def _in_trash(kind: str, record_id: int, user) -> object:
    try:
        return trash_get_for_user(kind=kind, record_id=record_id, user=user)
    except Http404 as error:
        raise ApplicationError(
            f"There is no {kind} {record_id} in the trash that you may see.", field="id"
        ) from error


class Command(DealflowCommand):
    help = "List the trash, move a record to it, restore one, or purge one for good (admins)."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="Act as this user (default: the first superuser).")
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="What is in the trash, newest first.")
        listing.add_argument("--kind", choices=TRASH_KINDS)
        for name, text in (
            ("delete", "Move a record to the trash."),
            ("restore", "Bring a record back, with what was deleted with it."),
            ("purge", "Delete a record in the trash for good (admins)."),
        ):
            action = actions.add_parser(name, help=text)
            action.add_argument("kind", choices=TRASH_KINDS)
            action.add_argument("id", type=int)
            if name == "delete":
                action.add_argument(
                    "--with-records",
                    action="store_true",
                    help="For an organisation or a person: their deals, leads (and people) go too.",
                )
            if name == "purge":
                action.add_argument("--yes", action="store_true", help="Confirm: this cannot be undone.")

    def handle(self, *args, action: str, **options):
        user = acting_user(options.get("user"))
        if action == "list":
            for item in trash_list_for_user(user=user, kind=options.get("kind")):
                self.stdout.write(
                    f"{item.kind}\t{item.pk}\t{item.deleted_at:%Y-%m-%d %H:%M}\t{item.deleted_by or '-'}\t{item.name}"
                )
            return
        kind, record_id = options["kind"], options["id"]
        if action == "delete":
            record = _live(kind, record_id, user)
            went = trash_delete(
                kind=kind, record=record, by=user, with_records=options.get("with_records", False)
            )
            extra = ", ".join(
                f"{len(ids)} {name}" for name, ids in went.items() if ids and name != f"{kind}s"
            )
            self.stdout.write(f"{kind} {record_id} is in the trash" + (f" (with {extra})." if extra else "."))
        elif action == "restore":
            trash_restore(kind=kind, record=_in_trash(kind, record_id, user), by=user)
            self.stdout.write(f"{kind} {record_id} is back.")
        else:
            record = _in_trash(kind, record_id, user)
            if not options.get("yes"):
                raise ApplicationError("Purging deletes for good; add --yes to confirm.", field="yes")
            trash_purge(kind=kind, record=record, by=user)
            self.stdout.write(f"{kind} {record_id} is purged.")
