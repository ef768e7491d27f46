"""The global search: records of every kind the caller may see, found by the words they start with."""

from __future__ import annotations

from ninja import Query, Router, Schema

from dealflow.api.base import ApiRequest
from dealflow.search.selectors import search_for_user

router = Router(tags=["Search"])


class SearchQuery(Schema):
    q: str = ""
    kind: str | None = None
    limit: int = 20


class SearchResultOut(Schema):
    kind: str
    id: int
    title: str
    subtitle: str

    @staticmethod
    def resolve_id(entry) -> int:
        return entry.object_id


@router.get("/search", response=list[SearchResultOut])
def search(request: ApiRequest, query: Query[SearchQuery]):
    """Deals, organizations, persons, leads and activities whose words start with every word of ``q``
    (accents and case ignored); ``kind`` narrows to one kind; at most ``limit`` (1-50), best first. One
    word at least needs two characters: a single letter answers 400 with ``field: "q"``."""
    kinds = [query.kind] if query.kind else None
    return search_for_user(user=request.user, query=query.q[:200], kinds=kinds, limit=query.limit)
