# ruff: noqa: F811 - the rollouts' fixtures, imported, are used as arguments
"""Closing the Atlas launch (8.6): ada, the launch admin, closes it once post-launch validation is
done and pat (the program manager) attested user acceptance and lessons learned. Closing issues a
signed metrics summary report that /verify/ knows, and the launch becomes read-only: every page
says so, every write door answers 409 and changes nothing, the beat leaves it alone. nora, who is
assigned to nothing, learns nothing of it."""

import hashlib
import subprocess
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from apps.api.middleware import ALLOWED_WHEN_CLOSED
from apps.api.models import ApiToken
from apps.api.services import create_api_token, revoke_api_token
from apps.audit.models import AuditEvent
from apps.gates import tasks as gate_tasks
from apps.gates.models import Gate, Measurement
from apps.gates.services import attest, ingest_report
from apps.launches.models import Activity, Launch, LaunchClosed
from apps.reports.closure import close_launch
from apps.reports.packets.jobs import request_packet
from apps.reports.packets.summary_report import open_report
from apps.rollouts import tasks as rollout_tasks
from apps.rollouts.closure import ClosureRefused
from apps.rollouts.postlaunch import analyse_validation, start_validation
from apps.rollouts.services import analyse_run, start_run
from apps.signoffs.services import record_decision
from apps.signoffs.waivers import request_waiver
from apps.specs.services import import_launch_spec, update_activity
from apps.webhooks.services import create_subscription
from tests.gates.conftest import exporter, real_prometheus  # noqa: F401 - the gates' servers
from tests.helpers import to_yaml
from tests.reports.pdftext import pdf_text
from tests.rollouts.conftest import (  # noqa: F401 - Atlas on launch day, shared
    decide,
    go,
    healthy,
    launch,
    people,
    token,
)
from tests.rollouts.conftest import launch_spec as rollout_spec  # noqa: F401
from tests.signoffs.conftest import make_user

pytestmark = pytest.mark.django_db
SECONDS = timedelta(seconds=1)
POST_LAUNCH_GATES = [
    {"key": "user-acceptance-verified", "name": "User acceptance verified"},
    {"key": "lessons-learned-captured", "name": "Lessons learned captured"},
]
PDFSIG_VALID = "Signature Validation: Signature is Valid."


@pytest.fixture
def launch_spec(rollout_spec):
    rollout_spec["rollout"]["post_launch"] = {
        "window": "2m", "baseline_offset": "1h",
        "checks": [{"name": "error-rate",
                    "query": 'max_over_time(error_rate{svc="api"}[{{window}}])',
                    "comparator": "<", "threshold": 1, "unit": "%"}],
    }  # fmt: skip
    for gate in POST_LAUNCH_GATES:
        rollout_spec["gates"].append({
            **gate, "category": "post-launch", "dimension": "business", "blocking": False,
            "source": "manual", "comparator": "==", "threshold": 1, "unit": "attested",
            "max_age": "30d",
        })  # fmt: skip
    return rollout_spec


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _attest_post_launch(launch, pat):
    for key, comment in (
        ("user-acceptance-verified", "Beta users signed the UAT form"),
        ("lessons-learned-captured", "Retro held: canary alerts were noisy"),
    ):
        attest(gate=Gate.objects.get(launch=launch, key=key), user=pat, comment=comment)


def _inconclusive(launch, people, settings):
    """A validation that read nothing (no Prometheus): inconclusive when its window ends."""
    settings.PROMETHEUS_URL = ""
    validation = start_validation(launch=launch, actor=people["ada"])
    analyse_validation(validation_id=validation.pk, slot=validation.ends_at)
    validation.refresh_from_db()
    assert validation.status == "inconclusive"
    return validation


@pytest.fixture
def closed(launch, people, settings):
    """Atlas closed by ada after an inconclusive validation, with her reason."""
    _inconclusive(launch, people, settings)
    _attest_post_launch(launch, people["pat"])
    return close_launch(launch=launch, actor=people["ada"], reason="Prometheus was down all day")


def _counts() -> dict[str, int]:
    """Rows of every table the portal writes (sessions and the cache excepted)."""
    skip = {"sessions.session", "django_celery_beat"}
    return {
        model._meta.label_lower: model.objects.count()
        for model in django_apps.get_models()
        if model._meta.label_lower not in skip and model._meta.managed
    }


# --- closing --------------------------------------------------------------------------------------


