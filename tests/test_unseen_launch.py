"""A launch nobody here has seen, driven only through the documented interfaces:
`import_launch`, `create_api_token`, `POST /api/v1/launches/<slug>/reports/` and
`evaluate_gates --json`, with real reports written by real tools."""

import http.client
import io
import json
from contextlib import redirect_stdout
from urllib.parse import urlsplit

import pytest
import requests
from django.core.management import call_command

from apps.gates.models import Evidence, Measurement
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db(transaction=True)
REPORTS = ROOT / "tests" / "fixtures" / "reports"
SPEC = ROOT / "tests" / "fixtures" / "specs" / "orion.yaml"

UPLOADS = [  # (fixture, format named by the uploader or None to detect)
    ("junit/maven-surefire-TEST-com.shape.CircleTest.xml", None),
    ("cobertura/coveragepy-4.0.3-test-python.xml", None),
    ("trivy/trivy-alpine-39-high-critical.json", "trivy"),
    ("k6/k6-reporter-handleSummary-test-data.json", None),
    ("mutation/stryker-elements-simple-example.json", "mutation"),
    ("sarif/dockle-0.3.15.sarif", None),
    ("pip-audit/defectdojo-many_vulns_new.json", "pip-audit"),
    ("cargo-audit/rustsec-cargo-audit-tests-audit.json", "cargo-audit"),
]

EXPECTED = {  # key: (status, value) as SOURCES.md's figures say
    "unit-tests": ("failing", "2"),
    "test-pass-rate": ("passing", "75"),
    "line-coverage": ("passing", "90"),
    "critical-cves": ("failing", "2"),
    "high-cves": ("passing", "0"),
    "p95-latency": ("passing", "30.03"),
    "mutation": ("passing", "33.33"),
    "sast-errors": ("failing", "1"),
    "python-deps": ("unknown", None),  # a dependency was skipped: not audited is not a pass
    "rust-advisories": ("passing", "1"),
    "pen-test": ("pending", None),
}


def _command(*args) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        call_command(*args, stdout=out)
    return out.getvalue()


def test_an_unseen_launch_is_imported_fed_and_evaluated(live_server):
    assert "created launch orion" in _command("import_launch", str(SPEC))
    token = _command("create_api_token", "--launch", "orion", "--name", "ci").strip()
    url = f"{live_server.url}/api/v1/launches/orion/reports/"
    for path, fmt in UPLOADS:
        data = {"format": fmt} if fmt else {}
        response = requests.post(
            url, headers={"Authorization": f"Bearer {token}"}, data=data, timeout=30,
            files={"file": (path.rsplit("/", 1)[-1], (REPORTS / path).read_bytes())},
        )  # fmt: skip
        assert response.status_code == 201, (path, response.text)
    rows = json.loads(_command("evaluate_gates", "--launch", "orion", "--json"))
    got = {row["key"]: (row["status"], row["value"]) for row in rows}
    assert got == EXPECTED
    reasons = {row["key"]: row["reason"] for row in rows}
    assert "azure-devops" in reasons["python-deps"]


def test_hostile_truncated_and_unknown_uploads_change_nothing(live_server):
    _command("import_launch", str(SPEC))
    token = _command("create_api_token", "--launch", "orion", "--name", "ci").strip()
    url = f"{live_server.url}/api/v1/launches/orion/reports/"
    bad = [
        (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
         b'<testsuite><testcase name="&x;"/></testsuite>', "junit", 400),
        ((REPORTS / "junit/pytest-corrupt-xml.xml").read_bytes(), None, 400),
        (b"PK\x03\x04 a zip file", None, 415),
        (b'{"runs": "nope", "version": "2.1.0"}', "sarif", 400),
    ]  # fmt: skip
    for body, fmt, code in bad:
        response = requests.post(
            url, headers={"Authorization": f"Bearer {token}"}, timeout=30,
            data={"format": fmt} if fmt else {}, files={"file": ("r", body)},
        )  # fmt: skip
        assert response.status_code == code, response.text
        assert response.json()["detail"]
    assert not Measurement.objects.exists()
    assert not Evidence.objects.exists()


def test_a_200_mb_upload_is_refused_before_its_body_is_read(live_server):
    _command("import_launch", str(SPEC))
    token = _command("create_api_token", "--launch", "orion", "--name", "ci").strip()
    parts = urlsplit(live_server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.putrequest("POST", "/api/v1/launches/orion/reports/")
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", "multipart/form-data; boundary=x")
    conn.putheader("Content-Length", str(200 * 1024 * 1024))
    conn.endheaders()
    conn.send(b"--x\r\n" + b"A" * 65536)  # a first chunk; the other 200 MB are never sent
    response = conn.getresponse()
    assert response.status == 413
    assert b"the limit is 26,214,400" in response.read()
    conn.close()
    assert not Measurement.objects.exists()
