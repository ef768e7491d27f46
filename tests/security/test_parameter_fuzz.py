"""Every GET parameter of every page and API endpoint, with what a user can type, as each persona: no 5xx.

Pages and their paths come from the URL resolver and the permission matrix's rules (which record each path
parameter names); a page's query parameters are the names its view reads from ``request.GET`` on a plain
visit (recorded, so a new view or filter is fuzzed without being listed here), plus the form fields and
pagination names in ``DECLARED``. API operations and their query parameters come from the OpenAPI schema.

Values come from ``FIXED`` (what broke pages before) and the hypothesis strategy ``VALUES``: digits of
any script (``²``, ``٣``), a NUL byte, numbers past 64 bits, years 0001 and 9999 and periods of those
years, empty and arbitrary text. In the suite each pair gets one value per persona (``_values_for``), so
the test stays fast; ``DEALFLOW_FUZZ_FULL=1`` sends every fixed value to every pair, and
``DEALFLOW_FUZZ_EXAMPLES`` raises the number of drawn examples. It prints pages x parameters x personas.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.http import QueryDict
from django.utils.functional import cached_property
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.security.test_permission_matrix import (
    OPERATIONS,
    WEB_RULES,
    World,
    _client_for,
    _fill,
    _web_fill,
    _web_patterns,
    api_rule_table,
)

logging.getLogger("django.request").setLevel(logging.CRITICAL)
EXAMPLES = int(os.environ.get("DEALFLOW_FUZZ_EXAMPLES", "1"))
FULL = os.environ.get("DEALFLOW_FUZZ_FULL") == "1"
PERSONAS = ("admin", "manager", "rep", "analyst")

# What a person can type into a field or a URL, and what broke pages before (issue #13).
FIXED = (
    "",
    "9999",
    "0001",
    "9999-12",
    "0001-01",
    "²",
    "٣",
    "x",
    "\x00",
    "a\x00b",
    "99999999999999999999999999",
    "-1",
    "0",
    "1.5",
    "0001-01-01",
    "9999-12-31",
    "9999-Q4",
)
VALUES = st.one_of(
    st.sampled_from(FIXED),
    st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=6),  # digits of any script
    st.integers(min_value=2**63 - 2, max_value=10**40).map(str),
    st.integers(min_value=-(10**40), max_value=-1).map(str),
    st.sampled_from(["0001", "9999"]).flatmap(
        lambda year: st.sampled_from([year, f"{year}-01", f"{year}-Q1", f"{year}-01-01..{year}-12-31"])
    ),
    st.text(max_size=12).map(lambda text: text + "\x00"),
    st.text(max_size=20),
)
# Parameters a page reads only in some branch (a form field, the next page of a list), per URL name.
DECLARED: dict[str, tuple[str, ...]] = {
    "web:deal_list": ("page", "order", "cf_tier", "cf_tier_from", "cf_tier_to"),
    "web:board_column": ("after",),
    "web:forecast_board_column": ("after",),
    "web:funnel": ("stage", "won"),
    "web:review_what_if": ("probability", "amount", "expected_close_on"),
}
# Pages that are not HTML views of the app or answer only POST.
SKIPPED = {"web:logout", "web:language_set"}


class RecordingQueryDict(QueryDict):
    """A QueryDict that remembers which names a view asked for."""

    seen: set[str]

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.seen.add(key)
        return super().get(key, default)

    def getlist(self, key, default=None):
        self.seen.add(key)
        return super().getlist(key, default)

    def __contains__(self, key):
        self.seen.add(key)
        return super().__contains__(key)


@contextmanager
def recorded_parameters() -> Iterator[set[str]]:
    """Within the block, every request's GET records the names read into the yielded set."""
    seen: set[str] = set()
    original = WSGIRequest.__dict__["GET"]

    def get(request):
        query = RecordingQueryDict(request.environ.get("QUERY_STRING", ""), encoding=request._encoding)
        query.seen = seen
        return query

    recording = cached_property(get)
    recording.__set_name__(WSGIRequest, "GET")
    WSGIRequest.GET = recording  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        WSGIRequest.GET = original  # type: ignore[method-assign]


