"""The global search (search app) at N deals: full-text index vs a plain ILIKE/LIKE scan, first 20 results.

    python -m benchmarks search --deals 100000                     (SQLite, FTS5)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m benchmarks search --deals 100000

It builds a throw-away database (var/<name>.sqlite3, or PostgreSQL database <name>; ``--database NAME``,
default everyday_bench_search; ``--keep`` keeps it for the next run), writes one index entry per deal plus one per organization
(a deal is "<company> <product> <number>", found by its company's name as the services index it),
with the search app's own bulk path, and times ``search_for_user`` (what the Ctrl-K dialog, the API
and the CLI call) against the same query written as ``icontains`` per word over the same table, for
an admin (sees everything) and a rep (one owner of 100). The queries are what a person types as they go:
one, two and three letters, a word, two words, a company's full name, a rare word and a word found nowhere.
A query the search refuses (one letter: it asks for a second) prints its message instead of a time.
"""

from __future__ import annotations

import argparse
import os
import random
import time

from benchmarks.common import setup_django_test_database, timed_together

PRODUCTS = [
    "presses",
    "robots",
    "licences",
    "support",
    "consulting",
    "sensors",
    "pumps",
    "valves",
    "cloud",
    "training",
]
SYLLABLES = [
    "ac",
    "me",
    "zu",
    "ri",
    "ch",
    "ko",
    "ba",
    "lt",
    "ve",
    "ro",
    "na",
    "di",
    "go",
    "ex",
    "in",
    "te",
    "ch",
]


# As typed: 1, 2, 3 letters, a word, two words, a company's whole name, a rare word (one deal's number),
# a word found nowhere.
QUERIES = [
    "a",
    "ac",
    "acm",
    "acme",
    "ro",
    "acme ind",
    "robots 4711",
    "Acme Industrial B.V.",
    "471147",
    "nothing-like-it",
]


def _company(rng: random.Random) -> str:
    name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
    return f"{name} {rng.choice(['B.V.', 'GmbH', 'Ltd', 'Inc', 'NV', 'AG'])}"


def _load(deals: int) -> None:
    from dealflow.accounts.models import Role
    from dealflow.accounts.services import membership_set, team_create, user_create
    from dealflow.search.services import SearchDocument, search_index_add_many

    team = team_create(name="Benchmark")
    user_create(username="bench-admin", password=None, is_superuser=True)
    reps = []
    for number in range(100):
        rep = user_create(username=f"bench-rep-{number}", password=None)
        membership_set(user=rep, team=team, role=Role.REP)
        reps.append(rep.pk)
    rng = random.Random(15)
    companies = sorted({_company(rng) for _ in range(max(50, deals // 50))})
    companies[0] = "Acme Industrial B.V."  # the name the timed queries look for (~2 % of the deals)

    def documents():
        for number, name in enumerate(companies):
            yield SearchDocument(
                kind="organization", object_id=number + 1, owner_id=None, title=name, text=name
            )
        for number in range(deals):
            company = companies[0] if number % 50 == 0 else companies[rng.randrange(len(companies))]
            title = f"{rng.choice(PRODUCTS).capitalize()} {number}"
            yield SearchDocument(
                kind="deal",
                object_id=number + 1,
                owner_id=reps[number % len(reps)],
                title=title,
                subtitle=company,
                text=f"{title} {company}",
            )

    started = time.perf_counter()
    count = search_index_add_many(documents=documents())
    print(f"  indexed {count:,} entries in {time.perf_counter() - started:.0f} s", flush=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM ANALYZE search_searchentry" if connection.vendor == "postgresql" else "ANALYZE"
        )


def _scan(user, query: str):
    """The same question without the index: every word as a case-blind substring of the entry's text."""
    from dealflow.search.models import SearchEntry
    from dealflow.search.selectors import search_visible_q, search_words

    def work():
        entries = SearchEntry.objects.filter(search_visible_q(user=user))
        for word in search_words(query):
            entries = entries.filter(text__icontains=word)
        return list(entries.order_by("-id")[:20])

    return work


def _indexed(user, query: str):
    from dealflow.search.selectors import search_for_user

    return lambda: search_for_user(user=user, query=query, limit=20)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks search")
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database for the next run")
    parser.add_argument("--database", default="everyday_bench_search", help="benchmark database/file name")
    parser.add_argument("--query", action="append", help="time only these queries (repeatable)")
    options = parser.parse_args(argv)
    setup_django_test_database(options.database, testing=True)
    from django.db import connection

    from dealflow.accounts.models import User
    from dealflow.core.errors import ApplicationError
    from dealflow.search.models import SearchEntry

    old_name = connection.creation.create_test_db(
        verbosity=0, autoclobber=not options.keep, serialize=False, keepdb=options.keep
    )
    try:
        if not SearchEntry.objects.filter(kind="deal").exists():
            _load(options.deals)
        admin = User.objects.get(username="bench-admin")
        rep = User.objects.get(username="bench-rep-7")
        total = SearchEntry.objects.count()
        print(
            f"\nengine: {connection.vendor}; {total:,} entries; medians of {options.repeat} runs after a warm-up;"
            f" load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'query':28} {'user':6} {'found':>5} {'index ms':>9} {'scan ms':>9} {'scan/index':>10} {'load':>5}"
        )
        for query in options.query or QUERIES:
            for label, user in (("admin", admin), ("rep", rep)):
                try:
                    _indexed(user, query)()
                except ApplicationError as refused:
                    print(f"{query!r:28} {label:6} refused: {refused.message}")
                    continue
                (index_time, _, found), (scan_time, _, _) = timed_together(
                    _indexed(user, query), _scan(user, query), repeat=options.repeat
                )
                print(
                    f"{query!r:28} {label:6} {len(found):5} {index_time * 1000:9.1f} {scan_time * 1000:9.1f}"
                    f" {scan_time / index_time:10.1f} {os.getloadavg()[0]:5.1f}",
                    flush=True,
                )
    finally:
        if not options.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0
