"""Report ingest: what CI systems push, and what is refused with nothing stored."""

import gzip
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.api.models import ApiToken
from apps.audit.models import AuditEvent
from apps.gates.models import Evidence, Gate, Measurement
from apps.specs.services import import_launch_spec
from tests.helpers import ROOT, to_yaml

pytestmark = pytest.mark.django_db
REPORTS = ROOT / "tests" / "fixtures" / "reports"
URL = "/api/v1/launches/atlas/reports/"


def fixture(path: str) -> bytes:
    return (REPORTS / path).read_bytes()


@pytest.fixture
def launch(spec):
    spec["gates"].append({
        "key": "unit-tests", "name": "Unit tests green", "category": "quality",
        "dimension": "technical", "blocking": True, "source": "report", "format": "junit",
        "metric": "tests.failed", "comparator": "==", "threshold": 0, "unit": "count",
    })  # fmt: skip
    spec["gates"].append({
        "key": "pass-rate", "name": "Pass rate", "category": "quality",
        "dimension": "technical", "blocking": False, "source": "report", "format": "junit",
        "metric": "tests.pass_percent", "comparator": ">=", "threshold": 90, "unit": "%",
    })  # fmt: skip
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


def _token(launch, scopes=("ingest",), name="ci") -> str:
    from apps.api.services import create_api_token

    return create_api_token(launch=launch, name=name, scopes=list(scopes), actor="test")[1]


def _post(client, token, data: bytes, name="report.xml", **fields):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    headers.update(fields.pop("headers", {}))
    body = {"file": io.BytesIO(data), **fields}
    body["file"].name = name
    return client.post(URL, body, **headers)


def test_a_junit_report_measures_every_junit_gate(client, launch):
    token = _token(launch)
    response = _post(client, token, fixture("junit/maven-surefire-TEST-com.shape.CircleTest.xml"))
    assert response.status_code == 201, response.content
    got = {
        m["gate"]: (m["metric"], m["value"], m["status"]) for m in response.json()["measurements"]
    }
    assert got == {
        "unit-tests": ("tests.failed", "2", "failing"),
        "pass-rate": ("tests.pass_percent", "75", "failing"),
    }
    assert AuditEvent.objects.filter(action="report.ingested").count() == 1


def test_an_ingest_loads_the_gates_reading_its_format_and_no_launch_again(client, launch):
    """Only the report gates that read the report's format are loaded (the cobertura gate is
    not), once and locked, and their launch is the token's, not joined in again."""
    token = _token(launch)
    report = fixture("junit/maven-surefire-TEST-com.shape.CircleTest.xml")
    with CaptureQueriesContext(connection) as queries:
        assert _post(client, token, report).status_code == 201
    gate_reads = [q["sql"] for q in queries.captured_queries
                  if q["sql"].startswith('SELECT "gates_gate"."id"')]  # fmt: skip
    assert len(gate_reads) == 1, gate_reads  # the report gates reading junit, locked
    assert '"launches_launch"' not in gate_reads[0]
    assert '"gates_gate"."format" = ' in gate_reads[0]
    assert gate_reads[0].endswith('FOR UPDATE OF "gates_gate"')


def test_the_named_gate_only(client, launch):
    token = _token(launch)
    response = _post(
        client, token, fixture("junit/pytest-junit.gloo.elastic.xml"), gate="pass-rate"
    )
    assert response.status_code == 201
    assert [m["gate"] for m in response.json()["measurements"]] == ["pass-rate"]
    assert response.json()["measurements"][0]["status"] == "passing"


def test_the_format_is_detected_and_coverage_gates_read_it(client, launch):
    token = _token(launch)
    response = _post(client, token, fixture("cobertura/gcovr-8.0-gcc-8-cobertura.xml"))
    assert response.status_code == 201
    m = response.json()["measurements"][0]
    assert (m["gate"], m["value"], m["status"]) == ("coverage", "63.64", "failing")


def test_a_report_without_evidence_is_unknown_not_passing(client, launch):
    token = _token(launch)
    empty = b'<?xml version="1.0"?><testsuite name="none" tests="0"></testsuite>'
    response = _post(client, token, empty, format="junit")
    assert response.status_code == 201
    statuses = {m["gate"]: m["status"] for m in response.json()["measurements"]}
    assert statuses == {"unit-tests": "unknown", "pass-rate": "unknown"}


def test_the_same_file_twice_is_stored_once_and_measured_twice(client, launch):
    token = _token(launch)
    data = fixture("junit/maven-surefire-TEST-com.shape.CircleTest.xml")
    assert _post(client, token, data).status_code == 201
    assert _post(client, token, data).status_code == 201
    assert Evidence.objects.count() == 1
    assert Measurement.objects.filter(gate__key="unit-tests").count() == 2


