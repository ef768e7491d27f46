"""The global search: what the user may see, found by prefix over the full-text index of the engine.

PostgreSQL: ``document @@ to_tsquery('simple', unaccent('acme:* & bv:*'))`` on a GIN-indexed tsvector.
SQLite: ``search_entry_fts MATCH '"acme"* "bv"*'`` on an FTS5 table (unicode61, diacritics removed).
Every word typed must start a word of the record, and one word at least must have two characters (a single
letter matches a quarter of everything; the caller is told to type on). Records whose title starts with the
first word come first (unless that word starts more than ``TITLE_FIRST_CAP`` titles: then it says little),
then everything else, the most recently changed first.

Both answers are read in an indexed order and stop at the limit, so their cost follows the limit, not the
number of matches (docs/benchmarks.md, "Search"):

- title first: the (kind, title) index yields at most ``TITLE_FIRST_CAP`` + 1 titles that start with the
  first word; visibility and the other words are checked on those rows alone;
- the rest: newest entry first (an entry gets a new id whenever it is written, so id order is the order of
  change). SQLite walks the FTS5 matches in rowid order, newest first, and stops at the limit. PostgreSQL
  first looks at the newest ``RECENT_WINDOW`` entries in id order and asks the GIN index only for what that
  window does not fill (a rare word), so neither a common prefix nor a wrong row estimate for correlated
  words ("acme industrial bv") makes it fetch and sort every match.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Max, Q, QuerySet
from django.utils.translation import gettext as _

from dealflow.accounts.models import User
from dealflow.accounts.selectors import owner_visibility_q, user_access_scope
from dealflow.core.errors import ApplicationError
from dealflow.search.models import SearchEntry, SearchKind
from dealflow.search.text import WORD, query_words

MAX_WORDS = 8
MAX_LIMIT = 50
MIN_WORD_LENGTH = 2  # as Pipedrive: a search starts at the second character
RECENT_WINDOW = 2_000  # PostgreSQL: newest entries checked in id order before the GIN index is asked
RESTRICTED_WINDOW_FACTOR = 50  # at most this many times further back for a user who sees some owners only
TITLE_FIRST_CAP = 200  # a first word that starts more titles than this ranks none of them first


def search_words(query: str) -> list[str]:
    """The words of a query, lower case, without accents and punctuation ("B.V." -> ["bv"], text.py)."""
    return list(dict.fromkeys(word for word in query_words(query) if WORD.fullmatch(word)))[:MAX_WORDS]


def search_visible_q(*, user: User) -> Q:
    """Entries the user may see: the company's contacts (no owner) and records of owners they may see."""
    visible = owner_visibility_q(user=user)
    if visible == Q():
        return Q()  # everything; ORing would drop it
    return Q(owner__isnull=True, kind__in=[SearchKind.ORGANIZATION, SearchKind.PERSON]) | visible


def _like_escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _title_first(
    entries: QuerySet[SearchEntry], words: list[str], kinds: list[str] | None, limit: int
) -> list[SearchEntry]:
    """Records whose title starts with the first word (and whose words start with every word), newest first,
    when that first word starts at most ``TITLE_FIRST_CAP`` titles; a commoner prefix ranks nothing first.

    The candidates come from the (kind, title) index with a LIMIT, so the step reads at most the cap's rows
    whoever asks; visibility and the other words are checked on those rows alone.
    """
    first = words[0]
    if len(first) < MIN_WORD_LENGTH:
        return []
    if connection.vendor == "postgresql":
        name = ["lower(search_searchentry.title) LIKE %s"]
        name_params = [_like_escape(first) + "%"]
    else:  # SQLite: NOCASE folds ASCII as lower() does; a range, so the (kind, title NOCASE) index serves it
        name = [
            "search_searchentry.title >= %s COLLATE NOCASE",
            "search_searchentry.title < %s COLLATE NOCASE",
        ]
        name_params = [first, first[:-1] + chr(ord(first[-1]) + 1)]
    candidates = list(
        SearchEntry.objects.filter(kind__in=kinds or SearchKind.values)
        .extra(where=name, params=name_params)  # noqa: S610 (fixed SQL; the words are parameters)
        .values_list("id", flat=True)[: TITLE_FIRST_CAP + 1]
    )
    if not candidates or len(candidates) > TITLE_FIRST_CAP:
        return []
    matching = entries.filter(id__in=candidates).extra(  # noqa: S610 (fixed SQL; the words are parameters)
        where=["(' ' || search_searchentry.text) LIKE %s ESCAPE '\\'" for _word in words],
        params=[f"% {_like_escape(word)}%" for word in words],
    )
    return list(matching.order_by("-id")[:limit])


