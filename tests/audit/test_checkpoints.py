"""Signed checkpoints of each chain's head: one row and one signature per head, over a chain that
extends the checkpoint before it."""

import logging
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from apps.audit.checkpoints import (
    CheckpointRefused,
    checkpoint_payload,
    hold,
    issue_checkpoint,
    issue_due_checkpoints,
    latest_checkpoint,
)
from apps.audit.models import AuditEvent, Checkpoint
from apps.audit.services import GENESIS, record
from apps.audit.tasks import checkpoint as checkpoint_task
from portal import signing
from tests.audit.forgery import rewrite

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 12, 6, 12, 0, 0, 654321, tzinfo=UTC)


def _events(count: int, launch: str = "atlas") -> list[AuditEvent]:
    with transaction.atomic():
        return [record(actor="alice", action=f"a.{n}", launch_slug=launch) for n in range(count)]


def test_a_checkpoint_signs_the_chain_head():
    newest = _events(3)[-1]
    checkpoint = issue_checkpoint(chain="atlas", now=NOON)
    published = checkpoint.as_dict()
    assert published == {
        "chain": "atlas",
        "sequence": 3,
        "head": newest.hash,
        "at": "2026-12-06T12:00:00Z",
        "signature": checkpoint.signature,
        "certificate_sha256": signing.identity().fingerprint,
    }
    assert checkpoint_payload(published) == (
        b'{"at":"2026-12-06T12:00:00Z","chain":"atlas","head":"%s","sequence":3}'
        % newest.hash.encode()
    )
    assert signing.verify(checkpoint_payload(published), checkpoint.signature)
    # Read back from the database, it still verifies: the signed bytes are recomputable.
    assert signing.verify(checkpoint_payload(latest_checkpoint("atlas").as_dict()),
                          checkpoint.signature)  # fmt: skip
    forged = {**published, "sequence": 2}
    assert not signing.verify(checkpoint_payload(forged), checkpoint.signature)
    assert "does not verify" in hold(forged).problem


def test_a_head_that_did_not_move_is_signed_once():
    _events(2)
    first = issue_checkpoint(chain="atlas")
    assert issue_checkpoint(chain="atlas") == first
    assert issue_due_checkpoints() == 0
    _events(1)
    second = issue_checkpoint(chain="atlas")
    assert (second.sequence, Checkpoint.objects.count()) == (3, 2)
    assert latest_checkpoint("atlas") == second
    assert latest_checkpoint("borealis") is None


def test_an_empty_chain_is_checkpointed_at_zero():
    checkpoint = issue_checkpoint(chain="borealis")
    assert (checkpoint.sequence, checkpoint.head_hash) == (0, GENESIS)
    assert hold(checkpoint.as_dict()).problem == ""


def test_beat_checkpoints_each_chain_whose_head_moved():
    _events(2, "atlas")
    _events(1, "borealis")
    assert checkpoint_task() == 2
    assert checkpoint_task() == 0
    _events(1, "borealis")
    assert issue_due_checkpoints() == 1
    assert sorted(Checkpoint.objects.values_list("chain", "sequence")) == [
        ("atlas", 2), ("borealis", 1), ("borealis", 2)]  # fmt: skip
    schedule = settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert schedule == {"task": "audit.checkpoint",
                        "schedule": 60.0 * settings.AUDIT_CHECKPOINT_MINUTES}  # fmt: skip


def test_no_checkpoint_is_signed_over_a_rewritten_chain(caplog):
    _events(4)
    issue_checkpoint(chain="atlas")
    rewrite("atlas", 2, {"forged": True})
    with pytest.raises(CheckpointRefused, match="does not extend its checkpoint #4"):
        issue_checkpoint(chain="atlas")
    _events(1)  # the chain moves on from the forged head
    with pytest.raises(CheckpointRefused, match="event #5 does not link to event #4"):
        issue_checkpoint(chain="atlas")
    with caplog.at_level(logging.ERROR, logger="apps.audit.checkpoints"):
        assert issue_due_checkpoints() == 0
    assert "audit checkpoint refused: chain atlas" in caplog.text
    assert Checkpoint.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the guards are PostgreSQL's")
@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("UPDATE audit_checkpoint SET sequence = 1", "append-only: UPDATE refused"),
        ("DELETE FROM audit_checkpoint", "append-only: DELETE refused"),
        ("TRUNCATE audit_checkpoint", "TRUNCATE refused"),
    ],
)
def test_the_database_keeps_checkpoints(statement, refusal):
    _events(2)
    issue_checkpoint(chain="atlas")
    with (
        pytest.raises(DatabaseError, match=refusal),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert Checkpoint.objects.get().sequence == 2
