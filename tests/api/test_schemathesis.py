"""schemathesis against the live schema of a live server, with a token of every scope.

It generates requests for every operation of /api/schema/ (valid and invalid ones), sends them to
the running portal and checks every answer: never a server error, always a documented status,
content type and body shape. Path parameters name real objects of the launch, so the checks see
full answers, not only 404s. Bounded: a few examples per operation, a fixed seed.
"""

import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from apps.gates.models import Gate
from apps.gates.services import Reading, record_reading
from apps.launches.models import Activity
from apps.signoffs.models import Role
from apps.signoffs.services import record_decision, sign_off
from apps.signoffs.snapshot import take_snapshot
from tests.waivers import standing_waiver

pytestmark = pytest.mark.django_db(transaction=True)
ST = Path(sys.executable).with_name("st")
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance", "negative_data_rejection",
    "missing_required_header", "unsupported_method", "ignored_auth",
])  # fmt: skip


@pytest.fixture
def evidence(launch, people):
    """Something in every list: measurements, a waiver, a sign-off, a decision."""
    coverage = Gate.objects.get(launch=launch, key="coverage")
    record_reading(gate=coverage, reading=Reading(value=Decimal("70")), actor="test")
    standing_waiver(coverage, requested_by=people["vera"], approved_by=people["ada"],
                    reason="flaky", expires_at=timezone.now() + timedelta(days=2))  # fmt: skip
    role = Role.objects.select_related("launch").get(launch=launch, key="vp-engineering")
    sign_off(role=role, user=people["vera"], decision="reject", comment="not yet", conditions=[],
             digest_seen=take_snapshot(role, timezone.now()).digest, previous_id=None)  # fmt: skip
    record_decision(launch=launch, user=people["vera"], decision="no-go", attendees="Pat, Vera",
                    notes="")  # fmt: skip


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    live_server, launch, people, evidence, make_token, tmp_path
):
    token = make_token("read", "ingest", "manage", "audit", name="schemathesis")
    activity = Activity.objects.filter(phase__launch=launch).first()
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'[parameters]\n"path.slug" = "atlas"\n"path.key" = "coverage"\n"path.id" = {activity.pk}\n'
    )
    command = [
        str(ST), "--config-file", str(config), "run", f"{live_server.url}/api/schema/?format=json",
        "--header", f"Authorization: Bearer {token}", "--checks", CHECKS,
        "--max-examples", "5", "--seed", "20261222", "--workers", "2",
        "--request-timeout", "10", "--no-shrink", "--suppress-health-check", "all",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    assert "No issues found" in result.stdout or "passed" in result.stdout