def _newest_matching(
    entries: QuerySet[SearchEntry], words: list[str], limit: int, *, reach: int
) -> list[SearchEntry]:
    """Newest first by id. ``reach`` > 1 for a user who sees some owners only: about 1 / the share of the
    owners they see, how much further back their window may reach for the same number of rows read."""
    restricted = reach > 1
    if connection.vendor == "postgresql":
        query = " & ".join(f"{word}:*" for word in words)
        # A user who sees some owners only has the window's other rows skipped by the owner index before
        # any is read, so their window reaches further back for the same work.
        window = RECENT_WINDOW * reach
        newest = SearchEntry.objects.aggregate(newest=Max("id"))["newest"] or 0
        floor = [newest - window + 1] if newest > window else []  # ids have gaps: at most ``window`` rows
        # In the window the words are checked row by row (coalesce() keeps the GIN index out of it: asked
        # for correlated words it guesses a handful of rows and fetches thousands); beyond it, the index.
        recent = entries.extra(
            where=[
                "coalesce(search_searchentry.document, ''::tsvector) @@ to_tsquery('simple', unaccent(%s))"
            ],
            params=[query],
        )
        if not floor:  # fewer entries than the window: the whole table is the window
            return list(recent.order_by("-id")[:limit])
        found = list(recent.filter(id__gte=floor[0]).order_by("-id")[:limit])
        if len(found) < limit:
            # For a user who sees only some owners, the query goes in as a sub-select: the planner then
            # assumes a middling number of matches instead of multiplying the words' frequencies (74 rows
            # guessed for "acme industrial bv", 20,066 found), and intersects the GIN bitmap with the owner
            # index before it reads a row. For an admin the guess stays: a middling one would make it walk
            # the whole table in id order for a rare word (EXPLAIN ANALYZE in docs/benchmarks.md).
            tsquery = (
                "(SELECT to_tsquery('simple', unaccent(%s)))"
                if restricted
                else "to_tsquery('simple', unaccent(%s))"
            )
            older = entries.filter(id__lt=floor[0]).extra(  # noqa: S610 (as above)
                where=[f"search_searchentry.document @@ {tsquery}"], params=[query]
            )
            found += list(older.order_by("-id")[: limit - len(found)])
        return found
    # SQLite: the FTS5 table drives the join, newest rowid first, and the walk stops at the limit.
    matching = entries.extra(
        tables=["search_entry_fts"],
        where=["search_entry_fts.rowid = search_searchentry.id", "search_entry_fts MATCH %s"],
        params=[" ".join(f'"{word}"*' for word in words)],
        order_by=["-search_entry_fts.rowid"],
    )
    return list(matching[:limit])


def _reach(user: User, visible: Q) -> int:
    """How many times further back a restricted user's window reaches: users / owners they see, capped."""
    if visible == Q():
        return 1
    owners = len(user_access_scope(user=user).readable_owner_ids) or 1
    return max(2, min(RESTRICTED_WINDOW_FACTOR, User.objects.count() // owners))


def search_for_user(
    *, user: User, query: str, kinds: list[str] | None = None, limit: int = 20
) -> list[SearchEntry]:
    """The first ``limit`` records the user may see whose words start with every word of ``query``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ApplicationError(f"limit must lie between 1 and {MAX_LIMIT}.", field="limit")
    unknown = set(kinds or []) - set(SearchKind.values)
    if unknown:
        raise ApplicationError(f"kind must be among {', '.join(SearchKind.values)}.", field="kind")
    words = search_words(query)
    if not words:
        return []
    if max(len(word) for word in words) < MIN_WORD_LENGTH:
        raise ApplicationError(
            _("Type at least %(count)s letters or digits to search.") % {"count": MIN_WORD_LENGTH},
            field="q",
        )
    visible = search_visible_q(user=user)
    entries = SearchEntry.objects.filter(visible)
    if kinds:
        entries = entries.filter(kind__in=kinds)
    found = _title_first(entries, words, kinds, limit)
    if len(found) < limit:
        rest = entries.exclude(id__in=[entry.pk for entry in found]) if found else entries
        found += _newest_matching(rest, words, limit - len(found), reach=_reach(user, visible))
    return found
