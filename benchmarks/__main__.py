"""`python -m benchmarks <name> [args]` runs benchmarks/<name>.py; without a name it lists them."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    folder = Path(__file__).parent
    return sorted(
        module.name for module in pkgutil.iter_modules([str(folder)]) if not module.name.startswith("_")
    )


def run(argv: list[str]) -> int:
    if not argv or argv[0] not in available():
        print("usage: python -m benchmarks <name> [args]; benchmarks:", ", ".join(available()))
        return 0 if not argv else 2
    module = importlib.import_module(f"benchmarks.{argv[0]}")
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
