"""A deploy pipeline blocks on readiness: `manage.py readiness` and the readiness API."""

import json
import subprocess
import sys

import pytest
from django.db import connection

from apps.api.services import create_api_token
from apps.signoffs.models import Role
from apps.signoffs.services import sign_off
from apps.signoffs.snapshot import take_snapshot
from tests.helpers import ROOT
from tests.signoffs.conftest import read

pytestmark = pytest.mark.django_db(transaction=True)


def _readiness() -> subprocess.CompletedProcess:
    """The command as a pipeline step runs it: another process, the same database."""
    db = connection.settings_dict
    env = {"DEBUG": "1", "PATH": "/usr/bin:/bin",
           "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
                           f"{db['PORT'] or 5432}/{db['NAME']}"}  # fmt: skip
    return subprocess.run([sys.executable, "manage.py", "readiness", "atlas"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def _approve(key, user):
    from django.utils import timezone

    role = Role.objects.select_related("launch").get(key=key)
    sign_off(role=role, user=user, decision="approve", comment="", conditions=[],
             digest_seen=take_snapshot(role, timezone.now()).digest, previous_id=None)  # fmt: skip


def test_readiness_blocks_the_deploy_until_gates_pass_and_roles_approve(people, all_passing):
    read("coverage", "60")
    result = _readiness()
    assert result.returncode == 1
    blocking = json.loads(result.stdout)["blocking"]
    assert {(b["kind"], b["key"]) for b in blocking} == {
        ("gate", "coverage"),
        ("signoff", "vp-engineering"),
        ("signoff", "sre-lead"),
    }
    read("coverage", "90")
    _approve("vp-engineering", people["vera"])
    assert _readiness().returncode == 1  # the SRE Lead has not approved yet
    _approve("sre-lead", people["sam"])
    result = _readiness()
    assert result.returncode == 0, result.stdout
    document = json.loads(result.stdout)
    assert (document["ready"], document["recommendation"]) == (True, "go")
    assert set(document["signoffs"]) == {"vp-engineering", "sre-lead"}


def test_the_api_answers_200_either_way_for_a_read_token(client, people, all_passing, launch):
    token = create_api_token(launch=launch, name="deploy", scopes=["read"], actor="test")[1]
    response = client.get("/api/v1/launches/atlas/readiness/",
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is False and body["recommendation"] == "no-go"
    assert len(body["digest"]) == 64


def test_an_ingest_token_may_not_read_readiness(client, people, launch):
    token = create_api_token(launch=launch, name="ci", scopes=["ingest"], actor="test")[1]
    response = client.get("/api/v1/launches/atlas/readiness/",
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 403