def test_ada_closes_after_a_passed_validation_and_the_report_is_signed_and_known_to_verify(
    launch,
    people,
    go,
    healthy,
    real_prometheus,
    client,
    tmp_path,
):
    now = timezone.now()
    run = start_run(launch=launch, actor=people["ada"], now=now)
    for seconds in (10, 20, 60, 70, 80):
        analyse_run(run_id=run.pk, now=now + seconds * SECONDS)
    validation = launch.validations.get()
    analyse_validation(validation_id=validation.pk, slot=validation.ends_at)
    validation.refresh_from_db()
    assert validation.status == "passed"
    _attest_post_launch(launch, people["pat"])

    closed = close_launch(launch=launch, actor=people["ada"])
    assert (closed.status, closed.closed_by_name, closed.closure_reason) == ("closed", "Ada", "")
    event = AuditEvent.objects.get(action="launch.closed")
    assert (event.actor_name, event.data["post_launch"]) == ("Ada", "passed")
    assert event.data["report"]["kind"] == "metrics summary report"

    with open_report(closed) as stored:
        pdf = stored.read()
    assert (
        hashlib.sha256(pdf).hexdigest() == closed.summary_sha256 == event.data["report"]["sha256"]
    )
    (tmp_path / "summary.pdf").write_bytes(pdf)
    report = subprocess.run(["pdfsig", str(tmp_path / "summary.pdf")], capture_output=True,
                            text=True, timeout=60).stdout  # fmt: skip
    assert PDFSIG_VALID in report and "Total document signed" in report, report
    text = pdf_text(pdf)
    for expected in ("METRICS SUMMARY REPORT", "SLOs over the launch window", "Availability",
                     "canary-5", "full", "error-rate-above-5", "Post-launch validation",
                     "every check passing at the end of the window (1)", "PASSED",
                     "Retro held: canary alerts were noisy", "Go/No-Go decisions",
                     "by Ada"):  # fmt: skip
        assert expected in text, expected

    page = client.post("/verify/", {"sha256": closed.summary_sha256}).content.decode()
    assert "the metrics summary report of Atlas 2.0.0 (atlas)" in page
    with (tmp_path / "summary.pdf").open("rb") as upload:
        page = client.post("/verify/", {"file": upload}).content.decode()
    assert "Signature: <strong>signed by this portal, valid</strong>" in page
    assert "metrics summary report" in page

    client.force_login(people["pat"])
    download = client.get(f"/launches/{launch.slug}/summary.pdf")
    assert download.status_code == 200 and b"".join(download.streaming_content) == pdf


def test_closing_waits_for_the_validation_a_reason_and_the_attestations(launch, people, settings):
    with pytest.raises(ClosureRefused, match="post-launch validation is not started") as refused:
        close_launch(launch=launch, actor=people["ada"], reason="whatever")
    assert refused.value.status == 409
    validation = start_validation(launch=launch, actor=people["ada"])
    with pytest.raises(ClosureRefused, match="post-launch validation is running"):
        close_launch(launch=launch, actor=people["ada"], reason="whatever")
    settings.PROMETHEUS_URL = ""
    analyse_validation(validation_id=validation.pk, slot=validation.ends_at)

    with pytest.raises(ClosureRefused, match="inconclusive: say why") as refused:
        close_launch(launch=launch, actor=people["ada"], reason="   ")
    assert refused.value.status == 400
    with pytest.raises(ClosureRefused, match="attest first: User acceptance verified is pending"):
        close_launch(launch=launch, actor=people["ada"], reason="Prometheus was down")
    _attest_post_launch(launch, people["pat"])
    with pytest.raises(ClosureRefused, match="only a launch admin") as refused:
        close_launch(launch=launch, actor=people["pat"], reason="Prometheus was down")
    assert refused.value.status == 403
    launch.refresh_from_db()
    assert (launch.closed_at, launch.summary_sha256) == (None, "")
    assert not AuditEvent.objects.filter(action="launch.closed").exists()

    closed = close_launch(launch=launch, actor=people["ada"], reason="Prometheus was down")
    event = AuditEvent.objects.get(action="launch.closed")
    assert (event.data["reason"], event.data["post_launch"]) == (
        "Prometheus was down",
        "inconclusive",
    )
    assert closed.closure_reason == "Prometheus was down"
    with pytest.raises(LaunchClosed, match="This launch is closed"):
        close_launch(launch=launch, actor=people["ada"], reason="again")
    assert AuditEvent.objects.filter(action="launch.closed").count() == 1


# --- read-only ------------------------------------------------------------------------------------


