"""The Prometheus source: a value or a clear reason, in one HTTP attempt, keeping no credential.

Failure modes (RELIABILITY case 6) are played by a fake Prometheus on loopback; the real answers
come from Debian's Prometheus scraping a tiny exporter. No database.
"""

from __future__ import annotations

import base64
import json
import time
from decimal import Decimal

import pytest

from apps.gates.sources import Reading, SourceError
from apps.gates.sources.prometheus import MAX_BODY_BYTES, read
from tests.gates.prometheus_server import (
    Exporter,
    FakePrometheus,
    RealPrometheus,
    closed_port,
    counting_connects,
    wait_until,
)

TOKEN = "tok-8c1f2e-bearer-secret"
PASSWORD = "pw-71d0-basic-secret"
ONE_SERIES = [{"metric": {"__name__": "up", "job": "api"}, "value": [1767225600.0, "0.9995"]}]


def failure(url: str, query: str = "up", **options: object) -> SourceError:
    """The SourceError that a read raises (failing the test if it gives a value)."""
    with pytest.raises(SourceError) as caught:
        read(url=url, query=query, **options)
    return caught.value


def series(value: str, **labels: str) -> dict:
    return {"metric": {"__name__": "up", **labels}, "value": [1767225600.0, value]}


# The value: one series, or a scalar.


