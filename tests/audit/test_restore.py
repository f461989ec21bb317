"""A pg_dump restored into a fresh database keeps the chain's head and every guard with it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection, transaction

from apps.audit.models import ChainHead
from apps.audit.services import record

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL backup"),
    pytest.mark.skipif(shutil.which("pg_restore") is None, reason="tests/prod asks for it"),
]


def _url(name: str) -> str:
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER'] or 'postgres'}@{host}:{port}/{name}"


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, env=env, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )


@pytest.fixture
def restored_url():
    name = f"{connection.settings_dict['NAME']}_audit_restored"
    with psycopg.connect(_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    yield _url(name)
    with psycopg.connect(_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_restored_database_keeps_the_head_and_its_guards(restored_url, tmp_path):
    with transaction.atomic():
        newest = [record(actor="alice", action=f"a.{n}") for n in range(4)][-1]
    dump = tmp_path / "portal.dump"
    source = _url(connection.settings_dict["NAME"])
    assert (
        _run("pg_dump", "--format=custom", f"--file={dump}", f"--dbname={source}").returncode == 0
    )
    restored = _run(
        "pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored_url}", str(dump)
    )
    assert restored.returncode == 0, restored.stderr

    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": restored_url}
    checked = _run(sys.executable, "manage.py", "verify_audit", "--head", newest.hash, env=env)
    assert f"audit chain holds: 4 events, head {newest.hash}" in checked.stdout, checked.stderr
    head = ChainHead.objects.get()
    with psycopg.connect(restored_url, autocommit=True) as db:
        row = db.execute("SELECT chain, sequence, hash, first_hash FROM audit_chainhead").fetchall()
        assert row == [(head.chain, 4, newest.hash, head.first_hash)]
        for statement, refusal in [
            ("TRUNCATE audit_auditevent", "append-only: TRUNCATE refused"),
            ("TRUNCATE audit_chainhead", "append-only: TRUNCATE refused"),
            ("DELETE FROM audit_chainhead", "only moves forward: DELETE refused"),
            ("UPDATE audit_chainhead SET sequence = 1", "only moves forward"),
        ]:
            with pytest.raises(psycopg.errors.RaiseException, match=refusal):
                db.execute(statement)