def _patterns(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    """(route, view name) of every URL pattern, nested resolvers walked."""
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = entry.namespace or namespace
            yield from _patterns(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), f"{namespace}:{entry.name}"


def _write_doors(launch) -> list[tuple[str, str]]:
    """Every URL of a launch's pages and API (the slug in it), its other parts filled in."""
    gate = launch.gates.first()
    fill = {"<slug:slug>": launch.slug, "<slug:key>": gate.key, "<int:pk>": "1",
            "<slug:role>": "vp-engineering", "<str:sha256>": "0" * 64,
            "<slug:action>": "approve"}  # fmt: skip
    doors = []
    for route, name in _patterns(get_resolver()):
        if "<slug:slug>" not in route or name.split(":")[0] not in ("launches", "api"):
            continue
        url = "/" + route
        for part, value in fill.items():
            url = url.replace(part, value)
        assert "<" not in url, f"fill in {url} in the test"
        doors.append((url, name))
    return doors


def test_every_write_door_of_a_closed_launch_answers_409_and_changes_nothing(
    closed, people, client
):
    client.force_login(people["ada"])  # the launch admin: nothing refused her before
    doors = _write_doors(closed)
    assert len(doors) > 30 and ("/api/v1/launches/atlas/rollout/hooks/confirm-rollout/",
                                "api:rollout-confirm-rollout") in doors  # fmt: skip
    before = _counts()
    for url, name in doors:
        if name in ALLOWED_WHEN_CLOSED:
            continue
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(url, data={}, content_type="application/json")
            assert response.status_code == 409, (method, url, response.status_code)
            assert b"This launch is closed" in response.content
    assert _counts() == before
    # Taking the evidence out stays allowed (it changes nothing of the launch).
    assert {"launches:export"} == ALLOWED_WHEN_CLOSED
    assert client.post("/launches/atlas/export/", {"mode": "now"}).status_code != 409


def test_a_token_of_the_closed_launch_gets_409_from_the_api_and_the_hooks(closed, client):
    token = ApiToken.objects.filter(launch=closed).first()
    assert token is None  # none was made before closing; make one as it stood then
    Launch.objects.filter(pk=closed.pk).update(closed_at=None)
    raw = create_api_token(launch=closed, name="flagger", scopes=["rollout", "ingest"], actor="t")[
        1
    ]
    Launch.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    before = _counts()
    hook = client.post("/api/v1/launches/atlas/rollout/hooks/confirm-rollout/",
                       data='{"name":"a","namespace":"b","phase":"Progressing"}',
                       content_type="application/json",
                       headers={"Authorization": f"Bearer {raw}"})  # fmt: skip
    assert (hook.status_code, hook.json()["detail"][:21]) == (409, "This launch is closed")
    secret_url = client.post(f"/api/v1/launches/atlas/rollout/hooks/rollback/?token={raw}",
                             data="{}", content_type="application/json")  # fmt: skip
    assert secret_url.status_code == 409
    ingest = client.post("/api/v1/launches/atlas/reports/", data={"file": "x"},
                         headers={"Authorization": f"Bearer {raw}"})  # fmt: skip
    assert ingest.status_code == 409
    assert _counts() == before


def test_an_outsider_learns_nothing_of_a_closed_launch(closed, client):
    client.force_login(make_user("olga"))
    assert client.post("/launches/atlas/gates/runbooks/attest/").status_code == 404
    assert client.post("/api/v1/launches/atlas/rollout/hooks/rollback/", data="{}",
                       content_type="application/json").status_code in (401, 403)  # fmt: skip


def test_every_service_refuses_a_closed_launch(closed, people):
    """What a person could try around the pages: the services the API, commands and tasks call."""
    pat, ada = people["pat"], people["ada"]
    gate = Gate.objects.get(launch=closed, key="runbooks")
    attempts = {
        "attest": lambda: attest(gate=gate, user=pat, comment="late"),
        "waive": lambda: request_waiver(gate=gate, user=pat, reason="r",
                                        expires_at=timezone.now() + timedelta(days=1)),
        "decide": lambda: decide(closed, people, "no-go"),
        "decide directly": lambda: record_decision(launch=closed, user=people["vera"],
                                                   decision="no-go", attendees="", notes=""),
        "token": lambda: create_api_token(launch=closed, name="n", scopes=["read"], actor=ada),
        "webhook": lambda: create_subscription(launch=closed, url="https://example.com/h",
                                               events=["launch.ready"], actor=ada),
        "activity": lambda: update_activity(activity=Activity.objects.filter(
            phase__launch=closed).first(), user=pat, status="done", owner=""),
        "packet": lambda: request_packet(launch=closed, user=ada),
        "rollout": lambda: start_run(launch=closed, actor=ada),
        "report upload": lambda: ingest_report(launch=closed, data=b"<coverage/>", format=None,
                                               gate_key="coverage", name="c.xml", actor="ci"),
        "post-launch": lambda: start_validation(launch=closed, actor=ada),
    }  # fmt: skip
    before = _counts()
    for what, attempt in attempts.items():
        try:
            attempt()
        except LaunchClosed as refused:
            assert "This launch is closed" in str(refused), what
        except TypeError as wrong:  # a signature this test got wrong is a test bug, not a pass
            pytest.fail(f"{what}: {wrong}")
        else:
            pytest.fail(f"{what} was not refused")
    assert _counts() == before


def test_reimporting_the_spec_of_a_closed_launch_is_refused(closed, launch_spec):
    launch_spec["launch"]["name"] = "Atlas renamed"
    with pytest.raises(LaunchClosed):
        import_launch_spec(raw=to_yaml(launch_spec), actor="cli")
    closed.refresh_from_db()
    assert closed.name == "Atlas"


def test_a_revoked_token_cannot_be_revoked_again_after_closing(launch, people, settings):
    token = create_api_token(launch=launch, name="ci", scopes=["read"], actor="t")[0]
    _inconclusive(launch, people, settings)
    _attest_post_launch(launch, people["pat"])
    close_launch(launch=launch, actor=people["ada"], reason="down")
    with pytest.raises(LaunchClosed):
        revoke_api_token(token=ApiToken.objects.get(pk=token.pk), actor=people["ada"])
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_every_page_of_a_closed_launch_says_so_and_reading_stays_allowed(closed, people, client):
    client.force_login(people["ada"])
    banner = f"Closed on {closed.closed_at:%Y-%m-%d} by Ada — read-only"
    for page in ("", "gates/", "gates/runbooks/", "timeline/", "signoffs/", "audit/", "packets/",
                 "post-launch/", "export/"):  # fmt: skip
        response = client.get(f"/launches/atlas/{page}")
        assert response.status_code == 200, page
        assert banner in response.content.decode(), page
    post_launch = client.get("/launches/atlas/post-launch/").content.decode()
    assert "Download the metrics summary report" in post_launch
    assert "Reason: Prometheus was down all day" in post_launch
    assert client.get("/api/v1/launches/atlas/post-launch/").json()["state"] == "inconclusive"


def test_the_beat_leaves_a_closed_launch_alone(closed, people, settings):
    Gate.objects.filter(launch=closed).update(next_due_at=timezone.now() - SECONDS)
    measured = Measurement.objects.count()
    assert gate_tasks.tick() == 0
    assert rollout_tasks.tick() == 0
    assert rollout_tasks.post_launch_tick() == 0
    assert Measurement.objects.count() == measured


# --- the post-launch page and API -----------------------------------------------------------------


def test_the_post_launch_page_shows_the_table_and_lets_ada_alone_start_it(launch, people, client):
    client.force_login(people["pat"])
    page = client.get("/launches/atlas/post-launch/").content.decode()
    assert "Not started" in page and "error-rate" in page and "&lt; 1 %" in page
    assert "Start the post-launch validation now" not in page  # pat is no launch admin
    assert client.post("/launches/atlas/post-launch/").status_code == 403
    client.force_login(people["ada"])
    response = client.post("/launches/atlas/post-launch/", follow=True)
    assert "Post-launch validation started; its window ends" in response.content.decode()
    live = client.get(
        "/launches/atlas/post-launch/", headers={"HX-Request": "true"}
    ).content.decode()
    assert 'id="post-launch-live" data-live' in live and "Running" in live
    again = client.post("/launches/atlas/post-launch/", follow=True).content.decode()
    assert "Not started: a post-launch validation is already under way." in again
    assert launch.validations.count() == 1


def test_the_api_answers_the_summary_to_a_token_of_the_launch(launch, people, settings, client):
    raw = create_api_token(launch=launch, name="dash", scopes=["read"], actor="t")[1]
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/launches/atlas/post-launch/", headers=headers).json()["state"] == (
        "not_started")  # fmt: skip
    _inconclusive(launch, people, settings)
    body = client.get("/api/v1/launches/atlas/post-launch/", headers=headers).json()
    assert (body["state"], body["window"], body["baseline_offset"]) == ("inconclusive", "2m", "1h")
    [row] = body["rows"]
    assert (row["name"], row["status"], row["value"], row["rule"]) == (
        "error-rate", "unknown", None, "< 1 %")  # fmt: skip
    assert row["reason"] == "source unreachable: no Prometheus configured (set PROMETHEUS_URL)"
    assert [a["key"] for a in body["attestations"]] == [g["key"] for g in POST_LAUNCH_GATES]
