"""Writes to the search index. The domain services call these in the same transaction as their own write,
so the index is as current as the records (contacts/search.py and deals/services/search.py say what text
each record contributes); ``directory.services.search_rebuild`` refills it after a bulk load."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from dealflow.core import clock
from dealflow.search.models import SearchEntry
from dealflow.search.text import text_words


@dataclass(frozen=True)
class SearchDocument:
    """What one record contributes to the index: who may see it (owner) and the words it is found by."""

    kind: str
    object_id: int
    owner_id: int | None
    title: str
    subtitle: str = ""
    text: str = ""


def search_text_clean(value: str, length: int) -> str:
    return " ".join(str(value or "").split())[:length]


def search_text_words(text: str) -> str:
    """The words an entry is indexed by (search/text.py), as one string."""
    return " ".join(text_words(text))[:4000]


def search_index_put(*, document: SearchDocument) -> None:
    """Add or refresh one record's entry (its words, title and owner)."""
    search_index_put_many(documents=[document])


@transaction.atomic
def search_index_put_many(*, documents: Iterable[SearchDocument]) -> int:
    """Add or refresh many entries; returns how many were written."""
    count = 0
    now = clock.now()
    for document in documents:
        values = {
            "owner_id": document.owner_id,
            "title": search_text_clean(document.title, 300),
            "subtitle": search_text_clean(document.subtitle, 300),
            "text": search_text_words(document.text or document.title),
            "updated_at": now,
        }
        updated = SearchEntry.objects.filter(kind=document.kind, object_id=document.object_id).update(
            **values
        )
        if not updated:
            SearchEntry.objects.create(kind=document.kind, object_id=document.object_id, **values)
        count += 1
    return count


def search_index_remove(*, kind: str, object_ids: Iterable[int]) -> int:
    """Drop records from the index (deleted, erased or merged away); returns how many entries went."""
    deleted, _ = SearchEntry.objects.filter(kind=kind, object_id__in=list(object_ids)).delete()
    return deleted


def search_index_add_many(*, documents: Iterable[SearchDocument], batch_size: int = 5000) -> int:
    """Index records that have no entry yet (a bulk load), in batches; returns how many were written."""
    now = clock.now()
    batch: list[SearchEntry] = []
    count = 0
    for document in documents:
        batch.append(
            SearchEntry(
                kind=document.kind,
                object_id=document.object_id,
                owner_id=document.owner_id,
                title=search_text_clean(document.title, 300),
                subtitle=search_text_clean(document.subtitle, 300),
                text=search_text_words(document.text or document.title),
                updated_at=now,
            )
        )
        if len(batch) >= batch_size:
            SearchEntry.objects.bulk_create(batch)
            count += len(batch)
            batch = []
    SearchEntry.objects.bulk_create(batch)
    return count + len(batch)
