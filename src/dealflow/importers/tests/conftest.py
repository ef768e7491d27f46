"""Fixtures of the import tests: the fixture files, a frozen clock, and small metric helpers."""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.db.models import Avg, Count, Q, Sum

from dealflow.deals.models import Deal

FILES = Path(__file__).parent / "files"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path):
    settings.DEALFLOW = {**settings.DEALFLOW, "IMPORT_DIR": str(tmp_path / "imports")}
    return tmp_path / "imports"


@pytest.fixture
def salesforce_zip(tmp_path) -> Path:
    """A Salesforce data export: one CSV per object, zipped like the export service delivers it."""
    path = tmp_path / "salesforce-export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for member in sorted((FILES / "salesforce").iterdir()):
            archive.write(member, arcname=member.name)
    return path


def win_rate_and_average(deals=None) -> tuple[Decimal, Decimal]:
    """Win rate (won / closed) in percent and average won amount in major units, by a plain aggregate."""
    deals = deals if deals is not None else Deal.objects.all()
    numbers = deals.aggregate(
        won=Count("id", filter=Q(status="won")),
        closed=Count("id", filter=Q(status__in=["won", "lost"])),
        average=Avg("amount_base_minor", filter=Q(status="won")),
        total=Sum("amount_base_minor", filter=Q(status="won")),
    )
    rate = (Decimal(numbers["won"]) * 100 / Decimal(numbers["closed"])).quantize(Decimal("0.1"))
    average = (Decimal(numbers["total"]) / numbers["won"] / 100).quantize(Decimal("0.01"))
    return rate, average
