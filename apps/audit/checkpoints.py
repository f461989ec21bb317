"""Signed checkpoints of the audit chains, and holding a chain against them.

A checkpoint is a chain's head (sequence and hash) at a time, signed with the portal's key over
checkpoint_payload(): canonical JSON of {"chain", "sequence", "head", "at"}. Whoever keeps one
(from /audit/checkpoints/, a packet or an export) can later prove that the chain still holds that
event: a chain cut back, rewritten or restarted since, even with every hash after it recomputed,
no longer does. At most one row and one signature per chain and head.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.audit.models import AuditEvent, ChainHead, Checkpoint, iso_utc
from apps.audit.services import GENESIS, canonical_json, walk_chain
from portal import signing

PAYLOAD_KEYS = ("chain", "sequence", "head", "at")

logger = logging.getLogger(__name__)


class CheckpointRefused(Exception):
    """The chain does not extend its previous checkpoint (or its head row): nothing is signed."""


def checkpoint_payload(d: dict) -> bytes:
    """The exact bytes a checkpoint's signature covers, from its published dict."""
    return canonical_json({key: d[key] for key in PAYLOAD_KEYS}).encode()


def latest_checkpoint(chain: str) -> Checkpoint | None:
    return Checkpoint.objects.filter(chain=chain).order_by("-sequence").first()


def issue_checkpoint(*, chain: str, now: datetime | None = None) -> Checkpoint:
    """Sign the chain's current head, or return its checkpoint when the head has not moved.

    The events since the previous checkpoint are walked first, so a checkpoint is only ever signed
    over a chain that extends the one before it. Raises CheckpointRefused otherwise.
    """
    sequence, head = _head(chain)
    previous = latest_checkpoint(chain)
    if previous and previous.sequence >= sequence:
        if (previous.sequence, previous.head_hash) == (sequence, head):
            return previous
        raise CheckpointRefused(f"chain {chain} at #{sequence} does not extend {_named(previous)}")
    after, after_hash = (previous.sequence, previous.head_hash) if previous else (0, GENESIS)
    walk = walk_chain(chain, after=after, after_hash=after_hash, upto=sequence)
    if walk.bad is not None or (walk.newest and walk.newest.hash != head):
        why = walk.problem or f"event #{sequence} is not the chain's head"
        raise CheckpointRefused(f"chain {chain}: {why} (since {_named(previous) or 'its start'})")
    at = (now or timezone.now()).replace(microsecond=0)
    payload = {"chain": chain, "sequence": sequence, "head": head, "at": iso_utc(at)}
    checkpoint = Checkpoint(
        chain=chain,
        sequence=sequence,
        head_hash=head,
        at=at,
        signature=signing.sign(checkpoint_payload(payload)),
        certificate_sha256=signing.identity().fingerprint,
    )
    try:
        with transaction.atomic():
            checkpoint.save(force_insert=True)
    except IntegrityError:  # another worker signed the same head a moment earlier
        return Checkpoint.objects.get(chain=chain, sequence=sequence, head_hash=head)
    return checkpoint


def _head(chain: str) -> tuple[int, str]:
    """(sequence, hash) of the chain's newest event, (0, GENESIS) when it has none; refused when
    the head row records an event the events no longer hold."""
    newest = AuditEvent.objects.filter(chain=chain).order_by("-sequence")
    newest = newest.only("sequence", "hash").first()
    row = ChainHead.objects.filter(chain=chain).first()
    if row and not AuditEvent.objects.filter(chain=chain, sequence=row.sequence,
                                             hash=row.hash).exists():  # fmt: skip
        raise CheckpointRefused(f"chain {chain}: its head #{row.sequence} is not in the events")
    return (newest.sequence, newest.hash) if newest else (0, GENESIS)


def _named(checkpoint: Checkpoint | None) -> str:
    if checkpoint is None:
        return ""
    return f"its checkpoint #{checkpoint.sequence} of {iso_utc(checkpoint.at)}"


def issue_due_checkpoints(now: datetime | None = None) -> int:
    """A checkpoint of each chain whose head moved since its newest one (Celery beat); a chain
    that does not extend its checkpoint is logged as an error and skipped. Returns how many."""
    signed = Checkpoint.objects.filter(chain=OuterRef("chain"), sequence=OuterRef("sequence"))
    moved = ChainHead.objects.exclude(Exists(signed)).order_by("chain")
    issued = 0
    for chain in moved.values_list("chain", flat=True):
        try:
            issue_checkpoint(chain=chain, now=now)
        except CheckpointRefused as refused:
            logger.error("audit checkpoint refused: %s: run verify_audit", refused)
            continue
        issued += 1
    return issued


# --- holding a chain against checkpoints ---------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """One checkpoint held against the chain: `problem` empty when the chain extends it."""

    chain: str
    sequence: int
    at: str
    problem: str


def hold(d: dict, certificate: x509.Certificate | None = None, *, signed: bool = True) -> Held:
    """Whether the chain extends the checkpoint `d` (a dict as published): its signature
    verifies with `certificate` (default: ours), and the chain's event at its sequence has its
    hash. The walk of the chain itself (check_chain) is the caller's."""
    try:
        chain, sequence, head, at = (d["chain"], int(d["sequence"]), d["head"], d["at"])
    except (KeyError, TypeError, ValueError):
        return Held("?", 0, "?", f"not a checkpoint (chain, sequence, head, at): {str(d)[:80]}")
    named = f"the checkpoint of chain {chain} #{sequence} signed {at}"
    if signed:
        problem = _signature_problem(d, certificate)
        if problem:
            return Held(chain, sequence, at, f"{named}: {problem}")
    if sequence == 0:
        return Held(chain, sequence, at, "")
    event = AuditEvent.objects.filter(chain=chain, sequence=sequence).only("hash").first()
    if event is None:
        newest = AuditEvent.objects.filter(chain=chain).order_by("-sequence").first()
        end = f"#{newest.sequence}" if newest else "no event"
        return Held(chain, sequence, at, f"chain truncated: {named} records #{sequence} (hash "
                    f"{head[:16]}...), the chain ends at {end}")  # fmt: skip
    if event.hash != head:
        return Held(chain, sequence, at, f"chain rewritten or forked: {named} records hash "
                    f"{head[:16]}..., event #{sequence} has {event.hash[:16]}...")  # fmt: skip
    return Held(chain, sequence, at, "")


def _signature_problem(d: dict, certificate: x509.Certificate | None) -> str:
    try:
        certificate = certificate or signing.identity().certificate
    except ImproperlyConfigured:
        return "no certificate to check its signature with: give its PEM"
    fingerprint = signing.fingerprint(certificate)
    if d.get("certificate_sha256", fingerprint) != fingerprint:
        return (f"signed by the certificate {d['certificate_sha256'][:16]}..., not "
                f"{fingerprint[:16]}...: give its PEM")  # fmt: skip
    if not signing.verify(checkpoint_payload(d), str(d.get("signature", "")), certificate):
        return "its signature does not verify"
    return ""
