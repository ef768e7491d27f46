"""collector_calm: the collector's settings are put back when the last of nested loads ends."""

from __future__ import annotations

import gc

import pytest

from dealflow.deals.bulk import collector_calm
from dealflow.deals.bulk.collector import CALM_THRESHOLDS


def test_collector_calm_nests_and_puts_the_collector_back():
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with collector_calm():
        assert gc.get_threshold() == CALM_THRESHOLDS
        assert gc.get_freeze_count() > frozen
        with collector_calm():
            assert gc.get_threshold() == CALM_THRESHOLDS
        assert gc.get_threshold() == CALM_THRESHOLDS  # the outer load is still running
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_collector_calm_puts_the_collector_back_after_an_error():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), collector_calm():
        raise RuntimeError("a refused load")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
