"""verify_audit --checkpoint: a chain rewritten, cut back or forked since a checkpoint was kept
fails against it, however carefully every hash after the change was recomputed (RELIABILITY 23)."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from apps.audit.checkpoints import issue_checkpoint
from apps.audit.models import AuditEvent, Checkpoint
from apps.audit.services import record
from portal import signing
from tests.audit.forgery import rewrite, triggers_off, truncate

pytestmark = pytest.mark.django_db


def _events(count: int, launch: str = "atlas") -> list[AuditEvent]:
    with transaction.atomic():
        return [record(actor="alice", action=f"a.{n}", launch_slug=launch) for n in range(count)]


def _kept(tmp_path, checkpoint: Checkpoint, name: str = "checkpoint.json"):
    """The checkpoint as an auditor keeps it: its published dict in a file."""
    path = tmp_path / name
    path.write_text(json.dumps(checkpoint.as_dict()))
    return path


def _forget_checkpoints() -> None:
    """The forger also deletes the checkpoints kept in the database."""
    with triggers_off() as cursor:
        cursor.execute("DELETE FROM audit_checkpoint")


def test_a_chain_that_extends_its_checkpoint_passes(tmp_path, capsys):
    _events(3)
    kept = _kept(tmp_path, issue_checkpoint(chain="atlas"))
    _events(2)
    call_command("verify_audit", "--launch", "atlas", "--checkpoint", str(kept))
    out = capsys.readouterr().out
    assert "audit chain holds: 5 events, head " in out and "(chain atlas)" in out
    assert (f"it extends every checkpoint given (1), signed by the certificate SHA-256 "
            f"{signing.identity().fingerprint}") in out  # fmt: skip


def test_history_rewritten_with_the_triggers_off_fails_against_an_older_checkpoint(tmp_path):
    _events(3)
    kept = _kept(tmp_path, issue_checkpoint(chain="atlas"))
    _events(2)
    rewrite("atlas", 2, {"comment": "it was always passing"})
    _forget_checkpoints()
    call_command("verify_audit")  # in itself the forged chain holds: every hash was recomputed
    with pytest.raises(CommandError) as failed:
        call_command("verify_audit", "--checkpoint", str(kept))
    assert str(failed.value).startswith(
        "chain rewritten or forked: the checkpoint of chain atlas #3 signed "
    )
    assert f"records hash {AuditEvent.objects.get(chain='atlas', sequence=3).hash[:16]}" not in (
        str(failed.value)
    )


def test_a_truncated_chain_fails_against_an_older_checkpoint(tmp_path):
    _events(5)
    kept = _kept(tmp_path, issue_checkpoint(chain="atlas"))
    truncate("atlas", after=3)
    _forget_checkpoints()
    call_command("verify_audit", "--launch", "atlas")
    truncated = r"chain truncated: the checkpoint of chain atlas #5 signed .* the chain ends at #3"
    with pytest.raises(CommandError, match=truncated):
        call_command("verify_audit", "--launch", "atlas", "--checkpoint", str(kept))


def test_a_chain_started_over_fails_against_an_older_checkpoint(tmp_path):
    _events(2)
    kept = _kept(tmp_path, issue_checkpoint(chain="atlas"))
    with triggers_off() as cursor:  # emptied, head row and all, and written anew
        cursor.execute("DELETE FROM audit_auditevent WHERE chain = 'atlas'")
        cursor.execute("DELETE FROM audit_chainhead WHERE chain = 'atlas'")
        cursor.execute("DELETE FROM audit_checkpoint")
    _events(4)
    call_command("verify_audit")
    with pytest.raises(CommandError, match="chain rewritten or forked: .* #2 signed"):
        call_command("verify_audit", "--checkpoint", str(kept))


def test_the_checkpoints_kept_here_catch_a_forger_who_left_them(tmp_path):
    _events(3)
    issue_checkpoint(chain="atlas")
    rewrite("atlas", 2, {"comment": "forged"})
    with pytest.raises(CommandError, match="chain rewritten or forked: the checkpoint of chain "
                                           "atlas #3"):  # fmt: skip
        call_command("verify_audit")


def test_a_checkpoint_altered_to_match_the_forgery_fails_its_signature(tmp_path):
    _events(3)
    checkpoint = issue_checkpoint(chain="atlas")
    forged_head = rewrite("atlas", 2, {"comment": "forged"})
    _forget_checkpoints()
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps({**checkpoint.as_dict(), "head": forged_head}))
    with pytest.raises(CommandError, match="#3 signed .*: its signature does not verify"):
        call_command("verify_audit", "--checkpoint", str(path))


@pytest.fixture
def new_key(tmp_path, settings):
    """The portal's signing key replaced by another (the settings come back after the test)."""
    from cryptography.hazmat.primitives import serialization

    key, certificate = signing.make_self_signed("Launch Portal (a new key)")
    pem = serialization.Encoding.PEM
    (tmp_path / "new-key.pem").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    (tmp_path / "new-cert.pem").write_bytes(certificate.public_bytes(pem))

    def replace():
        settings.SIGNING_KEY_FILE = str(tmp_path / "new-key.pem")
        settings.SIGNING_CERT_FILE = str(tmp_path / "new-cert.pem")
        signing.identity.cache_clear()

    yield replace
    signing.identity.cache_clear()  # before `settings` restores the old key


