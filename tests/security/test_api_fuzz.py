"""Schemathesis fuzzes every operation of the OpenAPI schema: no 500, every response matches the schema.

A bounded number of examples per operation keeps CI fast (DEALFLOW_FUZZ_EXAMPLES raises it locally).
"""

from __future__ import annotations

import logging
import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from config.wsgi import application

logging.getLogger("django.request").setLevel(logging.ERROR)
EXAMPLES = int(os.environ.get("DEALFLOW_FUZZ_EXAMPLES", "6"))

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@pytest.fixture
def fuzz_headers(db, settings, admin_user, rep, manager, outsider):
    """An admin's write token over a small pipeline, so generated ids sometimes hit real records."""
    from dealflow.accounts.services import token_create
    from dealflow.deals.tests.factories import DealFactory, LeadFactory

    settings.DEALFLOW = {**settings.DEALFLOW, "API_RATE_LIMIT_PER_MINUTE": 0}
    # Calling the WSGI app directly would close the test's connection after each request (as Django's
    # test client prevents); keep it open so the test transaction survives on PostgreSQL.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    for owner in (rep, manager, outsider):
        DealFactory(owner=owner)
        LeadFactory(owner=owner)
    _, secret = token_create(user=admin_user, name="fuzz")
    yield {"Authorization": f"Bearer {secret}"}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_operation_answers_500_or_breaks_its_schema(case, fuzz_headers):
    response = case.call(headers=fuzz_headers)
    case.validate_response(
        response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
    )
