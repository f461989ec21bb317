"""`make soak` in small: the same machinery for 30 s with 4 viewers and 2 signers.

Runs bench/soak.py in a subprocess against its own database (dropped and created, then dropped
again here) and the test run's Redis database; bounded at 90 s in all.
"""

import json
import subprocess
import sys
from pathlib import Path

import psycopg
from django.conf import settings

from tests.celery_worker import broker_url

ROOT = Path(__file__).resolve().parent.parent.parent
BOUND = 88  # seconds, for everything: setup, 30 s of load, draining, the checks


def smoke_database() -> tuple[str, str]:
    """(the soak's database URL, the maintenance database's URL), beside the test database."""
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("postgresql"):
        raise RuntimeError("the soak needs PostgreSQL: set DATABASE_URL (make test does)")
    server = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    )
    return f"{server}/{db['NAME']}_soaksmoke", f"{server}/postgres"


def test_a_short_soak_runs_and_its_checks_hold(tmp_path):
    database_url, admin_url = smoke_database()
    command = [
        sys.executable, "-m", "bench.soak", "--seconds", "30", "--viewers", "4", "--signers", "2",
        "--database-url", database_url, "--broker-url", broker_url(), "--workdir", str(tmp_path),
        "--json", str(tmp_path / "soak.json"), "--markdown", str(tmp_path / "soak.md"),
        "--drain-timeout", "15", "--concurrency", "2",
    ]  # fmt: skip
    try:
        done = subprocess.run(  # noqa: S603 - our own script
            command, cwd=ROOT, capture_output=True, text=True, timeout=BOUND
        )
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            name = database_url.rsplit("/", 1)[1]
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "soak.json").read_text())
    assert [c["name"] for c in report["checks"] if not c["ok"]] == []
    pages = report["pages"]
    assert {"overview", "gates", "gates rows (htmx)", "gate detail", "sign page", "sign"} <= set(
        pages
    )
    assert sum(page["5xx"] for page in pages.values()) == 0
    assert all(gate["readings"] >= 1 for gate in report["gates"]["gates"])
    assert report["database"]["max_soak_connections"] >= 1  # the sampler saw the processes
    assert report["queue"]["drain"]["queued"] == 0
    assert "| overview |" in (tmp_path / "soak.md").read_text()
