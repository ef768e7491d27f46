"""Shared fixtures: the three personas of GUIDE.md (rep, manager, outsider) plus admin and analyst."""

from __future__ import annotations

import os

os.environ.setdefault("DEALFLOW_TESTING", "1")

import pytest
from django.conf import settings

from dealflow.accounts.models import Role


def pytest_collection_modifyitems(config, items):
    skip_postgres = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords and not settings.IS_POSTGRES:
            item.add_marker(skip_postgres)


@pytest.fixture(autouse=True)
def _rate_limit_counts_forgotten():
    """Each test starts with no per-process rate-limit counts: the database rolls back between tests, and
    counts a previous test left unwritten (for a token whose id a later test reuses) must not carry over."""
    from dealflow.accounts import ratelimit

    ratelimit._local.clear()


@pytest.fixture(autouse=True)
def _kept_forecasts_forgotten():
    """Each test starts with an empty Django cache: forecast views are kept under a data version made of
    row ids, and a rolled-back test's ids come back in the next one."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    """A request by a Dutch user leaves Dutch active in the test's thread (UserLanguageMiddleware activates
    the user's language and nothing deactivates it): put the default back, so the next test in the same
    worker does not read its messages in Dutch."""
    yield
    from django.utils import translation

    translation.deactivate()


def _reference_data_migration():
    import importlib

    return importlib.import_module("dealflow.deals.migrations.0002_reference_data_and_event_log_guard")


def _append_only_guards_lift(connection) -> list[str]:
    """Switch off every append-only trigger on this connection; return what restores them (SQLite)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Ordinary triggers (ours included) do not fire for a session in replica mode.
            cursor.execute("SET session_replication_role = replica")
            return []
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        triggers = cursor.fetchall()
        for name, _ in triggers:
            _while_sqlite_is_busy(cursor, f'DROP TRIGGER "{name}"')
    return [sql for _, sql in triggers]


def _while_sqlite_is_busy(cursor, sql: str, *, seconds: float = 20.0) -> None:
    """Run a schema change on the shared in-memory SQLite database, waiting while another connection holds
    it: a browser test ends while its page may still have a request in flight on the live server's thread
    (a lazy panel, an HTMX poll), and SQLite's shared cache then refuses the change with "database table is
    locked" instead of waiting for its busy timeout."""
    import time

    from django.db import OperationalError

    deadline = time.monotonic() + seconds
    while True:
        try:
            cursor.execute(sql)
            return
        except OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _append_only_guards_restore(connection, sqlite_triggers: list[str]) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("RESET session_replication_role")
        for sql in sqlite_triggers:
            _while_sqlite_is_busy(cursor, sql)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A transactional test (transaction=True, live_server) ends with a flush of every table, which the
    append-only tables refuse (their triggers stop TRUNCATE on PostgreSQL, DELETE on SQLite). Switch the
    triggers off for the flush, then back on, and reload the reference data the flush removed (the
    default pipeline, lost reasons, lead sources)."""
    from pytest_django.fixtures import validate_django_db

    marker = item.get_closest_marker("django_db")
    used = getattr(item, "funcargs", {})  # fixtures that were set up (empty when the test was skipped)
    transactional = (
        ("_django_db_marker" in used and marker is not None and validate_django_db(marker)[0])
        or "transactional_db" in used
        or "live_server" in used
    )
    if not transactional:
        yield
        return
    from django.db import connection
    from pytest_django.plugin import blocking_manager_key

    blocker = item.config.stash[blocking_manager_key]
    test_database = connection.settings_dict["NAME"]
    with blocker.unblock():
        sqlite_triggers = _append_only_guards_lift(connection)
    yield
    if connection.settings_dict["NAME"] != test_database:
        return  # the last test: the session teardown dropped the test database, nothing to restore
    from django.apps import apps

    with blocker.unblock():
        _append_only_guards_restore(connection, sqlite_triggers)
        _reference_data_migration().create_reference_data(apps, None)


@pytest.fixture
def team(db):
    from dealflow.accounts.tests.factories import TeamFactory

    return TeamFactory(name="Benelux")


@pytest.fixture
def other_team(db):
    from dealflow.accounts.tests.factories import TeamFactory

    return TeamFactory(name="DACH")


def _member(username: str, team, role: str, **extra):
    from dealflow.accounts.tests.factories import MembershipFactory, UserFactory

    user = UserFactory(username=username, **extra)
    MembershipFactory(user=user, team=team, role=role)
    return user


@pytest.fixture
def rep(team):
    return _member("rep", team, Role.REP, first_name="Rita", last_name="Rep")


@pytest.fixture
def rep2(team):
    return _member("rep2", team, Role.REP, first_name="Ruud", last_name="Tweede")


@pytest.fixture
def manager(team):
    return _member("manager", team, Role.MANAGER, first_name="Mona", last_name="Manager")


@pytest.fixture
def outsider(other_team):
    return _member("outsider", other_team, Role.REP, first_name="Otto", last_name="Outsider")


@pytest.fixture
def analyst(other_team):
    return _member("analyst", other_team, Role.ANALYST, first_name="Ana", last_name="Lyst")


@pytest.fixture
def admin_user(db):
    from dealflow.accounts.tests.factories import UserFactory

    return UserFactory(username="admin", is_superuser=True, is_staff=True)


@pytest.fixture
def pipeline(db):
    from dealflow.deals.tests.factories import default_pipeline

    return default_pipeline()


@pytest.fixture
def rate_usd(db):
    import datetime as dt
    from decimal import Decimal

    from dealflow.deals.services import exchange_rate_set

    return exchange_rate_set(currency="USD", rate=Decimal("0.9"), valid_from=dt.date(2020, 1, 1))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the random order's seed (pytest-randomly) at the end too, where a failing run is read."""
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int):
        terminalreporter.write_line(f"random order: --randomly-seed={seed} repeats it")
