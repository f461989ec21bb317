"""The audit log: record() appends a hash-chained event inside the caller's transaction.

One chain per launch (named by its slug) and one for events without a launch (PORTAL_CHAIN),
each with its own sequence, head and lock: writers of two launches never wait for each other.
"""

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from apps.audit.models import PORTAL_CHAIN, AuditEvent, ChainHead, chain_name
from portal.prepared import PreparedQuery

GENESIS = "0" * 64
# pg_advisory_xact_lock(_LOCK_SPACE, hashtext(chain)) serialises appends to one chain. Two chains
# whose names hash alike only wait for each other: the lock orders, the unique index guards.
_LOCK_SPACE = 726_354

logger = logging.getLogger(__name__)


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(prev_hash: str, body: dict) -> str:
    return hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()


def event_body(event: AuditEvent) -> dict:
    """The fields the hash covers, in the form verify() recomputes them from. The chain is not
    among them (the events recorded before chains were per launch did not have one): a launch
    chain's events name its launch, which check_chain() holds them to."""
    return {
        "sequence": event.sequence,
        "at": event.at.isoformat(),
        "actor": event.actor_name,
        "action": event.action,
        "launch": event.launch_slug,
        "object_type": event.object_type,
        "object_key": event.object_key,
        "data": event.data,
    }


