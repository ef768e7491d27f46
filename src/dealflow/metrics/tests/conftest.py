from __future__ import annotations

import pytest
import time_machine

from dealflow.metrics.tests.worked_example import TODAY, worked_example_build


@pytest.fixture
def frozen():
    with time_machine.travel(TODAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def example(frozen, rep, rep2, manager, outsider, pipeline, rate_usd):
    """The worked example of docs/metrics.md (deals by letter)."""
    return worked_example_build(rep=rep, rep2=rep2, outsider=outsider)
