"""One chain per launch, plus the portal's: each with its own sequence, head and lock."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection, connections, transaction

from apps.audit.models import AuditEvent, ChainHead
from apps.audit.services import (
    GENESIS,
    check_chains,
    event_body,
    event_hash,
    lock_chains,
    record,
    verify,
)

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the chain locks are PostgreSQL advisory locks"
)


def _record(launch: str, action: str = "a.step") -> AuditEvent:
    with transaction.atomic():
        return record(actor="alice", action=action, launch_slug=launch)


def test_two_launches_write_two_chains_each_with_its_own_sequence():
    for launch in ("atlas", "borealis", "atlas", "", "atlas", "borealis"):
        _record(launch)
    chains = {
        chain: list(AuditEvent.objects.in_chain(chain).values_list("sequence", "launch_slug"))
        for chain in ("atlas", "borealis", "portal")
    }
    assert chains == {
        "atlas": [(1, "atlas"), (2, "atlas"), (3, "atlas")],
        "borealis": [(1, "borealis"), (2, "borealis")],
        "portal": [(1, "")],  # events without a launch: sign-ins, invitations
    }
    for chain in chains:
        first = AuditEvent.objects.get(chain=chain, sequence=1)
        assert first.prev_hash == GENESIS
    heads = dict(ChainHead.objects.values_list("chain", "sequence"))
    assert heads == {"atlas": 3, "borealis": 2, "portal": 1}
    assert [c.chain for c in check_chains()] == ["portal", "atlas", "borealis"]
    assert all(c.ok for c in check_chains()) and verify() is None


def test_the_launch_pages_read_the_launchs_events_in_the_order_appended():
    for launch in ("atlas", "borealis", "atlas"):
        _record(launch)
    newest_first = AuditEvent.objects.for_launch("atlas").reverse()
    assert [(e.chain, e.sequence) for e in newest_first] == [("atlas", 2), ("atlas", 1)]


def test_verify_audit_holds_each_chain_and_names_an_event_in_the_wrong_one(capsys):
    _record("atlas")
    last = _record("borealis")
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert "  chain atlas: 1 events, head " in out
    assert "audit chain holds: 2 events in 2 chains" in out
    # An atlas event slipped into borealis's chain, linked and hashed as record() would.
    slipped = AuditEvent(chain="borealis", sequence=2, at=last.at, actor_name="mallory",
                         action="a.slipped", launch_slug="atlas", prev_hash=last.hash)  # fmt: skip
    slipped.hash = event_hash(last.hash, event_body(slipped))
    slipped.save(force_insert=True)
    with pytest.raises(CommandError, match="event #2 of chain borealis: event #2 names the "
                                           "launch 'atlas', not its chain's"):  # fmt: skip
        call_command("verify_audit")
    call_command("verify_audit", "--launch", "atlas")


def _in_threads(*work):
    """Run each callable in its own thread (and database connection); their results."""

    def run(job):
        try:
            return job()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(work)) as pool:
        return [future.result() for future in [pool.submit(run, job) for job in work]]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_writer_of_one_launch_does_not_wait_for_a_writer_of_another():
    _record("atlas")
    _record("borealis")
    atlas_recorded, borealis_done = threading.Event(), threading.Event()

    def atlas_writer():  # holds the atlas chain's lock until borealis's writer is done
        with transaction.atomic():
            record(actor="alice", action="a.slow", launch_slug="atlas")
            atlas_recorded.set()
            return borealis_done.wait(timeout=10)

    def borealis_writer():
        assert atlas_recorded.wait(timeout=10)
        started = time.monotonic()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")
            event = record(actor="bob", action="a.quick", launch_slug="borealis")
        borealis_done.set()
        return event.sequence, time.monotonic() - started

    atlas_saw_borealis_finish, (sequence, seconds) = _in_threads(atlas_writer, borealis_writer)
    assert atlas_saw_borealis_finish and sequence == 2 and seconds < 2
    assert dict(ChainHead.objects.values_list("chain", "sequence")) == {"atlas": 2, "borealis": 2}


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_writers_of_one_launch_take_turns():
    _record("atlas")
    recorded, tried = threading.Event(), threading.Event()

    def first():
        with transaction.atomic():
            record(actor="alice", action="a.first", launch_slug="atlas")
            recorded.set()
            tried.wait(timeout=10)

    def second():
        assert recorded.wait(timeout=10)
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '200ms'")
                record(actor="bob", action="a.second", launch_slug="atlas")
        except OperationalError as exc:
            return str(exc)
        finally:
            tried.set()
        return "not blocked"

    assert "lock timeout" in _in_threads(first, second)[1]
    _record("atlas")
    assert list(AuditEvent.objects.in_chain("atlas").values_list("sequence", flat=True)) == [
        1, 2, 3]  # fmt: skip


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_transactions_recording_into_two_launches_in_either_order_do_not_deadlock():
    def writer(*launches):
        def work():
            with transaction.atomic():
                lock_chains(launches)  # as gates.services.record_readings does for a batch
                for launch in launches:
                    record(actor="worker", action="gate.status_changed", launch_slug=launch)
                    time.sleep(0.2)  # unlocked in this order, the other writer would deadlock
            return True

        return work

    assert _in_threads(writer("atlas", "borealis"), writer("borealis", "atlas")) == [True, True]
    assert AuditEvent.objects.filter(chain__in=["atlas", "borealis"]).count() == 4
