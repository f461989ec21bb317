"""Backup and restore as the README says: pg_dump -Fc of the database and a copy of the evidence
store; pg_restore into a fresh database. The restored portal has every launch, measurement,
sign-off and evidence file, an intact audit chain, and still refuses to edit the audit log."""

import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from apps.gates.models import Gate
from apps.gates.services import Reading, attest, ingest_report, record_reading
from apps.signoffs.models import Assignment, Duty, Role
from apps.signoffs.services import sign_off
from apps.signoffs.snapshot import take_snapshot
from apps.specs.services import import_launch_spec
from tests.helpers import DEMO_SPEC, ROOT, to_yaml

pytestmark = pytest.mark.django_db(transaction=True)
COBERTURA = ROOT / "tests" / "fixtures" / "reports" / "cobertura" / "coveragepy-7.17.4-branch.xml"

# What a restored portal holds, read by the portal itself (DATABASE_URL, EVIDENCE_ROOT).
INSPECT = """
import hashlib, json
from pathlib import Path
import django
django.setup()
from django.conf import settings
from apps.audit.models import AuditEvent
from apps.gates.models import Evidence, Measurement
from apps.launches.models import Launch
from apps.signoffs.models import SignOff

def intact(evidence):
    path = Path(settings.MEDIA_ROOT) / evidence.path
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == evidence.sha256

print(json.dumps({
    "launches": sorted(Launch.objects.values_list("slug", flat=True)),
    "measurements": [[m.pk, m.gate.key, m.status, str(m.value), m.evaluated_at.isoformat()]
                     for m in Measurement.objects.select_related("gate").order_by("pk")],
    "signoffs": [[s.role.key, s.decision, s.digest]
                 for s in SignOff.objects.select_related("role").order_by("pk")],
    "evidence": sorted((e.sha256, intact(e)) for e in Evidence.objects.all()),
    "audit_events": AuditEvent.objects.count(),
    "audit_head": AuditEvent.objects.order_by("-sequence").values_list("hash", flat=True).first(),
}))
"""


def server_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # noqa: S603
    assert result.returncode == 0, f"{args[0]} failed: {result.stderr}"
    return result


def portal_env(database_url: str, evidence_root: Path) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "EVIDENCE_ROOT"}}
    return {
        **clean,
        "DEBUG": "1",
        "DATABASE_URL": database_url,
        "EVIDENCE_ROOT": str(evidence_root),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }


def major(version_text: str) -> int:
    return int(re.search(r"(\d+)(?:\.\d+)*", version_text).group(1))


@pytest.fixture
def tools():
    """pg_dump and pg_restore at least as new as the server (an older pg_dump refuses)."""
    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"{tool} is missing: `make test` installs the Debian package postgresql-client"
            )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        server = int(cursor.fetchone()[0]) // 10000
    client = major(run("pg_dump", "--version").stdout)
    if client < server:
        pytest.fail(
            f"pg_dump {client} cannot dump PostgreSQL {server}: install postgresql-client-{server}"
        )


@pytest.fixture
def restored_name():
    name = f"{connection.settings_dict['NAME']}_restored"
    with psycopg.connect(f"{server_url()}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    yield name
    with psycopg.connect(f"{server_url()}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_history(spec, evidence_root: Path, settings) -> None:
    """Two launches, readings, a pushed report, an attestation and a sign-off (all audited)."""
    settings.MEDIA_ROOT = evidence_root
    atlas = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    import_launch_spec(raw=DEMO_SPEC.read_text(), actor="test")
    availability = Gate.objects.select_related("launch").get(launch=atlas, key="availability")
    for value in ("99.95", "98.1", "99.99"):
        record_reading(gate=availability, reading=Reading(value=Decimal(value)), actor="worker")
    record_reading(gate=availability, reading=Reading(error="source unreachable"), actor="worker")
    ingest_report(launch=atlas, data=COBERTURA.read_bytes(), format=None, gate_key=None,
                  name=COBERTURA.name, actor="ci")  # fmt: skip
    vera = get_user_model().objects.create_user("vera", "vera@example.com", "pw", first_name="Vera")
    role = Role.objects.select_related("launch").get(launch=atlas, key="vp-engineering")
    Assignment.objects.create(launch=atlas, user=vera, duty=Duty.SIGNER, role=role)
    runbooks = Gate.objects.select_related("launch").get(launch=atlas, key="runbooks")
    attest(gate=runbooks, user=vera, comment="game day done")
    sign_off(role=role, user=vera, decision="reject", comment="availability dipped", conditions=[],
             digest_seen=take_snapshot(role, timezone.now()).digest, previous_id=None)  # fmt: skip


def test_a_dump_restored_into_a_fresh_database_holds_everything(
    spec, tools, restored_name, tmp_path, settings
):
    evidence = tmp_path / "evidence"
    make_history(spec, evidence, settings)
    source_url = f"{server_url()}/{connection.settings_dict['NAME']}"
    before = json.loads(
        run(sys.executable, "-c", INSPECT, env=portal_env(source_url, evidence)).stdout
    )
    assert before["audit_events"] >= 10 and before["signoffs"] and len(before["launches"]) == 2
    assert before["evidence"] and all(ok for _, ok in before["evidence"])

    # Backup: the database in pg_dump's custom format, and a copy of the evidence store.
    dump = tmp_path / "portal.dump"
    run("pg_dump", "--format=custom", f"--file={dump}", f"--dbname={source_url}")
    shutil.copytree(evidence, tmp_path / "backup" / "evidence")

    # Restore: a fresh database, the dump, the evidence copied back.
    restored_url = f"{server_url()}/{restored_name}"
    run("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored_url}", str(dump))
    restored_evidence = tmp_path / "restored" / "evidence"
    shutil.copytree(tmp_path / "backup" / "evidence", restored_evidence)
    env = portal_env(restored_url, restored_evidence)

    after = json.loads(run(sys.executable, "-c", INSPECT, env=env).stdout)
    assert after == before
    checked = run(
        sys.executable, "manage.py", "verify_audit", "--head", before["audit_head"], env=env
    )
    assert f"audit chain holds: {before['audit_events']} events" in checked.stdout
    run(sys.executable, "manage.py", "migrate", "--check", env=env)  # nothing left to apply

    # The append-only trigger came back with the tables.
    with psycopg.connect(restored_url, autocommit=True) as restored:
        for statement in ("UPDATE audit_auditevent SET actor_name = 'mallory'",
                          "DELETE FROM audit_auditevent"):  # fmt: skip
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                restored.execute(statement)
        count = restored.execute("SELECT count(*) FROM audit_auditevent").fetchone()[0]
    assert count == before["audit_events"]


def test_without_the_evidence_copy_the_restore_shows_what_is_missing(
    spec, tools, restored_name, tmp_path, settings
):
    # The database alone is not a backup: the evidence files live beside it.
    evidence = tmp_path / "evidence"
    make_history(spec, evidence, settings)
    source_url = f"{server_url()}/{connection.settings_dict['NAME']}"
    dump = tmp_path / "portal.dump"
    run("pg_dump", "--format=custom", f"--file={dump}", f"--dbname={source_url}")
    restored_url = f"{server_url()}/{restored_name}"
    run("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored_url}", str(dump))
    after = json.loads(
        run(sys.executable, "-c", INSPECT, env=portal_env(restored_url, tmp_path / "empty")).stdout
    )
    assert after["evidence"] and not any(ok for _, ok in after["evidence"])
