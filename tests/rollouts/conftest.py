"""Launch day on the Atlas launch: a two-stage rollout with one rollback trigger, T-0 half an hour
away, read from a real Prometheus scraping an exporter whose values the test sets.

vera holds VP Engineering, Atlas's decision role: she records the Go (or the No-Go). pat is the
program manager (told of a rollback), ada the launch admin (she may start a run), nora is
assigned to nothing. Flagger calls the hooks with a token carrying the `rollout` scope.
"""

import copy
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.api.services import create_api_token
from apps.gates.sources import SourceError
from apps.gates.sources.prometheus import read
from apps.signoffs.models import Assignment, Duty, Role
from apps.signoffs.services import record_decision
from apps.specs.services import import_launch_spec
from tests.gates.conftest import exporter, real_prometheus  # noqa: F401 - the gates' servers
from tests.gates.prometheus_server import wait_until
from tests.helpers import report_only, to_yaml
from tests.signoffs.conftest import make_user

ROLLOUT = {
    "stages": [
        {
            "name": "canary-5", "traffic": 5, "duration": "1m",
            "criteria": [
                {"name": "error-rate", "query": 'max_over_time(error_rate{svc="api"}[{{window}}])',
                 "comparator": "<", "threshold": 1, "unit": "%"},
                {"name": "latency-p99", "query": 'latency_p99{svc="api"}', "comparator": "<",
                 "threshold": 100, "unit": "ms"},
            ],
        },
        {
            "name": "full", "traffic": 100,
            "criteria": [{"name": "smoke", "query": 'smoke_up{svc="api"}', "comparator": "==",
                          "threshold": 1, "unit": "up"}],
        },
    ],
    "rollback_triggers": [
        {"name": "error-rate-above-5", "query": 'error_rate{svc="api"}', "comparator": ">",
         "threshold": 5, "unit": "%"},
    ],
    "analysis": {"interval": "10s", "count": 2, "failure_limit": 2, "inconclusive_limit": 2},
}  # fmt: skip

# Flagger's body as it marshals it (CanaryWebhookPayload): no metadata key when the webhook has
# none; the checksum names the canary revision.
CHECKSUM = "6d8f4b9c5"


def flagger(phase: str = "Progressing", checksum: str = CHECKSUM, **metadata) -> str:
    body = {"name": "atlas-api", "namespace": "atlas", "phase": phase, "checksum": checksum}
    if metadata:
        body["metadata"] = metadata
    return json.dumps(body, separators=(",", ":"))


def hook(client, name: str, *, token: str | None, body: str | None = None, slug: str = "atlas"):
    """POST one of Flagger's webhooks as Flagger does (JSON, Content-Type and nothing else)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(f"/api/v1/launches/{slug}/rollout/hooks/{name}/", data=body or flagger(),
                       content_type="application/json", headers=headers)  # fmt: skip


@pytest.fixture
def launch_spec(spec) -> dict:
    report_only(spec)
    t0 = timezone.now() + timedelta(minutes=30)
    spec["launch"]["target_t0"] = t0.isoformat(timespec="seconds")
    spec["rollout"] = copy.deepcopy(ROLLOUT)
    return spec


@pytest.fixture
def launch(launch_spec):
    return import_launch_spec(raw=to_yaml(launch_spec), actor="test").launch


@pytest.fixture
def people(launch):
    people = {name: make_user(name) for name in ("vera", "pat", "ada", "nora")}
    role = Role.objects.get(launch=launch, key="vp-engineering")
    Assignment.objects.create(launch=launch, user=people["vera"], duty=Duty.SIGNER, role=role)
    Assignment.objects.create(launch=launch, user=people["pat"], duty=Duty.PROGRAM_MANAGER)
    Assignment.objects.create(launch=launch, user=people["ada"], duty=Duty.ADMIN)
    return people


def decide(launch, people, decision: str):
    """vera records the decision; a Go is an override (the gates are not all passing)."""
    return record_decision(
        launch=launch, user=people["vera"], decision=decision, attendees="pat, vera", notes="",
        override=decision == "go", override_reason="launch day rehearsal",
    )  # fmt: skip


@pytest.fixture
def go(launch, people):
    return decide(launch, people, "go")


@pytest.fixture
def token(launch) -> str:
    return create_api_token(launch=launch, name="flagger", scopes=["rollout"], actor="test")[1]


@pytest.fixture
def healthy(exporter, real_prometheus, settings):  # noqa: F811 - the fixtures imported above
    """The portal reads the real Prometheus, which scrapes healthy values."""
    settings.PROMETHEUS_URL = real_prometheus.url
    exporter.set("error_rate", 0.2, svc="api")
    exporter.set("latency_p99", 42, svc="api")
    exporter.set("smoke_up", 1, svc="api")
    scraped(real_prometheus, 'smoke_up{svc="api"}', "1")
    return exporter


def scraped(prometheus, query: str, value: str) -> None:
    """Wait until Prometheus answers `query` with `value`."""

    def answered() -> bool:
        try:
            return str(read(url=prometheus.url, query=query, timeout=2).value) == value
        except SourceError:
            return False

    wait_until(answered, timeout=30, what=f"Prometheus to answer {query} = {value}")
