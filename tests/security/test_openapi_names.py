"""django-ninja names OpenAPI components after schema classes; two classes with one name silently
overwrite each other in the document, so every schema class used by the API must have its own name."""

from __future__ import annotations

import inspect

from ninja import Schema

from dealflow.api import routers


def test_schema_class_names_are_unique_across_the_api():
    seen: dict[str, str] = {}
    clashes = []
    for module in {
        router_module for router_module in vars(routers).values() if inspect.ismodule(router_module)
    }:
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, Schema) and value.__module__ == module.__name__:
                if name in seen and seen[name] != module.__name__:
                    clashes.append(f"{name}: {seen[name]} and {module.__name__}")
                seen[name] = module.__name__
    assert not clashes, "\n".join(clashes)
