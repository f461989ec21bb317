"""/metrics: request latency, what the workers did (read from the database), the queue, ingest
sizes; only for loopback and private callers or with the bearer token."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.utils import timezone
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from apps.api.services import create_api_token
from apps.gates.models import Gate, Measurement
from apps.gates.services import Reading, record_reading
from apps.signoffs.models import Role
from apps.signoffs.services import sign_off
from apps.signoffs.snapshot import take_snapshot
from portal import metrics
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db
COBERTURA = ROOT / "tests" / "fixtures" / "reports" / "cobertura" / "coveragepy-7.17.4-branch.xml"


def scrape(client, **extra) -> dict:
    """{(sample name, sorted labels): value} of one scrape from loopback."""
    response = client.get("/metrics", REMOTE_ADDR=extra.pop("REMOTE_ADDR", "127.0.0.1"), **extra)
    assert response.status_code == 200, response.content
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def value(samples: dict, name: str, default: float | None = None, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return samples[key] if default is None else samples.get(key, default)


def measure(key: str, *, value=None, error: str = "", slot=None, ms: int = 0, at=None):
    gate = Gate.objects.select_related("launch").get(key=key)
    reading = Reading(value=None if value is None else Decimal(value), error=error)
    return record_reading(gate=gate, reading=reading, actor="test", slot=slot, duration_ms=ms,
                          at=at)  # fmt: skip


class TestWhoMayRead:
    def test_loopback_and_private_addresses_read_it(self, client):
        for address in ("127.0.0.1", "::1", "10.1.2.3", "192.168.0.9", "::ffff:172.16.0.4"):
            assert client.get("/metrics", REMOTE_ADDR=address).status_code == 200, address

    def test_a_public_address_is_refused_without_the_token(self, client, settings):
        settings.METRICS_TOKEN = "m" * 40
        response = client.get("/metrics", REMOTE_ADDR="203.0.113.5")
        assert response.status_code == 403
        assert b"METRICS_TOKEN" in response.content
        wrong = client.get("/metrics", REMOTE_ADDR="203.0.113.5", HTTP_AUTHORIZATION="Bearer x")
        assert wrong.status_code == 403
        right = client.get("/metrics", REMOTE_ADDR="203.0.113.5",
                           HTTP_AUTHORIZATION=f"Bearer {'m' * 40}")  # fmt: skip
        assert right.status_code == 200
        assert b"launch_portal_gate_evaluations_total" in right.content

    def test_no_token_configured_means_no_bearer_gets_in(self, client, settings):
        settings.METRICS_TOKEN = ""
        response = client.get("/metrics", REMOTE_ADDR="203.0.113.5", HTTP_AUTHORIZATION="Bearer ")
        assert response.status_code == 403

    def test_a_request_through_an_untrusted_proxy_is_refused(self, client, settings):
        # A proxy on the same host makes every visitor look like 127.0.0.1.
        settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
        forwarded = client.get("/metrics", REMOTE_ADDR="127.0.0.1",
                               HTTP_X_FORWARDED_FOR="10.0.0.1")  # fmt: skip
        assert forwarded.status_code == 403

    def test_behind_our_own_proxy_the_forwarded_client_counts(self, client, settings):
        settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
        inside = client.get("/metrics", REMOTE_ADDR="127.0.0.1",
                            HTTP_X_FORWARDED_FOR="198.51.100.7, 10.0.0.8")  # fmt: skip
        outside = client.get("/metrics", REMOTE_ADDR="127.0.0.1",
                             HTTP_X_FORWARDED_FOR="10.0.0.8, 198.51.100.7")  # fmt: skip
        assert (inside.status_code, outside.status_code) == (200, 403)

    def test_prometheus_scrapes_plain_http_while_pages_redirect_to_https(self, client, settings):
        settings.SECURE_SSL_REDIRECT = True
        assert client.get("/launches/").status_code == 301
        assert client.get("/metrics", REMOTE_ADDR="10.0.0.7").status_code == 200

    def test_only_get(self, client):
        assert client.post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405


def test_request_latency_histograms_by_view(client):
    client.get("/healthz")
    samples = scrape(client)
    name = "django_http_requests_latency_seconds_by_view_method_bucket"
    assert value(samples, name, le="+Inf", method="GET", view="healthz") >= 1
    assert value(samples, name, le="0.05", method="GET", view="healthz") >= 1


def test_evaluations_by_status_and_source_with_source_errors_and_durations(client, launch):
    before = scrape(client)
    now = timezone.now()
    measure("availability", value="99.95", slot=now, ms=40)
    measure("availability", error="source unreachable: connection refused", slot=now + timedelta(1),
            ms=2_000)  # fmt: skip
    measure("coverage", value="50")
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    evaluations = "launch_portal_gate_evaluations_total"
    assert delta(evaluations, status="passing", source="prometheus") == 1
    assert delta(evaluations, status="unknown", source="prometheus") == 1
    assert delta(evaluations, status="failing", source="report") == 1
    assert delta(evaluations, status="passing", source="report") == 0
    assert delta("launch_portal_source_errors_total", source="prometheus") == 1
    assert delta("launch_portal_source_errors_total", source="report") == 0
    # Only polled evaluations (a claimed slot) have a duration: 40 ms and 2 s.
    duration = "launch_portal_gate_evaluation_duration_seconds"
    assert delta(f"{duration}_bucket", source="prometheus", le="0.05") == 1
    assert delta(f"{duration}_bucket", source="prometheus", le="2.5") == 2
    assert delta(f"{duration}_count", source="prometheus") == 2
    assert delta(f"{duration}_sum", source="prometheus") == pytest.approx(2.04)
    assert delta(f"{duration}_count", source="report") == 0
    # The first reading of each gate changes its status from pending.
    assert delta("launch_portal_gate_status_changes_total", to="passing") == 1
    assert delta("launch_portal_gate_status_changes_total", to="failing") == 1
    assert value(after, "launch_portal_gates", state="failing") == 1
    assert value(after, "launch_portal_gates", state="pending") == 1  # runbooks


def test_sign_offs_by_decision(client, launch, vera):
    before = scrape(client)
    role = Role.objects.select_related("launch").get(launch=launch, key="vp-engineering")
    sign_off(role=role, user=vera, decision="reject", comment="coverage too low", conditions=[],
             digest_seen=take_snapshot(role, timezone.now()).digest, previous_id=None)  # fmt: skip
    after = scrape(client)
    name = "launch_portal_signoffs_total"
    assert value(after, name, decision="reject") - value(before, name, decision="reject") == 1
    assert value(after, name, decision="approve") == value(before, name, decision="approve")


class TestCountingOnlyNewRows:
    def test_a_scrape_with_nothing_new_reads_one_row_per_table(
        self, client, launch, django_assert_max_num_queries
    ):
        measure("coverage", value="90", at=timezone.now() - timedelta(hours=1))  # settled
        scrape(client)
        # max(id) of measurements, of status changes; sign-offs; gates.
        with django_assert_max_num_queries(4):
            scrape(client)

    def test_a_scrape_reads_a_constant_number_of_queries_whatever_the_rows(
        self, client, launch, django_assert_max_num_queries
    ):
        gate = Gate.objects.get(key="coverage")
        old = timezone.now() - timedelta(hours=2)
        Measurement.objects.bulk_create(
            Measurement(gate=gate, status="passing", value=1, evaluated_at=old) for _ in range(500)
        )
        measure("coverage", value="90")
        # Measurements: max, first young, settled rows, young rows; status changes: the same
        # four; sign-offs; gates.
        with django_assert_max_num_queries(10):
            samples = scrape(client)
        name = "launch_portal_gate_evaluations_total"
        assert value(samples, name, status="passing", source="report") == 501

    def test_totals_match_a_fresh_count_after_the_rows_settle(self, client, launch):
        gate = Gate.objects.get(key="coverage")
        hours_ago = timezone.now() - timedelta(hours=1)
        for status in ("passing", "failing", "passing"):
            Measurement.objects.create(gate=gate, status=status, evaluated_at=hours_ago)
        scrape(client)  # settled: folded into the kept totals
        Measurement.objects.create(gate=gate, status="failing", evaluated_at=hours_ago)
        kept = scrape(client)
        metrics.MEASUREMENTS.reset()
        fresh = scrape(client)
        for status in ("passing", "failing"):
            key = ("launch_portal_gate_evaluations_total",
                   (("source", "report"), ("status", status)))  # fmt: skip
            assert kept[key] == fresh[key] == 2

    def test_a_young_row_with_a_lower_id_that_shows_up_later_is_counted(self, client, launch):
        # Ids are drawn before commit: a slow transaction's row appears below newer ones.
        gate = Gate.objects.get(key="coverage")
        now = timezone.now()
        newest = Measurement.objects.create(gate=gate, status="passing", evaluated_at=now)
        Measurement.objects.create(id=newest.pk + 100, gate=gate, status="passing",
                                   evaluated_at=now)  # fmt: skip
        scrape(client)
        Measurement.objects.create(id=newest.pk + 50, gate=gate, status="passing",
                                   evaluated_at=now)  # fmt: skip
        samples = scrape(client)
        name = "launch_portal_gate_evaluations_total"
        assert value(samples, name, status="passing", source="report") == 3


class TestQueueDepth:
    def test_tasks_waiting_in_redis(self, client, settings):
        if not settings.CELERY_BROKER_URL.startswith("redis://"):
            pytest.skip("CELERY_BROKER_URL is not Redis (make test sets it)")
        redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
        assert value(scrape(client), "launch_portal_queue_depth", queue="celery") == 0
        app = Celery(broker=settings.CELERY_BROKER_URL)
        for _ in range(3):
            app.send_task("gates.tick")
        samples = scrape(client)
        redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
        assert value(samples, "launch_portal_queue_depth", queue="celery") == 3
        assert value(samples, "launch_portal_metrics_source_up", source="broker") == 1

    def test_tasks_waiting_in_the_filesystem_broker(self, client, settings, tmp_path: Path):
        folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
        for folder in folders.values():
            folder.mkdir()
        settings.CELERY_BROKER_URL = "filesystem://"
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
            "data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]),
            "control_folder": str(folders["control"]),
        }  # fmt: skip
        with Connection(
            "filesystem://", transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
        ) as conn:
            queue = conn.SimpleQueue("celery")
            queue.put({"task": "gates.tick"})
            queue.put({"task": "gates.tick"})
            queue.close()  # fmt: skip
        assert value(scrape(client), "launch_portal_queue_depth", queue="celery") == 2

    def test_a_dead_broker_is_reported_and_the_rest_still_served(self, client, settings):
        settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
        samples = scrape(client)
        assert value(samples, "launch_portal_metrics_source_up", source="broker") == 0
        assert value(samples, "launch_portal_metrics_source_up", source="database") == 1
        assert not any(name == "launch_portal_queue_depth" for name, _ in samples)


def test_report_upload_sizes(client, launch):
    token = create_api_token(launch=launch, name="ci", scopes=["ingest"], actor="test")[1]
    before = scrape(client)
    body = COBERTURA.read_bytes()
    url = f"/api/v1/launches/{launch.slug}/reports/"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    accepted = client.post(url, {"file": COBERTURA.open("rb")}, **auth)
    refused = client.post(url, {"file": ("x.xml", b"<not-a-report/>")}, **auth)
    assert (accepted.status_code, refused.status_code) == (201, 400), accepted.content
    after = scrape(client)
    name = "launch_portal_report_ingest_bytes"

    def delta(sample, **labels):  # a labelled histogram has no samples until it observes one
        return value(after, f"{name}_{sample}", **labels) - value(
            before, f"{name}_{sample}", default=0, **labels
        )

    assert delta("count", outcome="accepted") == 1
    assert delta("count", outcome="refused") == 1
    assert delta("sum", outcome="accepted") > len(body)  # the multipart body around the file
    assert delta("bucket", outcome="accepted", le="1024.0") == 0
