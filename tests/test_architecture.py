"""House rules the linters cannot see: adapters write only through services (GUIDE.md, "Names" and
"One service, three front doors"), and load no module through importlib (import-linter must see every
dependency).

The scan reads the source of each adapter with ``ast``: a ``.save(``, ``.delete(``, ``.objects.create(``
or a queryset ``.update(`` in web, api, cli or importers fails, naming the file and line. ``ADAPTERS``
lists the scanned packages; append to it when an adapter is made clean. ``OWN_SERVICES`` names the one
module of an adapter that is the service layer of the adapter's own models (the importer's jobs and saved
mappings), with nothing else in it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "dealflow"
ADAPTERS = ["web", "api", "cli", "importers"]
OWN_SERVICES = {"importers/services.py"}  # ImportJob and ImportMapping: models of the importers app itself
QUERYSET_METHODS = {"objects", "filter", "exclude", "all", "select_for_update", "using"}


def _python_files(adapter: str) -> list[Path]:
    return sorted(
        path
        for path in (SOURCE / adapter).rglob("*.py")
        if "tests" not in path.relative_to(SOURCE).parts
        and "migrations" not in path.parts
        and str(path.relative_to(SOURCE)) not in OWN_SERVICES
    )


def _is_queryset(node: ast.expr) -> bool:
    """Whether ``node`` reads like a queryset: ``X.objects...`` or a chain of filter/exclude/all calls."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            if node.attr in QUERYSET_METHODS:
                return True
            node = node.value
        else:
            return False


def writes_in(source: str) -> list[tuple[int, str]]:
    """(line, text) of each model write in ``source``; decorators (``@router.delete``) are routes, not writes."""
    tree = ast.parse(source)
    decorators = {
        id(decorator)
        for node in ast.walk(tree)
        if hasattr(node, "decorator_list")
        for decorator in node.decorator_list
    }
    found = []
    for node in ast.walk(tree):
        if (
            not isinstance(node, ast.Call)
            or id(node) in decorators
            or not isinstance(node.func, ast.Attribute)
        ):
            continue
        method, receiver = node.func.attr, node.func.value
        if (
            method == "save"
            or (method == "delete" and not (isinstance(receiver, ast.Name) and receiver.id == "router"))
            or (method == "create" and isinstance(receiver, ast.Attribute) and receiver.attr == "objects")
            or (
                method in {"update", "bulk_create", "bulk_update", "update_or_create", "get_or_create"}
                and _is_queryset(receiver)
            )
        ):
            found.append((node.lineno, f".{method}("))
    return found


def test_the_scan_finds_each_kind_of_write_and_ignores_look_alikes():
    source = """
deal.save()
Deal.objects.create(title="x")
Deal.objects.filter(pk=1).update(title="y")
deal.delete()
Tag.objects.get_or_create(name="t")
context.update({"a": 1})
digest.update(b"x")
@router.delete("/deals/{deal_id}")
def remove(request, deal_id): ...
"""
    assert [text for _, text in writes_in(source)] == [
        ".save(",
        ".create(",
        ".update(",
        ".delete(",
        ".get_or_create(",
    ]


def test_the_own_services_hold_only_writes_to_their_own_models():
    """importers/services.py may write ImportJob and ImportMapping, nothing of another app."""
    source = (SOURCE / "importers" / "services.py").read_text()
    tree = ast.parse(source)
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith(".models")
        for alias in node.names
    }
    assert imported <= {"ImportJob", "ImportMapping", "ImportStatus", "User"}, imported


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_adapters_write_only_through_services(adapter):
    offences = [
        f"{path.relative_to(SOURCE)}:{line} {text}"
        for path in _python_files(adapter)
        for line, text in writes_in(path.read_text())
    ]
    assert offences == [], "adapters call a service instead of writing models:\n" + "\n".join(offences)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_adapters_load_no_module_through_importlib(adapter):
    offences = [
        str(path.relative_to(SOURCE)) for path in _python_files(adapter) if "importlib" in path.read_text()
    ]
    assert offences == [], "import the module so import-linter sees the dependency:\n" + "\n".join(offences)
