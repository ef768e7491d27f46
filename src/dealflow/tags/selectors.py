"""Tag reads: the vocabulary, a record's tags, and the filter every list applies."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Lower

from dealflow.tags.models import LINKS, Tag


def tag_list(*, search: str = "") -> QuerySet[Tag]:
    tags = Tag.objects.all()
    if search:
        tags = tags.filter(name__icontains=search)
    return tags.order_by(Lower("name"), "id")


def tag_names_map(*, entity: str, object_ids: list[int]) -> dict[int, list[str]]:
    """{record id: sorted tag names} in one query, for lists and exports."""
    model, column = LINKS[entity]
    result: dict[int, list[str]] = {}
    for object_id, name in model.objects.filter(**{f"{column}__in": object_ids}).values_list(
        column, "tag__name"
    ):
        result.setdefault(object_id, []).append(name)
    return {object_id: sorted(names, key=str.casefold) for object_id, names in result.items()}


def tag_filter(queryset: QuerySet, *, entity: str, name: str) -> QuerySet:
    """Records carrying the tag ``name`` (any case); none when no such tag exists."""
    model, column = LINKS[entity]
    links = model.objects.filter(**{column: OuterRef("pk")}, tag__name__iexact=name.strip())
    return queryset.filter(Exists(links))


def tag_names_of(*, entity: str, object_id: int) -> list[str]:
    """A record's tag names, sorted (any case)."""
    model, column = LINKS[entity]
    return sorted(
        model.objects.filter(**{column: object_id}).values_list("tag__name", flat=True), key=str.casefold
    )