def record(
    *, actor, action: str, launch_slug: str = "", obj_type: str = "", obj_key: str = "", data=None
) -> AuditEvent:
    """Append one event to the chain of `launch_slug` (the portal's without one).

    Must run inside the transaction of the change it records; holds the chain's lock until then.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record() must run inside the transaction of the change")
    chain = chain_name(launch_slug)
    _lock(chain)
    last = _LAST_EVENT.first(chain=chain)
    user = actor if getattr(actor, "pk", None) else None
    event = AuditEvent(
        chain=chain,
        sequence=(last.sequence + 1) if last else 1,
        at=timezone.now(),
        actor=user,
        actor_name=_actor_name(actor),
        action=action,
        launch_slug=launch_slug,
        object_type=obj_type,
        object_key=str(obj_key),
        data=json.loads(canonical_json(data or {})),
        prev_hash=last.hash if last else GENESIS,
    )
    event.hash = event_hash(event.prev_hash, event_body(event))
    event.save(force_insert=True)
    _advance_head(event)
    return event


# record()'s read of its chain's last event, asked by every audited write: built once per
# process (portal.prepared).
_LAST_EVENT = PreparedQuery(
    lambda chain: (
        AuditEvent.objects.filter(chain=chain).order_by("-sequence").only("sequence", "hash")[:1]
    ),
    chain=str,
)


RECENT = 8  # events in a launch's recent activity (the overview)


def recent_events(slug: str) -> list[AuditEvent]:
    """The RECENT newest events of the launch, with what a list of them shows (when, who, what,
    of what): its recent activity. One query, built once per process (portal.prepared)."""
    return _RECENT_EVENTS(slug=slug)


_RECENT_EVENTS = PreparedQuery(
    lambda slug: (
        AuditEvent.objects.for_launch(slug).reverse()
        .only("at", "actor_name", "action", "object_key")[:RECENT]
    ),
    slug=str,
)  # fmt: skip


def lock_chains(launch_slugs: Iterable[str]) -> None:
    """Take the locks of the chains of several launches at once, in name order, before recording
    into more than one of them in a transaction: two such transactions then never deadlock."""
    for chain in sorted({chain_name(slug) for slug in launch_slugs}):
        _lock(chain)


def _lock(chain: str) -> None:
    if connection.vendor == "postgresql":  # SQLite: one writer at a time anyway
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_LOCK_SPACE, chain])


def _advance_head(event: AuditEvent) -> None:
    """Move the chain's head to `event`, under the chain lock.

    The head moves only from the event `event` links to, so when the events were emptied or
    rewritten it stays where it was, for verify() to name, however many events follow.
    """
    moved = ChainHead.objects.filter(
        chain=event.chain, sequence=event.sequence - 1, hash=event.prev_hash
    ).update(sequence=event.sequence, hash=event.hash)
    if moved:
        return
    head = ChainHead.objects.filter(chain=event.chain).first()
    if head is None:
        first = event if event.sequence == 1 else _event(event.chain, 1)
        ChainHead.objects.create(
            chain=event.chain,
            sequence=event.sequence,
            hash=event.hash,
            first_hash=first.hash if first else "",
        )
    elif head.sequence < event.sequence and _holds(head):
        # Events were appended beside record() (bench/series.py COPYs them): catch up.
        ChainHead.objects.filter(pk=head.pk).update(sequence=event.sequence, hash=event.hash)
    else:
        logger.error("audit %s is not in the events any more: run verify_audit", head)


def _event(chain: str, sequence: int) -> AuditEvent | None:
    return AuditEvent.objects.filter(chain=chain, sequence=sequence).first()


def _holds(head: ChainHead) -> bool:
    return AuditEvent.objects.filter(
        chain=head.chain, sequence=head.sequence, hash=head.hash
    ).exists()


def _actor_name(actor) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return actor.get_full_name() or actor.get_username()


# --- verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainCheck:
    """What verify_audit reports of one chain: whether it holds and, if not, where and why."""

    ok: bool
    chain: str = PORTAL_CHAIN
    events: int = 0  # how many were walked
    newest: AuditEvent | None = None
    event: AuditEvent | None = None  # the first bad event, or the missing one the head records
    problem: str = ""


def chains() -> list[str]:
    """Every chain that has events or a head row, the portal chain first."""
    names = set(ChainHead.objects.values_list("chain", flat=True))
    names |= set(AuditEvent.objects.order_by().values_list("chain", flat=True).distinct())
    return sorted(names, key=lambda name: (name != PORTAL_CHAIN, name))


def check_chains(chain: str | None = None) -> list[ChainCheck]:
    """check_chain() of each chain, or of the one named."""
    return [_check(name) for name in ([chain] if chain else chains())]


def check_chain(chain: str | None = None) -> ChainCheck:
    """The first chain that does not hold, or when all do the newest event's chain's check."""
    checks = check_chains(chain)
    broken = [check for check in checks if not check.ok]
    if broken or not checks:
        return broken[0] if broken else ChainCheck(ok=True, chain=chain or PORTAL_CHAIN)
    return max(checks, key=lambda check: check.newest.pk if check.newest else 0)


def verify(chain: str | None = None) -> AuditEvent | None:
    """The first event that breaks a chain, or None when they hold (see check_chain())."""
    return check_chain(chain).event


def _check(chain: str) -> ChainCheck:
    """Recompute every link and hash of the chain, then hold its events against its head row."""
    # The head first: the events committed with it, and any newer ones, are then in the walk.
    head = ChainHead.objects.filter(chain=chain).first()
    walk = walk_chain(chain)
    bad, problem = walk.bad, walk.problem
    if bad is None and head is not None:
        bad, problem = _against_head(head, walk.newest)
    return ChainCheck(ok=bad is None, chain=chain, events=walk.events, newest=walk.newest,
                      event=bad, problem=problem)  # fmt: skip


@dataclass(frozen=True)
class Walk:
    events: int
    newest: AuditEvent | None
    bad: AuditEvent | None
    problem: str


def walk_chain(chain: str, *, after: int = 0, after_hash: str = GENESIS, upto=None) -> Walk:
    """Walk the chain's events from `after` + 1 (which must link to `after_hash`) to its end or
    to `upto`: the newest event, and the first whose link, hash or launch does not hold."""
    prev, expected, count, event = after_hash, after + 1, 0, None
    events = AuditEvent.objects.in_chain(chain).filter(sequence__gt=after)
    if upto is not None:
        events = events.filter(sequence__lte=upto)
    for event in events.iterator(chunk_size=2000):
        problem = _link_problem(event, prev, expected, first=after + 1)
        if problem:
            return Walk(count, event, event, problem)
        prev, expected, count = event.hash, expected + 1, count + 1
    return Walk(count, event, None, "")


def _link_problem(event: AuditEvent, prev: str, expected: int, *, first: int = 1) -> str:
    n = event.sequence
    gap = f"#{expected} is missing" if n == expected + 1 else f"#{expected} to #{n - 1} are missing"
    if n != expected and expected == first:
        return f"the events begin at #{n}: {gap}"
    if n != expected:
        return f"event #{n} follows #{expected - 1}: {gap}"
    if event.prev_hash != prev and event.prev_hash == GENESIS:
        return f"chain restarted at event #{n}: it starts again from the zero hash"
    if event.prev_hash != prev:
        return f"event #{n} does not link to event #{n - 1}"
    if event.hash != event_hash(prev, event_body(event)):
        return f"event #{n} was altered: its hash does not match its content"
    if event.chain != PORTAL_CHAIN and event.launch_slug != event.chain:
        return f"event #{n} names the launch {event.launch_slug!r}, not its chain's"
    return ""


def _against_head(head: ChainHead, newest: AuditEvent | None) -> tuple[AuditEvent | None, str]:
    """The events, which chain from the zero hash, must still hold the event the head records."""
    recorded = f"the head records sequence {head.sequence} (hash {head.hash[:16]}...)"
    missing = AuditEvent(chain=head.chain, sequence=head.sequence, hash=head.hash, prev_hash="")
    if newest is None:
        return missing, f"chain emptied: {recorded}, the chain has no events left"
    first = _event(head.chain, 1)  # walk_chain() found it
    if head.first_hash and first.hash != head.first_hash:
        return first, (
            f"chain restarted: {recorded}, the events end at sequence {newest.sequence} "
            "which starts again from the zero hash"
        )
    if newest.sequence < head.sequence:
        return missing, f"events deleted: {recorded}, the events end at sequence {newest.sequence}"
    if not _holds(head):
        event = _event(head.chain, head.sequence)
        return event, f"chain rewritten: {recorded}, event #{head.sequence} has another hash"
    return None, ""
