"""Celery beat on two hosts at once: every scheduled task run twice at the same moment (two
threads, two PostgreSQL connections, released together) does its work once.

pat is the program manager of Atlas, vera its VP Engineering signer; the clock is passed as `now`
where a task takes it, so both runs are the same slot.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.db import connections
from django.utils import timezone

from apps.audit.checkpoints import issue_due_checkpoints
from apps.audit.models import AuditEvent, ChainHead, Checkpoint
from apps.gates.models import Gate
from apps.gates.services import Reading, record_reading
from apps.gates.tasks import tick
from apps.signoffs.models import Assignment, Duty, RequestNotice, Role, SignOff
from apps.signoffs.requests import remind, request_signoff
from apps.signoffs.services import sweep
from apps.signoffs.snapshot import take_snapshot
from apps.signoffs.waivers import warn_expiring_waivers
from apps.webhooks.models import WebhookDelivery, WebhookSubscription
from apps.webhooks.tasks import sweep as webhooks_sweep
from tests.celery_worker import broker_url, purge
from tests.helpers import import_report_only_launch
from tests.signoffs.conftest import make_user
from tests.waivers import standing_waiver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("needs_postgresql")]

# Each scheduled task and the test below that runs it twice at once.
COVERED = {
    "gates.tick": "test_two_ticks_queue_one_evaluation_per_due_gate",
    "signoffs.sweep": "test_two_sweeps_invalidate_an_approval_once",
    "gates.warn_expiring_waivers": "test_two_waiver_warnings_send_one_email",
    "signoffs.remind": "test_two_reminder_runs_send_one_reminder",
    # The same conditional UPDATE as gates.tick; run twice for one slot in tests/rollouts.
    "rollouts.tick": "tests/rollouts/test_runs.py (tick twice: 1, then 0)",
    "rollouts.post_launch_tick": "tests/rollouts/test_post_launch.py (tick twice: 1, then 0)",
    "audit.checkpoint": "test_two_checkpoint_runs_sign_one_checkpoint_per_head",
    "webhooks.sweep": "test_two_webhook_sweeps_queue_a_lost_attempt_once",
}


@pytest.fixture
def launch(spec):
    return import_report_only_launch(spec)


@pytest.fixture
def people(launch):
    people = {name: make_user(name) for name in ("vera", "pat")}
    role = Role.objects.get(launch=launch, key="vp-engineering")
    Assignment.objects.create(launch=launch, user=people["vera"], duty=Duty.SIGNER, role=role)
    Assignment.objects.create(launch=launch, user=people["pat"], duty=Duty.PROGRAM_MANAGER)
    return people


def twice_at_once(work) -> list:
    """work() in two threads released together (two beats firing the same entry)."""
    barrier = threading.Barrier(2)

    def run(_):
        barrier.wait()
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(run, range(2)))


def queued_tasks() -> list[str]:
    """The names of the tasks waiting in the test broker's default queue."""
    raw = redis.Redis.from_url(broker_url()).lrange("celery", 0, -1)
    return [json.loads(message)["headers"]["task"] for message in raw]


def read(key: str, value: str) -> None:
    gate = Gate.objects.get(key=key)
    record_reading(gate=gate, reading=Reading(value=Decimal(value)), actor="test")


def test_every_scheduled_task_is_run_twice_somewhere():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled == set(COVERED), "say how a new scheduled task survives a duplicate tick"


def test_two_ticks_queue_one_evaluation_per_due_gate(launch):
    purge(broker_url())
    due = Gate.objects.due(timezone.now()).count()
    assert due >= 1
    assert sorted(twice_at_once(tick)) == [0, due]
    queued = queued_tasks()
    purge(broker_url())
    assert len(queued) == due  # one evaluation task per gate (no gate here is batched)
    assert set(queued) <= {"gates.evaluate_gate", "gates.evaluate_gates"}


def _approved(launch, vera) -> SignOff:
    role = Role.objects.get(launch=launch, key="vp-engineering")
    snapshot = take_snapshot(role, timezone.now())
    return SignOff.objects.create(
        launch=launch, role=role, user=vera, printed_name="Vera", decision="approve",
        meaning="I, Vera, approve as VP Engineering.", digest=snapshot.digest,
        snapshot=snapshot.data, signed_at=timezone.now(),
    )  # fmt: skip


def test_two_sweeps_invalidate_an_approval_once(launch, people):
    read("availability", "99.95")
    read("coverage", "91")
    signoff = _approved(launch, people["vera"])
    mail.outbox.clear()
    later = timezone.now() + timedelta(days=30)  # every reading is stale by then
    assert sorted(twice_at_once(lambda: sweep(now=later))) == [0, 1]
    signoff.refresh_from_db()
    assert signoff.invalidated_at == later
    assert AuditEvent.objects.filter(action="signoff.invalidated").count() == 1
    to_vera = [m.subject for m in mail.outbox if "vera@example.com" in m.to]
    assert len(to_vera) == 1, to_vera


def test_two_waiver_warnings_send_one_email(launch, people):
    read("coverage", "70")
    ends = timezone.now() + timedelta(days=3)
    standing_waiver(Gate.objects.get(key="coverage"), requested_by=people["vera"],
                    approved_by=people["pat"], expires_at=ends)  # fmt: skip
    mail.outbox.clear()
    later = timezone.now() + timedelta(days=1, hours=2)
    assert sorted(twice_at_once(lambda: warn_expiring_waivers(now=later))) == [0, 1]
    (message,) = mail.outbox
    assert sorted(message.to) == ["pat@example.com", "vera@example.com"]


def test_two_reminder_runs_send_one_reminder(launch, people):
    t0 = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0)
    due = t0 + timedelta(days=3)
    role = Role.objects.get(launch=launch, key="vp-engineering")
    request_signoff(launch=launch, roles=[role], user=people["pat"], due_at=due,
                    message="Please review.", now=t0)  # fmt: skip
    mail.outbox.clear()
    at = due - timedelta(hours=48)
    assert sorted(twice_at_once(lambda: remind(now=at))) == [0, 1]
    (message,) = mail.outbox
    assert message.to == ["vera@example.com"] and "Reminder" in message.subject
    assert RequestNotice.objects.filter(kind="reminder").count() == 1


def test_two_checkpoint_runs_sign_one_checkpoint_per_head(launch):
    chains = ChainHead.objects.count()
    assert chains >= 1
    results = twice_at_once(issue_due_checkpoints)
    assert sum(results) >= chains  # both may sign: the loser reads the winner's row
    assert Checkpoint.objects.count() == chains
    assert Checkpoint.objects.values("chain", "sequence").distinct().count() == chains


def test_two_webhook_sweeps_queue_a_lost_attempt_once(launch, settings):
    WebhookSubscription.objects.create(launch=launch, url="http://127.0.0.1:18299/hook",
                                       events=["gate.status_changed"])  # fmt: skip
    read("availability", "99.95")
    (delivery,) = WebhookDelivery.objects.all()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=10)
    )
    purge(broker_url())  # its first attempt's task was lost
    assert sorted(twice_at_once(webhooks_sweep)) == [0, 1]
    queued = queued_tasks()
    purge(broker_url())
    assert queued == ["webhooks.deliver"]
