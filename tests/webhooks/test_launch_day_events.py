# ruff: noqa: F811 - pytest fixtures imported from the rollouts and gates conftests
"""Launch day as webhook kinds: a rollback fired by a real trigger (a real Prometheus scraping an
exporter) is delivered to the SRE channel that follows `rollout.rollback`, in the portal's JSON and
in Slack's and Teams' formats; sign-off requests, run starts, stage failures and closure are kinds
too, and their payloads carry names, never emails."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.rollouts.services import analyse_run, start_run
from apps.webhooks import chat
from apps.webhooks.models import EventKind, MessageFormat, WebhookDelivery, WebhookSubscription
from apps.webhooks.services import attempt_delivery, event_data
from tests.gates.conftest import exporter, real_prometheus  # noqa: F401 - the gates' servers
from tests.rollouts.conftest import (  # noqa: F401 - the Atlas launch with its rollout
    go,
    healthy,
    launch,
    launch_spec,
    people,
    scraped,
)

pytestmark = pytest.mark.django_db
SECONDS = timedelta(seconds=1)
FAILED = "stage canary-25 is failed: 3 analyses failed"


def _subscribe(on, url: str, events, fmt=MessageFormat.PORTAL) -> WebhookSubscription:
    return WebhookSubscription.objects.create(launch=on, url=url, events=events, format=fmt)


def test_a_fired_trigger_is_delivered_to_the_rollback_subscription(
    launch,
    people,
    go,
    healthy,
    real_prometheus,
    receivers,
    settings,
):
    settings.PORTAL_BASE_URL = "https://portal.example.com"
    rollbacks = _subscribe(launch, receivers[0].url, [EventKind.ROLLBACK])
    slack = _subscribe(launch, receivers[1].url, [EventKind.ROLLBACK], MessageFormat.SLACK)
    gates_only = _subscribe(launch, receivers[2].url, [EventKind.GATE_STATUS])
    now = timezone.now()
    run = start_run(launch=launch, actor=people["ada"], now=now)
    analyse_run(run_id=run.pk, now=now + 10 * SECONDS)
    assert not WebhookDelivery.objects.exists()  # healthy: nothing to tell

    healthy.set("error_rate", 7.25, svc="api")
    scraped(real_prometheus, 'error_rate{svc="api"}', "7.25")
    analyse_run(run_id=run.pk, now=now + 20 * SECONDS)

    [delivery] = rollbacks.deliveries.all()
    assert not gates_only.deliveries.exists()
    assert attempt_delivery(delivery_id=delivery.pk, attempt=1) is None  # delivered
    [received] = receivers[0].wait_for(1, timeout=10)
    assert received.headers["X-Launch-Portal-Event"] == "rollout.rollback"
    assert received.signed_with(rollbacks.secret)
    body = received.json
    assert body["kind"] == "rollout.rollback" and body["launch"] == launch.slug
    assert body["data"]["reason"] == "rollback trigger fired: error-rate-above-5 fired: 7.25 > 5"
    assert (body["data"]["run"], body["data"]["stage"]) == (run.pk, "canary-5")
    assert body["data"]["rolled_back_by"] == "worker"

    [message] = slack.deliveries.all()
    text = message.payload["blocks"][0]["text"]["text"]
    assert message.payload["text"].endswith(f"Rollback: run {run.pk}")
    assert "*Reason:* rollback trigger fired: error-rate-above-5 fired: 7.25 &gt; 5" in text
    assert "*Stage:* canary-5" in text
    assert f"<https://portal.example.com/launches/{launch.slug}/|Open in Launch Portal>" in text


def test_a_run_start_is_a_kind_and_names_its_starter_not_their_email(
    launch,
    people,
    go,
    receivers,
):
    started = _subscribe(launch, receivers[0].url, [EventKind.ROLLOUT_STARTED])
    run = start_run(launch=launch, actor=people["ada"])
    [delivery] = started.deliveries.all()
    data = delivery.payload["data"]
    assert (data["run"], data["driver"], data["stages"]) == (run.pk, "portal", ["canary-5", "full"])
    assert data["started_by"] == "Ada" and "@" not in str(delivery.payload)


def _event(action: str, data: dict, **fields) -> AuditEvent:
    base = {"actor_name": "Pat Morgan", "launch_slug": "atlas", "object_key": "", "data": data}
    return AuditEvent(action=action, **{**base, **fields})


def test_each_new_kind_reads_right_in_a_chat_message():
    cases = {
        "signoff.requested": (
            _event(
                "signoff.requested",
                {
                    "request": 4,
                    "due_at": "2026-12-20T17:00:00+00:00",
                    "message": "Please sign by Friday",
                },
                object_key="security-lead",
            ),  # fmt: skip
            "Sign-off requested from Security Lead",
            [
                ("Due", "2026-12-20 17:00 UTC"),
                ("Requested by", "Pat Morgan"),
                ("Message", "Please sign by Friday"),
            ],  # fmt: skip
        ),
        "rollout.stage_failed": (
            _event("rollout.stage_failed", {"run": 3, "stage": "canary-25", "reason": FAILED}),
            "Rollout stage canary-25 failed: the run rolls back",
            [("Reason", FAILED)],
        ),
        "launch.closed": (
            _event("launch.closed", {"reason": "", "post_launch": "passed"}),
            "Launch closed: it is read-only now",
            [("Closed by", "Pat Morgan"), ("Post-launch validation", "passed")],
        ),
    }
    for kind, (event, headline, facts) in cases.items():
        data = event_data(event)
        subject = "Security Lead" if kind == "signoff.requested" else ""
        notice = chat.describe(kind, data, launch="Atlas 1.0", subject=subject,
                               actor=event.actor_name, link="")  # fmt: skip
        assert notice.headline == headline, kind
        for fact in facts:
            assert fact in notice.facts, (kind, fact, notice.facts)
        card = chat.teams(notice)["attachments"][0]["content"]["body"]
        assert card[1]["text"] == headline


def test_the_new_kinds_are_offered_and_every_kind_has_words():
    offered = dict(EventKind.choices)
    assert offered["rollout.rollback"] == "Rollbacks"
    assert offered["signoff.requested"] == "Sign-off requests"
    assert offered["launch.closed"] == "Launch closed"
    assert set(EventKind.values) == set(chat.WORDS)
