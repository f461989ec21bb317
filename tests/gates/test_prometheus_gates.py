"""Gates on a real Prometheus: they follow the exported value, and never pass once it is gone."""

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command

from apps.gates.models import Gate, Measurement
from apps.gates.services import evaluate_gate
from apps.specs.services import import_launch_spec
from tests.gates.prometheus_server import wait_until
from tests.helpers import ROOT, report_only, to_yaml

pytestmark = pytest.mark.django_db


@pytest.fixture
def launch(spec):
    spec["sources"] = []
    spec["gates"][0] = {
        "key": "availability", "name": "Availability", "category": "slo",
        "dimension": "technical", "blocking": True, "source": "prometheus",
        "query": 'availability_percent{service="api"}', "comparator": ">=", "threshold": 99.9,
        "unit": "%",
    }  # fmt: skip
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


def _statuses() -> dict:
    out = io.StringIO()
    call_command("evaluate_gates", "--launch", "atlas", "--json", stdout=out)
    return {row["key"]: (row["status"], row["value"], row["reason"]) for row in json.loads(
        out.getvalue())}  # fmt: skip


def _wait_for_sample(prometheus, value: str) -> None:
    from apps.gates.sources import SourceError
    from apps.gates.sources.prometheus import read

    def scraped() -> bool:
        try:
            found = read(url=prometheus.url, query='availability_percent{service="api"}', timeout=2)
        except SourceError:
            return False
        return str(found.value) == value

    wait_until(scraped, timeout=30, what=f"Prometheus to scrape {value}")


def test_a_gate_follows_the_exported_value_and_is_unknown_once_prometheus_stops(
    launch, exporter, real_prometheus, settings
):
    settings.PROMETHEUS_URL = real_prometheus.url
    exporter.set("availability_percent", 99.95, service="api")
    _wait_for_sample(real_prometheus, "99.95")
    assert _statuses()["availability"][:2] == ("passing", "99.95")

    exporter.set("availability_percent", 99.2, service="api")
    _wait_for_sample(real_prometheus, "99.2")
    status, value, reason = _statuses()["availability"]
    assert (status, value, reason) == ("failing", "99.2", "99.2 is not >= 99.9")

    real_prometheus.stop()
    status, value, reason = _statuses()["availability"]
    assert status == "unknown"
    assert "connection refused" in reason
    assert Measurement.objects.filter(gate__key="availability").count() == 3


def test_without_prometheus_configured_a_gate_reads_unknown(launch, settings):
    settings.PROMETHEUS_URL = ""
    gate = Gate.objects.get(key="availability")
    m = evaluate_gate(gate=gate)
    assert (m.status, m.reason) == ("unknown", "source unreachable: no Prometheus configured "
                                                "(set PROMETHEUS_URL)")  # fmt: skip


class _ReportServer:
    """A CI artifact server on loopback: serves one report with an ETag, counts 304s."""

    def __init__(self, body: bytes):
        self.body, self.not_modified = body, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.headers.get("If-None-Match") == '"v1"':
                    server.not_modified += 1
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", '"v1"')
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.port = self.httpd.server_address[1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_pull_gate_polls_its_url_with_etag(spec, settings):
    report = ROOT / "tests/fixtures/reports/cobertura/coveragepy-4.0.3-test-python.xml"
    server = _ReportServer(report.read_bytes())
    try:
        settings.SOURCE_ALLOWED_HOSTS = [f"127.0.0.1:{server.port}"]
        report_only(spec)
        spec["gates"][1]["url"] = f"http://127.0.0.1:{server.port}/latest/coverage.xml"
        import_launch_spec(raw=to_yaml(spec), actor="test")
        gate = Gate.objects.get(key="coverage")
        first = evaluate_gate(gate=gate)
        gate.refresh_from_db()
        second = evaluate_gate(gate=gate)
    finally:
        server.close()
    assert (first.status, first.value) == ("passing", 90)
    assert (second.status, second.value, second.evidence_id) == ("passing", 90, first.evidence_id)
    assert server.not_modified == 1
    assert gate.pull_etag == '"v1"'


def test_a_pull_url_that_is_no_longer_allowed_is_refused_when_fetched(spec, settings):
    spec["gates"][1]["url"] = "http://127.0.0.1:19090/coverage.xml"
    import_launch_spec(raw=to_yaml(spec), actor="test")
    settings.SOURCE_ALLOWED_HOSTS = []
    m = evaluate_gate(gate=Gate.objects.get(key="coverage"))
    assert m.status == "unknown"
    assert "not on the allowlist" in m.reason


def test_a_named_source_sends_its_token_from_the_environment(
    spec, fake_prometheus, settings, monkeypatch
):
    host = fake_prometheus.url.split("//", 1)[1].rstrip("/")
    settings.SOURCE_ALLOWED_HOSTS = [host]
    monkeypatch.setenv("ATLAS_PROM_TOKEN", "s3cret")
    spec["sources"] = [{"key": "prod", "url": fake_prometheus.url,
                        "bearer_token_env": "ATLAS_PROM_TOKEN"}]  # fmt: skip
    import_launch_spec(raw=to_yaml(spec), actor="test")
    fake_prometheus.answer_success("vector", [{"metric": {}, "value": [1, "99.99"]}])
    m = evaluate_gate(gate=Gate.objects.get(key="availability"))
    assert m.status == "passing"
    assert fake_prometheus.requests[0].headers["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in json.dumps(m.source_detail)
