"""The global search: what the user may see, found by prefix over the full-text index of the engine.

PostgreSQL: ``document @@ to_tsquery('simple', unaccent('acme:* & bv:*'))`` on a GIN-indexed tsvector.
SQLite: ``search_entry_fts MATCH '"acme"* "bv"*'`` on an FTS5 table (unicode61, diacritics removed).
Every word typed must start a word of the record; results whose title starts with the first word come
first, then the most recently changed.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from dealflow.accounts.models import User
from dealflow.accounts.selectors import owner_visibility_q
from dealflow.core.errors import ApplicationError
from dealflow.search.models import SearchEntry, SearchKind
from dealflow.search.text import WORD, text_words

MAX_WORDS = 8
MAX_LIMIT = 50


def search_words(query: str) -> list[str]:
    """The words of a query, lower case, without accents and punctuation ("B.V." -> ["b", "v"])."""
    return [word for word in text_words(query) if WORD.fullmatch(word)][:MAX_WORDS]


def search_visible_q(*, user: User) -> Q:
    """Entries the user may see: the company's contacts (no owner) and records of owners they may see."""
    visible = owner_visibility_q(user=user)
    if visible == Q():
        return Q()  # everything; ORing would drop it
    return Q(owner__isnull=True, kind__in=[SearchKind.ORGANIZATION, SearchKind.PERSON]) | visible


def _matching(entries: QuerySet[SearchEntry], words: list[str]) -> QuerySet[SearchEntry]:
    if connection.vendor == "postgresql":
        query = " & ".join(f"{word}:*" for word in words)
        return entries.extra(
            where=["search_searchentry.document @@ to_tsquery('simple', unaccent(%s))"], params=[query]
        )
    query = " ".join(f'"{word}"*' for word in words)
    return entries.extra(
        where=[
            "search_searchentry.id IN (SELECT rowid FROM search_entry_fts WHERE search_entry_fts MATCH %s)"
        ],
        params=[query],
    )


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
    entries = SearchEntry.objects.filter(search_visible_q(user=user))
    if kinds:
        entries = entries.filter(kind__in=kinds)
    entries = _matching(entries, words).annotate(
        title_first=Case(
            When(title__istartswith=words[0], then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    )
    return list(entries.order_by("title_first", "-updated_at", "-id")[:limit])