def _web_targets(world, client) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, url, parameters) for every page that answers GET."""
    patterns = _web_patterns()
    targets = []
    for name, rule in sorted(WEB_RULES.items()):
        if name in SKIPPED or "delete" in name:
            continue
        url = _web_fill(patterns[name], rule, world)
        with recorded_parameters() as seen:
            response = client.get(url)
        if response.status_code == 405:
            continue
        assert response.status_code < 500, f"{name} {url}: {response.status_code} without parameters"
        names = (seen | set(DECLARED.get(name, ()))) - {"next"}
        targets.append((name, url, tuple(sorted(names))))
    return targets


def _api_targets(world) -> list[tuple[str, str, tuple[str, ...]]]:
    from dealflow.api.urls import api

    schema = api.get_openapi_schema()
    rules = api_rule_table()
    targets = []
    for operation in OPERATIONS:
        method, path = operation.split(" ", 1)
        if method != "GET" or operation not in rules:
            continue
        spec = schema["paths"][path]["get"]
        names = tuple(
            sorted(
                parameter["name"] for parameter in spec.get("parameters", []) if parameter["in"] == "query"
            )
        )
        if "/export" in path or "/backup" in path:
            continue  # streamed files: their parameters are fuzzed by test_api_fuzz through the schema
        targets.append((operation, _fill(path, rules[operation].params, world), names))
    return targets


def _values_for(index: int, persona: str, data) -> list[str]:
    """The values one (page, parameter) pair gets in one example.

    In the suite each pair gets one value: the fixed values in rotation (shifted per persona, so the four
    personas together cover more of them) and, for every other pair, one hypothesis draws. With
    DEALFLOW_FUZZ_FULL=1 every pair gets every fixed value and one drawn value per example.
    """
    if FULL:
        return [*FIXED, data.draw(VALUES)] if data is not None else list(FIXED)
    shift = PERSONAS.index(persona) * 5
    if (index + PERSONAS.index(persona)) % 2 == 0:
        return [FIXED[(index + shift) % len(FIXED)]]
    return [data.draw(VALUES)]


def _fuzzed(client, targets, persona: str, data, failures: list[str]) -> int:
    sent = 0
    index = 0
    for name, url, parameters in targets:
        for parameter in parameters:
            for value in _values_for(index, persona, data):
                response = client.get(url, {parameter: value})
                sent += 1
                if response.status_code >= 500:
                    failures.append(f"{name} {url}?{parameter}={value!r}: {response.status_code}")
            index += 1
    return sent


@pytest.fixture
def world(db, rep, manager, team, outsider, analyst, admin_user, settings):
    """The permission matrix's records (each path parameter names one of them)."""
    settings.DEALFLOW = {**settings.DEALFLOW, "API_RATE_LIMIT_PER_MINUTE": 0}
    return World(rep=rep, manager=manager, team=team)


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_parameter_value_answers_a_server_error(world, persona, request):
    """Found by it: period 9999/0001, /forecast/?kind=x, ² as an id, a NUL byte in a search."""
    client = _client_for(persona, request)
    targets = _web_targets(world, client) + _api_targets(world)
    pairs = sum(len(parameters) for _, _, parameters in targets)
    failures: list[str] = []
    sent = [0]

    @given(data=st.data())
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def fuzz(data) -> None:
        sent[0] += _fuzzed(client, targets, persona, data, failures)

    fuzz()
    print(
        f"\nfuzz as {persona}: {len(targets)} pages and GET operations, {pairs} (page, parameter) pairs, "
        f"{sent[0]} requests, {len(failures)} answered 5xx"
    )
    assert not failures, f"{len(failures)} requests answered 5xx:\n" + "\n".join(sorted(set(failures))[:80])
