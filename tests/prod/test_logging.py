"""JSON log lines carry the request id (or the Celery task id); one access line per request."""

import io
import json
import logging
import logging.config
import os
import subprocess
import sys

import pytest
from celery import Celery
from django.contrib.auth import get_user_model

from portal.logging import ContextFilter, QuietDemoSource, logging_config
from tests.celery_worker import Worker, broker_url, wait_for
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines():
    """Every record that reaches the root logger, formatted as production formats it."""
    config = logging_config(json=True, level="INFO")
    formatter = logging.config.DictConfigurator(config).configure_formatter(
        config["formatters"]["json"]
    )
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def access_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "portal.access"]


def test_one_json_access_line_per_request_with_the_callers_request_id(client, json_lines):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="ci-run-4711.step-3")
    assert response.headers["X-Request-ID"] == "ci-run-4711.step-3"
    [line] = access_lines(json_lines())
    assert line["request_id"] == "ci-run-4711.step-3"
    assert (line["method"], line["path"], line["status"], line["user_id"]) == (
        "GET", "/healthz", 200, None,
    )  # fmt: skip
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and "time" in line
    assert line["message"].startswith("GET /healthz 200 ")


@pytest.mark.parametrize(
    "given", ["", "short", "has space in it", "new\nline-injected", "x" * 129, "<script>abc"]
)
def test_a_malformed_request_id_is_replaced_by_a_new_one(client, json_lines, given):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=given)
    made = response.headers["X-Request-ID"]
    assert made != given and len(made) == 32 and int(made, 16) >= 0
    [line] = access_lines(json_lines())
    assert line["request_id"] == made


def test_each_request_gets_its_own_id(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first != second


def test_lines_logged_while_a_request_runs_carry_its_id(client, json_lines):
    # The /metrics view logs a refusal from inside the request.
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_REQUEST_ID="abcdef012345")
    assert response.status_code == 403
    lines = json_lines()
    refused = [line for line in lines if line["logger"] == "portal.metrics"]
    assert refused and refused[0]["request_id"] == "abcdef012345"
    assert access_lines(lines)[0]["status"] == 403
    # After the request, nothing carries its id any more.
    logging.getLogger("tests").warning("between requests")
    assert "request_id" not in json_lines()[-1]


def test_the_access_line_names_the_signed_in_user(client, json_lines, launch):
    user = get_user_model().objects.create_user("pat", "pat@example.com", "x", is_staff=True)
    client.force_login(user)
    assert client.get("/launches/").status_code == 200
    [line] = access_lines(json_lines())
    assert (line["path"], line["user_id"]) == ("/launches/", user.pk)


def test_secret_parts_of_a_url_are_not_logged(client, json_lines):
    client.get("/calendar/s3cr3t-feed-token/launches.ics")
    [line] = access_lines(json_lines())
    assert "s3cr3t" not in json.dumps(line)
    assert line["path"] == "/calendar/***/launches.ics"


def test_production_logs_json_and_development_text(tmp_path):
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('portal.check').warning('hello %s', 'there')"
    )
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "LOG_FORMAT"}}
    base.update(DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_VAR_DIR=str(tmp_path))
    production = {**base, "DEBUG": "0", "SECRET_KEY": "k" * 50}
    development = {**base, "DEBUG": "1"}
    outputs = [
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60, check=True).stderr.strip().splitlines()[-1]
        for env in (production, development, {**development, "LOG_FORMAT": "json"})
    ]  # fmt: skip
    line = json.loads(outputs[0])
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "portal.check",
                                                                "hello there")  # fmt: skip
    assert outputs[1].endswith("WARNING portal.check: hello there")
    assert json.loads(outputs[2])["message"] == "hello there"


def test_a_bad_log_format_refuses_to_start(tmp_path):
    env = {**os.environ, "DEBUG": "1", "LOG_FORMAT": "xml", "PORTAL_VAR_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "portal.settings"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0
    assert "LOG_FORMAT: 'xml' is not json or text" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_worker_logs_json_lines_with_the_task_id(tmp_path):
    log = tmp_path / "worker.log"
    worker = Worker(concurrency=1, env={"LOG_FORMAT": "json"}, log=log)
    try:
        result = Celery(broker=broker_url()).send_task("gates.tick")
        wait_for(lambda: b"succeeded" in log.read_bytes(), timeout=30, what="the task to finish")
    finally:
        worker.stop()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(line["message"].endswith(" ready.") for line in lines)
    done = [line for line in lines if "succeeded" in line["message"]]
    assert done and done[0]["task_id"] == result.id and done[0]["task_name"] == "gates.tick"


@pytest.mark.parametrize("logger", ["portal.access", "django.server"])
def test_the_demo_sources_own_queries_are_not_logged_unless_they_fail(logger):
    """`make run`'s terminal keeps its banner: the worker's demo metrics queries are quiet."""
    quiet = QuietDemoSource()

    def record(path: str, status: int, level=logging.INFO) -> logging.LogRecord:
        line = logging.LogRecord(logger, level, __file__, 1, "GET %s %s", (path, status), None)
        line.status = line.status_code = status
        return line

    assert not quiet.filter(record("/demo/prometheus/api/v1/query", 200))
    assert quiet.filter(record("/demo/prometheus/api/v1/query", 500, logging.ERROR))
    assert quiet.filter(record("/demo/prometheus/api/v1/query", 400))
    assert quiet.filter(record("/launches/", 200))
    other = logging.LogRecord(
        "apps.gates", logging.INFO, __file__, 1, "/demo/prometheus/", (), None
    )
    assert quiet.filter(other)