def test_one_series_gives_its_value_with_the_evidence(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer_success("vector", ONE_SERIES)

    reading = read(url=fake_prometheus.url, query='avg(up{job="api"})', timeout=2.0)

    assert isinstance(reading, Reading)
    assert reading.value == Decimal("0.9995")
    assert reading.detail["url"] == fake_prometheus.url
    assert reading.detail["query"] == 'avg(up{job="api"})'
    assert reading.detail["http_status"] == 200
    assert '"0.9995"' in reading.detail["response"]
    assert isinstance(reading.detail["elapsed_ms"], int)
    [request] = fake_prometheus.requests
    assert request.path == "/api/v1/query"
    assert request.params == {"query": ['avg(up{job="api"})'], "timeout": ["2.0"]}


def test_a_scalar_gives_its_value(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer_success("scalar", [1767225600.0, "42.5"])

    assert read(url=fake_prometheus.url, query="scalar(up)").value == Decimal("42.5")
    assert fake_prometheus.request_count == 1


def test_warnings_are_no_value(fake_prometheus: FakePrometheus) -> None:
    # RELIABILITY case 22: a warning says the data is partial (a store or a shard missing).
    warnings = [f"remote store {n} unreachable: partial data" for n in range(1, 6)]
    fake_prometheus.answer_success("vector", ONE_SERIES, warnings=warnings)

    error = failure(fake_prometheus.url, query="avg(up)")

    assert error.reason == "Prometheus warnings: " + "; ".join(warnings[:3])
    assert error.detail["warnings"] == warnings
    assert '"0.9995"' in error.detail["response"]
    assert fake_prometheus.request_count == 1


def test_infos_are_kept_and_the_value_stands(fake_prometheus: FakePrometheus) -> None:
    info = 'PromQL info: metric might not be a counter, name does not end in _total: "up"'
    fake_prometheus.answer_success("vector", ONE_SERIES, infos=[info])

    reading = read(url=fake_prometheus.url, query="rate(up[5m])")

    assert reading.value == Decimal("0.9995")
    assert reading.detail["infos"] == [info]
    assert "warnings" not in reading.detail
    assert fake_prometheus.request_count == 1


# No value: each failure mode gives its reason, after exactly one HTTP request.


def test_a_refused_connection_is_one_attempt() -> None:
    with closed_port() as port, counting_connects(port) as attempts:
        error = failure(f"http://127.0.0.1:{port}", timeout=2.0)

    assert error.reason == "connection refused"
    assert attempts == [1]
    assert error.detail["url"] == f"http://127.0.0.1:{port}"


def test_503_is_not_retried(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(
        "Service Unavailable\n", status=503, headers={"Content-Type": "text/plain"}
    )

    error = failure(fake_prometheus.url)

    assert error.reason == "HTTP 503 Service Unavailable"
    assert error.detail["http_status"] == 503
    assert fake_prometheus.request_count == 1


@pytest.mark.parametrize(
    ("status", "error_type", "message"),
    [
        (
            400,
            "bad_data",
            'invalid parameter "query": 1:12: parse error: unclosed left parenthesis',
        ),
        (422, "execution", "query processing would load too many samples into memory"),
    ],
)
def test_an_error_answer_gives_prometheus_own_message(
    fake_prometheus: FakePrometheus, status: int, error_type: str, message: str
) -> None:
    fake_prometheus.answer_error(error_type, message, status=status)

    error = failure(fake_prometheus.url, query="rate(up[5m]")

    assert error.reason == f"{error_type}: {message}"
    assert error.detail["http_status"] == status
    assert fake_prometheus.request_count == 1


def test_an_error_status_in_a_200_answer_is_an_error(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer_error("timeout", "query timed out in query execution", status=200)

    error = failure(fake_prometheus.url)

    assert error.reason == "timeout: query timed out in query execution"
    assert fake_prometheus.request_count == 1


def test_an_unknown_status_is_an_error(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer({"status": "partial", "data": {"resultType": "vector", "result": []}})

    assert failure(fake_prometheus.url).reason == "unknown status 'partial' in the response"
    assert fake_prometheus.request_count == 1


def test_a_server_slower_than_the_timeout_is_left_in_time(
    fake_prometheus: FakePrometheus,
) -> None:
    body = {"status": "success", "data": {"resultType": "vector", "result": ONE_SERIES}}
    fake_prometheus.answer(body, delay=5.0)

    started = time.monotonic()
    error = failure(fake_prometheus.url, timeout=1.0)
    elapsed = time.monotonic() - started

    assert error.reason == "timed out after 1.0 s"
    assert 0.9 < elapsed < 1.5
    assert fake_prometheus.request_count == 1


def test_a_body_trickling_in_is_left_in_time(fake_prometheus: FakePrometheus) -> None:
    # Each byte comes well within the timeout, the whole body never does: a per-read timeout
    # alone would wait for ever.
    body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})
    fake_prometheus.answer(body, trickle=0.2)

    started = time.monotonic()
    error = failure(fake_prometheus.url, timeout=1.0)
    elapsed = time.monotonic() - started

    assert error.reason == "timed out after 1.0 s (the response was still arriving)"
    assert elapsed < 1.5
    assert fake_prometheus.request_count == 1


@pytest.mark.parametrize("value", ["NaN", "+Inf", "-Inf"])
def test_a_value_that_is_not_finite_is_no_value(
    fake_prometheus: FakePrometheus, value: str
) -> None:
    fake_prometheus.answer_success("vector", [series(value)])

    assert failure(fake_prometheus.url).reason == f"value is {value}"
    assert fake_prometheus.request_count == 1


def test_a_value_that_is_not_a_number_is_no_value(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer_success("vector", [series("ninety")])

    assert failure(fake_prometheus.url).reason == "value 'ninety' is not a number"


def test_a_redirect_to_another_host_is_not_followed(fake_prometheus: FakePrometheus) -> None:
    with FakePrometheus() as elsewhere:
        elsewhere.answer_success("vector", ONE_SERIES)
        target = f"http://localhost:{elsewhere.port}/api/v1/query?query=up"
        fake_prometheus.answer(status=302, location=target)

        error = failure(fake_prometheus.url, bearer_token=TOKEN)

        assert elsewhere.request_count == 0
    assert error.reason == f"redirected to localhost:{elsewhere.port} (HTTP 302): not followed"
    assert error.detail["location"] == target
    assert fake_prometheus.request_count == 1


def test_a_redirect_on_the_same_host_is_not_followed(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(status=301, location="/prometheus/api/v1/query?query=up")

    error = failure(fake_prometheus.url)

    host = f"127.0.0.1:{fake_prometheus.port}"
    assert error.reason == f"redirected to {host} (HTTP 301): not followed"
    assert fake_prometheus.request_count == 1


def test_an_empty_vector_is_no_value(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer_success("vector", [])

    assert failure(fake_prometheus.url).reason == "empty result: the query matched no series"
    assert fake_prometheus.request_count == 1


def test_two_series_are_no_value(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer_success("vector", [series("1", job="api"), series("0", job="web")])

    assert failure(fake_prometheus.url).reason == "2 series: the query must return one"
    assert fake_prometheus.request_count == 1


@pytest.mark.parametrize(
    ("result_type", "result"),
    [
        ("matrix", [{"metric": {}, "values": [[1767225600.0, "1"], [1767225615.0, "1"]]}]),
        ("string", [1767225600.0, "1"]),
    ],
)
def test_a_matrix_or_string_result_is_no_value(
    fake_prometheus: FakePrometheus, result_type: str, result: object
) -> None:
    fake_prometheus.answer_success(result_type, result)

    error = failure(fake_prometheus.url)

    assert error.reason == f"{result_type} result: the query must return one sample or a scalar"
    assert fake_prometheus.request_count == 1


def test_a_body_that_is_not_json_is_no_value(fake_prometheus: FakePrometheus) -> None:
    page = "<html><body>Sign in</body></html>"
    fake_prometheus.answer(page, headers={"Content-Type": "text/html"})

    error = failure(fake_prometheus.url)

    assert error.reason == "the response is not a JSON object (Content-Type: text/html)"
    assert error.detail["response"] == page
    assert fake_prometheus.request_count == 1


def test_a_huge_body_is_not_read_whole(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(b"x" * (MAX_BODY_BYTES + 1))

    error = failure(fake_prometheus.url)

    limit = MAX_BODY_BYTES
    assert error.reason == f"body is {limit + 1} bytes, over the limit of {limit} bytes"
    assert fake_prometheus.request_count == 1


def test_the_evidence_keeps_at_most_4_kb_of_the_response(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer_success("vector", [series("1", blob="é" * 5000)])

    reading = read(url=fake_prometheus.url, query="up")

    assert len(reading.detail["response"].encode()) <= 4096
    assert reading.detail["response_bytes"] > 10000


NOT_HTTP = "the URL must start with http:// or https:// and name a host"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://127.0.0.1/", NOT_HTTP),
        ("127.0.0.1:9090", NOT_HTTP),
        ("http:///api", NOT_HTTP),
        ("", NOT_HTTP),
        ("http://[::1", "invalid URL"),
    ],
)
def test_a_bad_url_is_a_source_error(url: str, reason: str) -> None:
    assert failure(url).reason == reason


# Credentials: sent, and never kept.


def test_a_bearer_token_is_sent_and_not_kept(fake_prometheus: FakePrometheus) -> None:
    # This server echoes the header back, as a misconfigured proxy might.
    fake_prometheus.answer_success("vector", ONE_SERIES, infos=[f"saw Bearer {TOKEN}"])

    reading = read(url=fake_prometheus.url, query="up", bearer_token=TOKEN)

    [request] = fake_prometheus.requests
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert reading.detail["infos"] == ["saw Bearer [redacted]"]
    assert TOKEN not in json.dumps(reading.detail)


def test_a_secret_in_a_warning_is_not_kept(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer_success("vector", ONE_SERIES, warnings=[f"saw Bearer {TOKEN}"])

    error = failure(fake_prometheus.url, bearer_token=TOKEN)

    assert error.reason == "Prometheus warnings: saw Bearer [redacted]"
    assert TOKEN not in json.dumps(error.detail)


def test_basic_auth_is_sent_and_not_kept(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer_success("vector", ONE_SERIES)

    read(url=fake_prometheus.url, query="up", basic_auth=("grafana", PASSWORD))

    expected = base64.b64encode(f"grafana:{PASSWORD}".encode()).decode()
    assert fake_prometheus.requests[0].headers["Authorization"] == f"Basic {expected}"


def test_credentials_in_the_url_are_used_and_not_kept(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer_error("bad_data", f"echo: {PASSWORD}", status=400)
    url = f"http://grafana:{PASSWORD}@127.0.0.1:{fake_prometheus.port}"

    error = failure(url)

    assert fake_prometheus.requests[0].headers["Authorization"].startswith("Basic ")
    assert error.reason == "bad_data: echo: [redacted]"
    assert error.detail["url"] == fake_prometheus.url
    assert PASSWORD not in json.dumps(error.detail)


def test_credentials_are_not_kept_when_the_read_fails(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(f"denied {TOKEN} {PASSWORD}", status=503)

    with_token = failure(fake_prometheus.url, bearer_token=TOKEN)
    with_password = failure(fake_prometheus.url, basic_auth=("grafana", PASSWORD))

    assert with_token.detail["response"] == f"denied [redacted] {PASSWORD}"
    assert TOKEN not in json.dumps(with_token.detail) + with_token.reason
    assert PASSWORD not in json.dumps(with_password.detail) + with_password.reason


# Against Debian's Prometheus, scraping the exporter every second.


def value_or_none(prometheus: RealPrometheus, query: str) -> Decimal | None:
    try:
        return read(url=prometheus.url, query=query, timeout=2.0).value
    except SourceError:
        return None


def test_the_value_follows_the_exported_gauge(
    real_prometheus: RealPrometheus, exporter: Exporter
) -> None:
    for value in ("0.25", "0.9995"):
        exporter.set("launch_portal_availability", value, job_name="api")

        wait_until(
            lambda v=value: (
                value_or_none(real_prometheus, "launch_portal_availability") == Decimal(v)
            ),
            timeout=15,
            what=f"Prometheus to scrape {value}",
        )


def test_real_answers_that_are_no_value(real_prometheus: RealPrometheus) -> None:
    syntax = failure(real_prometheus.url, query="rate(up[5m]")
    missing = failure(real_prometheus.url, query="launch_portal_never_exported")
    infinite = failure(real_prometheus.url, query="1/0")

    assert syntax.reason.startswith('bad_data: invalid parameter "query": ')
    assert "parse error" in syntax.reason
    assert syntax.detail["http_status"] == 400
    assert missing.reason == "empty result: the query matched no series"
    assert infinite.reason == "value is +Inf"
    assert read(url=real_prometheus.url, query="scalar(vector(3)) * 2").value == Decimal("6")


def test_a_stopped_prometheus_refuses_the_connection(real_prometheus: RealPrometheus) -> None:
    assert read(url=real_prometheus.url, query="vector(1)").value == Decimal("1")

    real_prometheus.stop()

    assert failure(real_prometheus.url, query="vector(1)").reason == "connection refused"