def test_the_published_document_is_checked_with_the_certificate_it_carries(
    tmp_path, client, new_key
):
    _events(2, "atlas")
    _events(1, "borealis")
    issue_checkpoint(chain="atlas")
    issue_checkpoint(chain="borealis")
    document = tmp_path / "checkpoints.json"
    document.write_bytes(client.get("/audit/checkpoints/?chain=borealis").content)
    old = signing.identity().fingerprint
    new_key()  # the portal's key changed since: the document's own certificate still verifies
    call_command("verify_audit", "--checkpoint", str(document))
    call_command("verify_audit", "--launch", "borealis", "--checkpoint", str(document))
    single = _kept(tmp_path, Checkpoint.objects.get(chain="atlas"))
    with pytest.raises(CommandError, match=f"signed by the certificate {old[:16]}.*give its PEM"):
        call_command("verify_audit", "--checkpoint", str(single))


def test_an_unreadable_checkpoint_is_named(tmp_path):
    with pytest.raises(CommandError, match="cannot read the checkpoint .*missing.json"):
        call_command("verify_audit", "--checkpoint", str(tmp_path / "missing.json"))
    (tmp_path / "empty.json").write_text('{"checkpoints": []}')
    with pytest.raises(CommandError, match="holds no checkpoint"):
        call_command("verify_audit", "--checkpoint", str(tmp_path / "empty.json"))
    (tmp_path / "partial.json").write_text('[{"chain": "atlas", "sequence": 1}]')
    with pytest.raises(CommandError, match="not a checkpoint"):
        call_command("verify_audit", "--checkpoint", str(tmp_path / "partial.json"))
    (tmp_path / "bad-pem.json").write_text('{"certificate": {"pem": "x"}, "checkpoints": []}')
    with pytest.raises(CommandError, match="cannot read the checkpoint"):
        call_command("verify_audit", "--checkpoint", str(tmp_path / "bad-pem.json"))


@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_url_is_fetched(live_server, capsys):
    _events(2)
    issue_checkpoint(chain="atlas")
    url = f"{live_server.url}/audit/checkpoints/?chain=atlas"
    call_command("verify_audit", "--checkpoint", url)
    assert "it extends every checkpoint given" in capsys.readouterr().out
    with pytest.raises(CommandError, match="cannot read the checkpoint .*HTTP error 404"):
        call_command("verify_audit", "--checkpoint", f"{live_server.url}/audit/nothing/")
