"""The audit log is a hash chain that anyone can verify."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from apps.audit.models import AuditEvent
from apps.audit.services import GENESIS, record, verify

pytestmark = pytest.mark.django_db


def _three_events():
    with transaction.atomic():
        for action in ("a.one", "a.two", "a.three"):
            record(actor="alice", action=action, launch_slug="atlas", data={"n": action})


def test_events_chain_from_genesis():
    _three_events()
    events = list(AuditEvent.objects.all())
    assert [e.sequence for e in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS
    assert events[1].prev_hash == events[0].hash
    assert verify() is None


@pytest.mark.django_db(transaction=True)
def test_record_refuses_to_run_outside_a_transaction():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        record(actor="alice", action="a.loose")
    assert not AuditEvent.objects.exists()


def test_verify_audit_names_the_first_edited_event(capsys):
    _three_events()
    call_command("verify_audit")
    assert "audit chain holds: 3 events, head " in capsys.readouterr().out
    event = AuditEvent.objects.get(sequence=2)
    if connection.vendor == "postgresql":
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).update(action="a.forged")
        # A superuser can switch triggers off; verify_audit must still catch the edit.
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            cursor.execute(
                "UPDATE audit_auditevent SET action = 'a.forged' WHERE id = %s", [event.pk]
            )
            cursor.execute("SET session_replication_role = DEFAULT")
    else:
        AuditEvent.objects.filter(pk=event.pk).update(action="a.forged")
    with pytest.raises(CommandError, match="audit chain broken at event #2"):
        call_command("verify_audit")


def test_the_database_refuses_to_delete_audit_events():
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's; SQLite relies on verify_audit")
    _three_events()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(sequence=3).delete()
    assert AuditEvent.objects.count() == 3


def test_a_deleted_tail_is_caught_against_an_earlier_printed_head(capsys):
    _three_events()
    head = AuditEvent.objects.order_by("-sequence").first().hash  # as printed in a packet
    call_command("verify_audit", "--head", head)
    # Someone with the database's keys removes the newest event and moves the head row back to
    # match: the rest still chains, and the head row agrees...
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute("DELETE FROM audit_auditevent WHERE chain = 'atlas' AND sequence = 3")
        cursor.execute(
            "UPDATE audit_chainhead SET sequence = 2, hash = %s WHERE chain = 'atlas'",
            [AuditEvent.objects.get(sequence=2).hash],
        )
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")
    call_command("verify_audit")
    # ...but not with the head printed before the deletion.
    with pytest.raises(CommandError, match=f"the chain head {head} printed earlier is missing"):
        call_command("verify_audit", "--head", head)
