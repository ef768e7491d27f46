"""The `dealflow` commands, through call_command and through the real entry point (exit codes, stderr)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
import time_machine
from django.core.management import call_command

from dealflow.accounts.models import ApiToken, AuditEntry, Membership, User
from dealflow.cli import main
from dealflow.cli.scheduler import scheduler_tick
from dealflow.core.errors import ApplicationError


def run(*args: str) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(*args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def keep_test_connection(monkeypatch):
    # The entry point closes every connection when a command ends; the test's transaction needs its own.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)


# --- createuser -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_createuser_with_a_team_and_a_password_from_stdin(monkeypatch, team):
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough pass phrase\n"))
    out, _ = run(
        "createuser",
        "mia",
        "--email",
        "mia@example.com",
        "--team",
        "benelux",
        "--role",
        "manager",
        "--password-stdin",
    )
    user = User.objects.get(username="mia")
    assert user.check_password("a long enough pass phrase")
    assert user.email == "mia@example.com" and not user.is_superuser
    assert Membership.objects.get(user=user).team == team
    assert Membership.objects.get(user=user).role == "manager"
    assert out.strip() == "Created user mia, manager in Benelux."


@pytest.mark.django_db
def test_createuser_admin_without_a_password_cannot_sign_in_yet(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: no prompt
    run("createuser", "boss", "--admin", "--team", "Nordics")
    user = User.objects.get(username="boss")
    assert user.is_superuser and user.is_staff and not user.has_usable_password()
    assert user.memberships.get().team.name == "Nordics"


@pytest.mark.django_db
def test_createuser_refuses_a_taken_username_through_call_command(rep):
    with pytest.raises(ApplicationError, match="taken"):
        run("createuser", "REP")


@pytest.mark.django_db
def test_an_application_error_is_one_red_line_on_stderr_and_exit_status_2(rep, capsys, keep_test_connection):
    with pytest.raises(SystemExit) as exit_info:
        main(["createuser", "rep", "--skip-checks"])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "The username 'rep' is taken. (username)\n"


@pytest.mark.django_db
def test_a_weak_password_is_refused_with_exit_status_2(monkeypatch, capsys, keep_test_connection):
    monkeypatch.setattr("sys.stdin", io.StringIO("123\n"))
    with pytest.raises(SystemExit) as exit_info:
        main(["createuser", "weak", "--password-stdin", "--skip-checks"])
    assert exit_info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not User.objects.filter(username="weak").exists()


# --- token ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_token_create_prints_the_secret_once_and_stores_only_its_hash(rep):
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        out, err = run(
            "token", "create", "rep", "--name", "nightly export", "--scope", "read", "--expires-days", "30"
        )
        listing, _ = run("token", "list", "rep")
    secret = out.strip()
    token = ApiToken.objects.get(user=rep)
    assert secret.startswith("dfl_") and len(secret) > 40
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:12] and token.name == "nightly export" and token.scope == "read"
    assert token.expires_at == dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
    stored = [str(value) for value in ApiToken.objects.values_list().get()]
    assert not any(secret in value for value in stored)
    assert f"Token {token.pk} ({token.prefix}...)" in err
    assert secret not in listing and token.prefix in listing and "active" in listing


@pytest.mark.django_db
def test_token_revoke_by_prefix_and_by_id(rep):
    first = run("token", "create", "rep")[0].strip()
    second = run("token", "create", "rep", "--name", "second")[0].strip()
    out, _ = run("token", "revoke", first[:12])
    first_token, second_token = ApiToken.objects.order_by("id")
    assert out.strip() == f"Revoked token {first_token.pk} ({first_token.prefix}...)."
    run("token", "revoke", str(second_token.pk))
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 2
    assert AuditEntry.objects.filter(action="token.revoked").count() == 2
    listing = run("token", "list", "rep")[0]
    assert listing.count("revoked") == 2 and second not in listing


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["token", "create", "nobody"], "no user 'nobody'"),
        (["token", "create", "rep", "--expires-days", "0"], "expires-days"),
        (["token", "revoke", "dfl_doesnotexist"], "No token matches"),
        (["token", "revoke", "whatever"], "token id or its prefix"),
    ],
)
def test_token_commands_name_what_is_wrong(rep, args, message):
    with pytest.raises(ApplicationError, match=message):
        run(*args)


# --- demo and the scheduler tick ------------------------------------------------------------------


@pytest.mark.django_db
def test_demo_command_loads_the_deals_it_was_asked_for(monkeypatch):
    monkeypatch.setattr("dealflow.demo.generate.OPTIONAL_STEPS", [])
    out, _ = run("demo", "--deals", "40", "--seed", "3", "--today", "2026-06-30", "--no-progress")
    from dealflow.deals.models import Deal

    assert Deal.objects.count() == 40
    assert out.startswith("Loaded 40 deals, ")


@pytest.mark.django_db
def test_demo_refuses_a_negative_count():
    with pytest.raises(ApplicationError, match="number of deals"):
        run("demo", "--deals", "-1", "--no-progress")


@pytest.mark.django_db
def test_scheduler_tick_reports_what_it_enqueued_and_survives_a_broken_job(monkeypatch):
    from dealflow.core import schedule

    jobs = {"broken": schedule.PeriodicJob("broken", "dealflow.not_a_module.task", dt.timedelta(minutes=5))}
    monkeypatch.setattr(schedule, "PERIODIC_JOBS", jobs)
    jobs["ok"] = schedule.PeriodicJob(
        "ok", "dealflow.core.tests.test_schedule.count_a_run", dt.timedelta(minutes=5)
    )
    reports: list[str] = []
    assert scheduler_tick(report=reports.append) == ["ok"]  # the broken one is logged and skipped
    assert reports == ["Enqueued periodic job ok."]
    assert scheduler_tick(report=reports.append) == []


# --- dealflow run's process handling ----------------------------------------------------------------


def test_when_one_child_ends_the_others_are_stopped_and_its_status_returned():
    import sys
    import time

    from dealflow.cli.processes import children_run

    started = time.monotonic()
    status = children_run(
        [
            [sys.executable, "-c", "import time; time.sleep(60)"],
            [sys.executable, "-c", "raise SystemExit(3)"],
        ],
        grace_seconds=5,
    )
    assert status == 3
    assert time.monotonic() - started < 30  # the sleeper was terminated, not waited for


def test_the_run_command_starts_gunicorn_and_the_worker(monkeypatch):
    from dealflow.cli.processes import gunicorn_command, worker_command

    assert gunicorn_command(bind="127.0.0.1:8031", workers=3)[2:8] == [
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        "127.0.0.1:8031",
        "--workers",
        "3",
    ]
    assert worker_command()[1:] == ["-m", "dealflow.cli", "worker"]
    monkeypatch.setenv("PORT", "8042")
    monkeypatch.delenv("DEALFLOW_BIND", raising=False)
    from dealflow.cli.processes import default_bind

    assert default_bind() == "127.0.0.1:8042"


@pytest.mark.django_db
def test_run_migrates_loads_the_demo_once_prints_the_logins_and_supervises_both_processes(monkeypatch):
    from dealflow.cli.management.commands import run as run_module

    management_calls, started = [], []
    monkeypatch.setattr(run_module, "call_command", lambda name, **options: management_calls.append(name))
    monkeypatch.setattr(run_module, "static_collect_if_changed", lambda: management_calls.append("static"))
    monkeypatch.setattr(run_module, "children_run", lambda commands: started.append(commands) or 0)
    monkeypatch.setattr("dealflow.demo.generate.OPTIONAL_STEPS", [])
    for _ in range(2):
        with pytest.raises(SystemExit) as exit_info:
            run("run", "--bind", "127.0.0.1:8031", "--demo-deals", "20")
        assert exit_info.value.code == 0
    from dealflow.deals.models import Deal

    assert Deal.objects.count() == 20  # loaded on the first start only
    assert management_calls == ["migrate", "static", "migrate", "static"]
    assert [len(commands) for commands in started] == [2, 2]
    assert "127.0.0.1:8031" in started[0][0] and started[0][1][-1] == "worker"
    stdout = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("run", "--no-worker", "--bind", "127.0.0.1:8099", stdout=stdout)
    printed = stdout.getvalue()
    assert "Dealflow is at http://127.0.0.1:8099/" in printed
    assert "password dealflow-demo" in printed
    assert all(f"  {username} " in printed for username in ("admin", "manager", "rep", "rep2"))
    assert len(started[-1]) == 1  # gunicorn alone


def test_static_files_are_collected_again_only_when_a_source_changed(tmp_path, settings, monkeypatch):
    from dealflow.cli import static

    source = tmp_path / "source"
    source.mkdir()
    (source / "app.css").write_text("body { color: black; }")
    settings.STATICFILES_DIRS = [str(source)]
    settings.STATIC_ROOT = str(tmp_path / "collected")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "dealflow.web.staticfiles.StaticStorage"},
    }
    from django.contrib.staticfiles import finders

    finders.get_finder.cache_clear()
    collected = []

    def collect(name, **options):
        collected.append(name)
        (tmp_path / "collected").mkdir(exist_ok=True)
        (tmp_path / "collected" / "staticfiles.json").write_text("{}")

    monkeypatch.setattr(static, "call_command", collect)
    try:
        assert static.static_collect_if_changed() is True
        assert static.static_collect_if_changed() is False  # a restart with nothing changed
        (source / "app.css").write_text("body { color: navy; }")
        assert static.static_collect_if_changed() is True
        (tmp_path / "collected" / "staticfiles.json").unlink()  # someone emptied the folder
        assert static.static_collect_if_changed() is True
        assert collected == ["collectstatic"] * 3
    finally:
        finders.get_finder.cache_clear()
