"""Tag writes: the one place tags are created and put on or taken off records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from dealflow.core.errors import ApplicationError
from dealflow.tags.models import LINKS, Tag


def tag_names_parse(value: Any, *, field: str = "tags") -> list[str]:
    """Tag names from a list or a comma/semicolon-separated text, trimmed, in order, once each (any case)."""
    if value is None:
        return []
    parts = value if isinstance(value, (list, tuple, set)) else str(value).replace(";", ",").split(",")
    names: list[str] = []
    for part in parts:
        name = " ".join(str(part).split())
        if not name:
            continue
        if len(name) > 40:
            raise ApplicationError(f"The tag {name[:20]!r}... is longer than 40 characters.", field=field)
        if not any(name.casefold() == known.casefold() for known in names):
            names.append(name)
    return names


def tags_ensure(*, names: Iterable[str]) -> list[Tag]:
    """The tags of these names, created when new (an existing tag keeps its spelling)."""
    tags: list[Tag] = []
    for name in names:
        tag = Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name)
        tags.append(tag)
    return tags


@transaction.atomic
def tag_links_set(*, entity: str, object_id: int, names: list[str]) -> tuple[list[str], list[str]]:
    """Make the record's tags exactly ``names``; return the names added and removed."""
    model, column = LINKS[entity]
    tags = tags_ensure(names=names)
    current = {
        link.tag_id: link.tag.name
        for link in model.objects.filter(**{column: object_id}).select_related("tag")
    }
    wanted = {tag.pk: tag.name for tag in tags}
    removed = [name for tag_id, name in current.items() if tag_id not in wanted]
    added = [name for tag_id, name in wanted.items() if tag_id not in current]
    model.objects.filter(**{column: object_id}, tag_id__in=[t for t in current if t not in wanted]).delete()
    model.objects.bulk_create(
        [model(**{column: object_id, "tag_id": tag_id}) for tag_id in wanted if tag_id not in current]
    )
    return sorted(added, key=str.casefold), sorted(removed, key=str.casefold)
