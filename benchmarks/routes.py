"""Every GET route of the app, web pages and API reads, with its path parameters filled from the database.

The pages benchmark crawls them for time and size, and tests/test_query_counts.py for the number of
queries; both must see the same list, so it is worked out here once.
"""

from __future__ import annotations

import re
from typing import Any

# Routes that only act (POST) or that leave the session: a GET tells nothing about them.
SKIP_NAMES = {"logout", "set_language"}


def samples() -> dict[str, Any]:
    """A value for each path parameter name: a record the demo's rep owns, or the first of its kind."""
    from django.apps import apps

    from dealflow.accounts.models import User

    rep = User.objects.get(username="rep")
    samples: dict[str, Any] = {"user_id": rep.pk}
    by_name = {model._meta.model_name: model for model in apps.get_models()}
    aliases = {"review": "pipelinereview", "run": "surveyrun", "job": "importjob"}

    def first(model) -> int | None:
        rows = model._default_manager.order_by("pk")
        field_names = {field.name for field in model._meta.get_fields()}
        if "owner" in field_names:
            owned = rows.filter(owner=rep)
            if "status" in field_names and owned.filter(status="open").exists():
                owned = owned.filter(status="open")
            rows = owned if owned.exists() else rows
        return rows.values_list("pk", flat=True).first()

    def resolve(name: str) -> Any:
        if name in samples:
            return samples[name]
        stem = name.removesuffix("_id").replace("_", "")
        model = by_name.get(aliases.get(stem, stem))
        if model is None:
            return None
        samples[name] = first(model)
        return samples[name]

    return {"resolve": resolve}


def web_urls(resolve) -> list[str]:
    from django.urls import URLPattern, URLResolver, get_resolver

    urls: list[str] = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if "admin" in str(entry.pattern):
                    continue
                walk(entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace)
            elif isinstance(entry, URLPattern):
                if entry.name in SKIP_NAMES or namespace == "api":
                    continue
                route = prefix + str(entry.pattern)
                if route.startswith("^") or "(?P" in route:
                    continue
                filled = fill(route, resolve)
                if filled is not None:
                    urls.append("/" + filled)

    walk(get_resolver().url_patterns, "", "")
    return sorted(set(urls))


def fill(route: str, resolve) -> str | None:
    missing = False

    def value(match: re.Match) -> str:
        nonlocal missing
        found = resolve(match.group("name"))
        if found is None:
            missing = True
            return ""
        return str(found)

    filled = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", value, route)
    filled = re.sub(r"\{(?P<name>\w+)\}", value, filled)
    return None if missing else filled


def api_urls(resolve) -> list[str]:
    from dealflow.api.urls import api

    schema = api.get_openapi_schema()
    urls = []
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        filled = fill(path, resolve)
        if filled is not None:
            urls.append(filled)
    return sorted(set(urls))