def test_a_retry_with_the_same_idempotency_key_makes_nothing_new(client, launch):
    token = _token(launch)
    data = fixture("junit/maven-surefire-TEST-com.shape.CircleTest.xml")
    first = _post(client, token, data, headers={"HTTP_IDEMPOTENCY_KEY": "build-41"})
    again = _post(client, token, data, headers={"HTTP_IDEMPOTENCY_KEY": "build-41"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert Measurement.objects.filter(gate__key="unit-tests").count() == 1


def test_a_gzipped_report_is_accepted(client, launch):
    token = _token(launch)
    data = gzip.compress(fixture("junit/maven-surefire-TEST-com.shape.CircleTest.xml"))
    assert _post(client, token, data, name="report.xml.gz").status_code == 201


def _nothing_stored():
    assert not Measurement.objects.exists()
    assert not Evidence.objects.exists()
    assert not AuditEvent.objects.filter(action="report.ingested").exists()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<testsuite tests="1"><testcase name="&lol3;"/></testsuite>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<testsuite><testcase name="&x;"/></testsuite>"""


@pytest.mark.parametrize(
    ("case", "data", "fields", "code", "message"),
    [
        ("truncated xml", b"<testsuite><testcase name='a'>", {"format": "junit"}, 400, "junit:"),
        ("corrupt pytest", None, {}, 400, "not well-formed"),
        ("billion laughs", BILLION_LAUGHS, {"format": "junit"}, 400, "entit"),
        ("external entity", XXE, {"format": "junit"}, 400, "entit"),
        ("not json", b"{nope", {"format": "trivy"}, 400, "trivy"),
        ("unknown format name", b"<x/>", {"format": "xunit9"}, 415, "xunit9"),
        ("undetectable", b"hello world", {}, 415, "cannot detect"),
        ("no gate reads it", None, {"format": "sarif"}, 400, "no report gate"),
        ("unknown gate", b"<testsuite/>", {"gate": "nope"}, 400, "has no report gate 'nope'"),
        ("corrupt gzip", b"\x1f\x8b\x08\x00garbage", {}, 400, "gzip"),
    ],
)
def test_a_bad_report_is_refused_with_nothing_stored(
    client, launch, case, data, fields, code, message
):
    if case == "corrupt pytest":
        data = fixture("junit/pytest-corrupt-xml.xml")
    if case == "no gate reads it":
        data = next((REPORTS / "sarif").glob("*.sarif*")).read_bytes()
    response = _post(client, _token(launch), data, **fields)
    assert response.status_code == code, response.content
    assert message in response.json()["detail"]
    _nothing_stored()


def test_a_form_without_the_report_file_is_refused_with_nothing_stored(client, launch):
    token = _token(launch)
    for body in ({"format": "junit"}, {"file": "a field, not a file"}):
        response = client.post(URL, body, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 400
        assert "send the report as the multipart field 'file'" in response.json()["detail"]
    _nothing_stored()


def test_an_oversized_upload_is_refused_before_it_is_read(client, launch, settings):
    settings.REPORT_MAX_BYTES = 1000
    response = _post(client, _token(launch), b"<testsuite>" + b" " * 200_000 + b"</testsuite>")
    assert response.status_code == 413
    assert "limit is 1,000" in response.json()["detail"]
    _nothing_stored()


def test_a_gzip_bomb_is_refused_without_inflating_it(client, launch, settings):
    settings.REPORT_MAX_BYTES = 1024 * 1024
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    assert len(bomb) < 100_000
    response = _post(client, _token(launch), bomb, name="bomb.xml.gz")
    assert response.status_code == 413
    assert "inflates to more than" in response.json()["detail"]
    _nothing_stored()


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, 401),
        ("Bearer lp_not-a-token", 401),
        ("Token abc", 401),
        ("Bearer ", 401),
    ],
)
def test_no_or_a_bad_token_is_refused(client, launch, header, code):
    headers = {"HTTP_AUTHORIZATION": header} if header else {}
    data = fixture("junit/maven-surefire-TEST-com.shape.CircleTest.xml")
    response = _post(client, None, data, headers=headers)
    assert response.status_code == code
    _nothing_stored()


def test_a_revoked_token_is_refused(client, launch):
    from django.utils import timezone

    token = _token(launch)
    ApiToken.objects.update(revoked_at=timezone.now())
    data = fixture("junit/maven-surefire-TEST-com.shape.CircleTest.xml")
    assert _post(client, token, data).status_code == 401


def test_a_token_without_the_ingest_scope_is_forbidden(client, launch):
    token = _token(launch, scopes=("read",))
    data = fixture("junit/maven-surefire-TEST-com.shape.CircleTest.xml")
    assert _post(client, token, data).status_code == 403
    _nothing_stored()


def test_a_token_of_another_launch_sees_nothing(client, launch, spec):
    spec["launch"]["slug"] = "other"
    other = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    token = _token(other)
    data = fixture("junit/maven-surefire-TEST-com.shape.CircleTest.xml")
    assert _post(client, token, data).status_code == 404
    _nothing_stored()


def test_tokens_are_stored_hashed_and_printed_once(launch, capsys):
    call_command("create_api_token", "--launch", "atlas", "--name", "github")
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(name="github")
    assert raw.startswith("lp_") and raw not in token.token_hash
    assert token.scopes == ["ingest"]
    assert AuditEvent.objects.filter(action="api_token.created").exists()


def test_a_session_post_without_a_token_cannot_ingest(client, launch, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    data = fixture("junit/maven-surefire-TEST-com.shape.CircleTest.xml")
    assert _post(client, None, data).status_code == 401
    assert not Gate.objects.filter(measurements__isnull=False).exists()


def test_an_admin_creates_a_token_in_the_admin_and_sees_it_once(client, launch, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    response = client.post(
        "/admin/api/apitoken/add/",
        {"launch": launch.pk, "name": "gitlab", "scopes": ["ingest"]},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    raw = shown[0].split("gitlab: ")[1].split(" ")[0]
    token = ApiToken.objects.get(name="gitlab")
    assert raw.startswith("lp_") and token.prefix == raw[:8]
    data = fixture("junit/maven-surefire-TEST-com.shape.CircleTest.xml")
    assert _post(client, raw, data).status_code == 201
    assert AuditEvent.objects.filter(action="api_token.created", actor_name="root").exists()
