"""The audit log cannot be emptied unnoticed: PostgreSQL refuses TRUNCATE, and the chain's head,
kept in its own row, shows a chain that was emptied, cut short or restarted from the zero hash."""

import importlib
import logging
from contextlib import contextmanager

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from apps.audit.models import AuditEvent, ChainHead
from apps.audit.services import (
    GENESIS,
    check_chain,
    event_body,
    event_hash,
    record,
    verify,
)

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the guards are PostgreSQL triggers"
)


def _events(count: int, actor: str = "alice") -> list[AuditEvent]:
    with transaction.atomic():
        return [record(actor=actor, action=f"a.{n}", launch_slug="atlas") for n in range(count)]


@contextmanager
def _triggers_off(how: str = "replica"):
    """What a superuser or the tables' owner can do: switch the guards off, here for a moment."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            yield cursor
        elif how == "replica":
            cursor.execute("SET session_replication_role = replica")
            yield cursor
            cursor.execute("SET session_replication_role = DEFAULT")
        else:
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER ALL")
            yield cursor
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER ALL")


def _empty_events(how: str = "replica") -> None:
    with _triggers_off(how) as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE audit_auditevent")
        else:
            cursor.execute("DELETE FROM audit_auditevent")


def _head(chain: str = "atlas") -> ChainHead:
    return ChainHead.objects.get(chain=chain)


def test_record_keeps_the_head_on_the_newest_event():
    first, *_, newest = _events(3)
    head = _head()
    assert (head.sequence, head.hash, head.first_hash) == (3, newest.hash, first.hash)
    assert check_chain().ok


def test_verify_audit_passes_on_an_empty_database_with_no_history(capsys):
    call_command("verify_audit")
    assert "audit chain holds: 0 events, head -" in capsys.readouterr().out
    assert not ChainHead.objects.exists()


def _refused(statement: str, match: str) -> None:
    with (
        pytest.raises(DatabaseError, match=match),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)


@postgresql_only
@pytest.mark.django_db(transaction=True)  # a TRUNCATE waits for no pending FK checks, as in life
def test_the_database_refuses_to_truncate_audit_events():
    _events(3)
    _refused("TRUNCATE audit_auditevent", "audit_auditevent is append-only: TRUNCATE refused")
    # Nor through a table its rows point at.
    _refused("TRUNCATE auth_user CASCADE", "audit_auditevent is append-only: TRUNCATE refused")
    assert AuditEvent.objects.count() == 3


@postgresql_only
@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("DELETE FROM audit_chainhead", "only moves forward: DELETE refused"),
        ("TRUNCATE audit_chainhead", "audit_chainhead is append-only: TRUNCATE refused"),
        ("UPDATE audit_chainhead SET sequence = 1", "UPDATE from #3 to #1 refused"),
        ("UPDATE audit_chainhead SET sequence = 3", "UPDATE from #3 to #3 refused"),
        ("UPDATE audit_chainhead SET first_hash = hash, sequence = 4", "UPDATE from #3 to #4"),
    ],
)
def test_the_database_refuses_to_remove_or_move_back_the_head(statement, refusal):
    _events(3)
    _refused(statement, refusal)
    assert _head().sequence == 3


@pytest.mark.django_db(transaction=True)  # the teardown's flush empties the guarded tables too
@pytest.mark.parametrize("how", ["replica", "disable"])
def test_events_emptied_with_the_triggers_off_are_caught(how):
    _events(5)
    _empty_events(how)
    with pytest.raises(CommandError, match="chain emptied: the head records sequence 5"):
        call_command("verify_audit")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["replica", "disable"])
def test_a_chain_restarted_after_emptying_is_caught(how, caplog):
    head = _events(5)[-1]
    _empty_events(how)
    with caplog.at_level(logging.ERROR, logger="apps.audit.services"):
        _events(3, actor="mallory")  # sequences 1 to 3 again, from the zero hash
    assert "is not in the events any more" in caplog.text
    assert AuditEvent.objects.get(sequence=1).prev_hash == GENESIS
    with pytest.raises(CommandError, match="restart") as refused:
        call_command("verify_audit")
    assert str(refused.value) == (
        "audit chain broken at event #1 of chain atlas: chain restarted: the head records "
        "sequence 5 "
        f"(hash {head.hash[:16]}...), the events end at sequence 3 which starts again from the "
        "zero hash"
    )
    # However long the new chain grows, the head stays where the old one ended.
    _events(4, actor="mallory")
    assert _head().hash == head.hash
    with pytest.raises(CommandError, match="chain restarted"):
        call_command("verify_audit")


def test_a_deleted_tail_is_caught_without_a_printed_head():
    _events(5)
    with _triggers_off() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence > 3")
    check = check_chain()
    assert not check.ok and check.event.sequence == 5 and check.newest.sequence == 3
    assert check.problem.startswith("events deleted: the head records sequence 5")
    assert check.chain == "atlas"
    assert verify().sequence == 5  # the missing event, for callers of verify()
    # New events after the cut chain on, but never reach the head's event again.
    _events(3)
    with pytest.raises(CommandError, match="chain rewritten: .* event #5 has another hash"):
        call_command("verify_audit")


def test_missing_first_events_are_named():
    _events(3)
    with _triggers_off() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence = 1")
    with pytest.raises(CommandError, match="the events begin at #2: #1 is missing"):
        call_command("verify_audit")


def _append_beside_record(count: int, *, restart: bool = False) -> AuditEvent:
    """Chained events written without record(), as bench/series.py COPYs them."""
    last = AuditEvent.objects.order_by("-sequence").first()
    for _ in range(count):
        prev = GENESIS if restart else last.hash
        event = AuditEvent(chain=last.chain, sequence=last.sequence + 1, at=last.at,
                           actor_name="bench", action="a.bulk", launch_slug=last.launch_slug,
                           prev_hash=prev)  # fmt: skip
        event.hash = event_hash(event.prev_hash, event_body(event))
        event.save(force_insert=True)
        last = event
    return last


def test_events_appended_beside_record_are_caught_up_with():
    _events(2)
    _append_beside_record(3)
    assert check_chain().ok  # the head is behind, but still in the chain
    newest = _events(1)[0]
    assert (_head().sequence, _head().hash) == (6, newest.hash)


def test_an_event_that_starts_again_from_the_zero_hash_is_named():
    _events(3)
    _append_beside_record(1, restart=True)
    with pytest.raises(
        CommandError, match="#4 of chain atlas: chain restarted at event #4: it starts again"
    ):
        call_command("verify_audit")


def test_the_migration_gives_an_existing_chain_its_head():
    with transaction.atomic():  # the one chain there was: the portal's
        first, *_, newest = [record(actor="alice", action=f"a.{n}") for n in range(3)]
    with _triggers_off() as cursor:
        cursor.execute("DELETE FROM audit_chainhead")
    fill = importlib.import_module("apps.audit.migrations.0005_fill_chain_head").fill
    fill(apps, None)
    head = _head("portal")
    assert (head.sequence, head.hash, head.first_hash) == (3, newest.hash, first.hash)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_audit_tables_and_keeps_their_guards():
    _events(3)
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEvent.objects.exists() and not ChainHead.objects.exists()
    _events(1)
    _refused("TRUNCATE audit_auditevent", "TRUNCATE refused")
    _refused("TRUNCATE audit_chainhead", "TRUNCATE refused")
