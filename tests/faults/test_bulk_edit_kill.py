"""A process killed in the middle of a bulk edit leaves no deal changed (issue 13: 82 of 149 were).

The bulk edit (deals/services/bulk_edit.py) runs in one transaction; the child process below kills
itself with SIGKILL after the 82nd deal, so the transaction never commits. The same edit without the
kill changes all 149 deals. A SQLite file of its own; it runs once, in the SQLite pass of the suite.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings

from tests.faults.conftest import ROOT, dealflow_env, run_dealflow

pytestmark = [pytest.mark.slow]

SETUP = """
from dealflow.accounts.services import user_create
from dealflow.deals.tests.factories import DealFactory
user = user_create(username="bulkbot", password=None, is_superuser=True)
for number in range(149):
    DealFactory(owner=user, title=f"Bulk {number}")
print("ready")
"""

BULK_EDIT = """
import datetime as dt
import os
import signal
import sys

from dealflow.accounts.models import User
from dealflow.deals.models import Deal
from dealflow.deals.services import bulk_edit

kill_after = int(sys.argv[-1])
done = 0
edit_one = bulk_edit._edit_one


def edit_then_maybe_die(**kwargs):
    global done
    changed = edit_one(**kwargs)
    done += 1
    if done == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)
    return changed


bulk_edit._edit_one = edit_then_maybe_die
user = User.objects.get(username="bulkbot")
changed = bulk_edit.deal_bulk_edit(
    deals=list(Deal.objects.order_by("id")),
    user=user,
    action="close_date",
    expected_close_on=dt.date(2031, 1, 31),
    origin="fault",
)
print(changed)
"""

COUNT = """
import datetime as dt
from dealflow.deals.models import Deal, DealEvent
print(Deal.objects.filter(expected_close_on=dt.date(2031, 1, 31)).count(), DealEvent.objects.filter(origin="fault").count())
"""


def run_bulk_edit(environment: dict[str, str], kill_after: int) -> subprocess.CompletedProcess:
    code = f"import sys; sys.argv.append({str(kill_after)!r}); exec({BULK_EDIT!r})"
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


@pytest.mark.skipif(settings.IS_POSTGRES, reason="runs once, in the SQLite pass of the suite")
def test_a_bulk_edit_killed_half_way_changes_no_deal(tmp_path):
    environment = dealflow_env(f"sqlite:///{tmp_path / 'bulk.sqlite3'}", tmp_path)
    run_dealflow(environment, "migrate", "--noinput", "-v0")
    assert run_dealflow(environment, "shell", "-c", SETUP).strip().endswith("ready")

    killed = run_bulk_edit(environment, kill_after=82)
    assert killed.returncode == -9, killed.stderr  # SIGKILL, in the middle of the edit
    assert run_dealflow(environment, "shell", "-c", COUNT).strip().splitlines()[-1].split() == ["0", "0"]

    finished = run_bulk_edit(environment, kill_after=0)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip().splitlines()[-1] == "149"
    assert run_dealflow(environment, "shell", "-c", COUNT).strip().splitlines()[-1].split() == ["149", "149"]
