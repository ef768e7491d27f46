"""Collect static files at start-up only when they changed (what makes a restart take seconds)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.files.storage import storages
from django.core.management import call_command

FINGERPRINT_NAME = ".dealflow-sources"


def static_sources_fingerprint() -> str:
    """A digest of every file the finders would collect (its static path, size and modification time)."""
    digest = hashlib.sha256()
    entries = []
    for finder in get_finders():
        for path, storage in finder.list(["CVS", ".*", "*~"]):
            prefix = getattr(storage, "prefix", None) or ""
            stat = Path(storage.path(path)).stat()
            entries.append(f"{prefix}/{path}\0{stat.st_size}\0{stat.st_mtime_ns}")
    for entry in sorted(entries):
        digest.update(entry.encode())
        digest.update(b"\n")
    digest.update(repr(settings.STORAGES["staticfiles"]).encode())
    return digest.hexdigest()


def static_collect_if_changed() -> bool:
    """Run collectstatic only when the source files changed since the last run; True when it ran.

    Collecting compresses every file (gzip and brotli), which took 14-30 s a start; a restart with
    unchanged sources now skips it."""
    root = Path(settings.STATIC_ROOT)
    marker = root / FINGERPRINT_NAME
    fingerprint = static_sources_fingerprint()
    manifest_wanted = isinstance(storages["staticfiles"], ManifestFilesMixin)
    collected = marker.exists() and (not manifest_wanted or (root / "staticfiles.json").exists())
    if collected and marker.read_text() == fingerprint:
        return False
    call_command("collectstatic", interactive=False, verbosity=0)
    marker.write_text(fingerprint)
    return True
