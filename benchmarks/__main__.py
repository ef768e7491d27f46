"""`python -m benchmarks <name> [args]` runs benchmarks/<name>.py; without a name it runs the heavy default,
the dashboard at a million deals (`make bench`); `python -m benchmarks --list` lists them."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    folder = Path(__file__).parent
    return sorted(
        module.name
        for module in pkgutil.iter_modules([str(folder)])
        if not module.name.startswith("_") and module.name not in HELPERS
    )


DEFAULT = "dashboard"
HELPERS = {"common", "routes"}  # modules the benchmarks (and tests) share, not benchmarks themselves


def run(argv: list[str]) -> int:
    if not argv:
        argv = [DEFAULT]
    if argv[0] == "--list" or argv[0] not in available():
        print("usage: python -m benchmarks <name> [args]; benchmarks:", ", ".join(available()))
        return 0 if argv[0] == "--list" else 2
    module = importlib.import_module(f"benchmarks.{argv[0]}")
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
