"""`dealflow search WORDS --user NAME`: what that user finds; `dealflow search --rebuild` refills the index."""

from __future__ import annotations

from typing import Any

from dealflow.cli.base import DealflowCommand, acting_user
from dealflow.core.errors import ApplicationError
from dealflow.directory.services import search_rebuild
from dealflow.search.selectors import search_for_user


class Command(DealflowCommand):
    help = "Search deals, organizations, persons, leads and activities as a user sees them, or rebuild the index."

    def add_arguments(self, parser) -> None:
        parser.add_argument("words", nargs="*", help="the words to find (each starts a word of the record)")
        parser.add_argument("--user", help="search as this user (default: the first superuser)")
        parser.add_argument("--kind", choices=["deal", "organization", "person", "lead", "activity"])
        parser.add_argument("--limit", type=int, default=20)
        parser.add_argument("--rebuild", action="store_true", help="refill the index from the records")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rebuild"]:
            count = search_rebuild()
            self.stdout.write(f"Indexed {count} records.")
            return
        query = " ".join(options["words"])
        if not query.strip():
            raise ApplicationError("Give the words to search for, or --rebuild.", field="words")
        user = acting_user(options["user"])
        kinds = [options["kind"]] if options["kind"] else None
        for entry in search_for_user(user=user, query=query, kinds=kinds, limit=options["limit"]):
            subtitle = f"  ({entry.subtitle})" if entry.subtitle else ""
            self.stdout.write(f"{entry.kind:<12} {entry.object_id:>8}  {entry.title}{subtitle}")
