"""`make run`'s embedded mode (SQLite, filesystem broker) works end to end.

The suite runs on PostgreSQL; this test runs the embedded path in subprocesses on a fresh SQLite
file, so a PostgreSQL-only statement cannot slip into the code `make run` uses.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PAGES = """
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import override_settings

client = Client()
client.force_login(get_user_model().objects.get(email="pm@example.com"))
with override_settings(ALLOWED_HOSTS=["testserver"]):
    for path in ["/launches/", "/launches/llm-research-lab/", "/launches/llm-research-lab/gates/",
                 "/launches/llm-research-lab/timeline/", "/launches/llm-research-lab/signoffs/",
                 "/launches/llm-research-lab/gates/availability-slo/",
                 "/launches/llm-research-lab/audit/", "/launches/llm-research-lab/controls/"]:
        print(path, client.get(path).status_code)
"""

# A query built once per process (portal/prepared.py) on SQLite, where a moment goes to the
# database as text: each call's moment is the one compared, on each side of a holding's window.
PREPARED = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from apps.launches.models import Launch
from apps.signoffs import permissions
from apps.signoffs.models import Assignment, Duty

launch = Launch.objects.get(slug="llm-research-lab")
user = get_user_model().objects.create_user("win", "win@example.com", "pw")
now = timezone.now()
Assignment.objects.create(launch=launch, user=user, duty=Duty.AUDITOR,
                          valid_from=now - timedelta(hours=1), valid_until=now + timedelta(hours=1))
sees = permissions._HOLDER_SEES[True]
for moment in (now, now - timedelta(hours=2), now + timedelta(hours=1)):
    found = sees(user_id=user.pk, now=moment, slug=launch.slug)
    held = permissions._held_by_id(user.pk, moment)
    ruled = permissions._held_launches(Launch.objects.all(), held)
    print("seen", bool(found), ruled.filter(slug=launch.slug).exists())
    holds = permissions._holdings(user, launch, moment)
    print("holds", len(holds), permissions.current_assignments(user, launch, moment).count())
print("now", permissions.visible_launch(user, launch.slug) == launch)
print("listed", [x.slug for x in permissions.listed_launches(user)])
"""


def manage(var_dir: Path, *args: str) -> subprocess.CompletedProcess:
    dropped = ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "CACHE_URL")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(DEBUG="1", PORTAL_VAR_DIR=str(var_dir))
    result = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}"
    return result


def test_the_demo_loads_evaluates_and_renders_on_sqlite(tmp_path):
    manage(tmp_path, "migrate", "--noinput", "-v0")
    manage(tmp_path, "load_demo")
    assert (tmp_path / "portal.sqlite3").stat().st_size > 0

    statuses = json.loads(manage(tmp_path, "evaluate_gates", "--json").stdout)
    assert len(statuses) == 74
    assert {row["status"] for row in statuses} <= {"passing", "failing", "unknown", "pending",
                                                  "waived"}  # fmt: skip

    tick = "from apps.gates.tasks import tick; print('queued', tick(), tick())"
    out = manage(tmp_path, "shell", "-c", tick).stdout.splitlines()
    first, second = next(line for line in out if line.startswith("queued ")).split()[1:]
    assert int(first) > 0 and second == "0", out  # each due gate claimed once

    manage(tmp_path, "verify_audit")
    pages = manage(tmp_path, "shell", "-c", PAGES).stdout.split("\n")
    answers = dict(line.rsplit(" ", 1) for line in pages if line.startswith("/"))
    assert len(answers) == 8 and set(answers.values()) == {"200"}, answers

    seen = [line for line in manage(tmp_path, "shell", "-c", PREPARED).stdout.split("\n") if line]
    assert seen[-8:] == [
        "seen True True", "holds 1 1", "seen False False", "holds 0 0",
        "seen False False", "holds 0 0", "now True", "listed ['llm-research-lab']",
    ]  # fmt: skip


TICKER = """
import json, os, time
from apps.gates import tasks

won = []
tasks._queue = lambda claimed: won.extend(gate_id for gate_id, _, _ in claimed)  # no broker
time.sleep(max(0.0, float(os.environ["START_AT"]) - time.time()))  # both tick at once
tasks.tick()
print("won", json.dumps(won))
"""


def test_two_tickers_at_once_on_sqlite_claim_each_due_gate_once(tmp_path):
    """Beat on two hosts of the embedded mode: SQLite has no row locks, so the gate claim relies
    on transactions that take the write lock when they begin (portal/settings.py IMMEDIATE)."""
    import time

    manage(tmp_path, "migrate", "--noinput", "-v0")
    manage(tmp_path, "load_demo")
    due = "from django.utils import timezone\nfrom apps.gates.models import Gate\n"
    due += "print('due', Gate.objects.due(timezone.now()).count())"
    out = manage(tmp_path, "shell", "-c", due).stdout.splitlines()
    count = int(next(line for line in out if line.startswith("due ")).split()[1])
    assert count > 0

    dropped = ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "CACHE_URL")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(DEBUG="1", PORTAL_VAR_DIR=str(tmp_path), START_AT=str(time.time() + 6))
    tickers = [
        subprocess.Popen(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", "shell", "-c", TICKER],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    claims = []
    for ticker in tickers:
        out, err = ticker.communicate(timeout=120)
        assert ticker.returncode == 0, err[-3000:]
        line = next(line for line in out.splitlines() if line.startswith("won "))
        claims.append(json.loads(line[4:]))

    first, second = (set(c) for c in claims)
    assert len(first) + len(second) == count  # every due gate claimed, none twice
    assert not first & second
