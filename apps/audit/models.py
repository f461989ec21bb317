import re
from datetime import UTC

from django.conf import settings
from django.db import models
from django.db.models import Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

PORTAL_CHAIN = "portal"  # the chain of events without a launch (sign-ins, invitations...)


def chain_name(launch_slug: str) -> str:
    """The chain an event of `launch_slug` is appended to: the launch's own, or the portal's."""
    return launch_slug or PORTAL_CHAIN


# What machines record often about gates (a reading that changed a status, an ingested report):
# never the only event of a change to a launch's people, roles, sign-offs, conditions or
# requests, each of which is recorded under its own action (signoff.invalidated, role.assigned...).
MACHINE_ACTIONS = ("gate.status_changed", "report.ingested")


def people_head(slug=None):
    """An expression: the hash of the newest event of the launch chain `slug` names (by default
    the slug of the launch an annotation is made on) but those of MACHINE_ACTIONS, "" before the
    first. Every change people make to a launch (a sign-off, its invalidation, a role, an
    assignment, a condition, a request, a decision, an admin or spec change) appends an event in
    the change's own transaction, so this names a version of all of it: what is cached under it
    is drawn again after any such change (and after a chain was emptied or rewritten: a hash is
    never reused). An index holds just these events: the newest is one index entry away, however
    many readings came since."""
    newest = AuditEvent.objects.filter(chain=models.OuterRef("slug") if slug is None else slug)
    newest = newest.filter(_by_people()).order_by("-sequence")
    return Coalesce(models.Subquery(newest.values("hash")[:1]), Value(""))


def _by_people() -> RawSQL:
    """The events not of MACHINE_ACTIONS, the actions written into the SQL rather than sent as
    parameters: audit_event_people_newest's condition, which a plan made for any parameter (a
    prepared statement's generic plan, portal/settings.py) could not prove, and so walked back
    over every reading instead."""
    if not all(re.fullmatch(r"[a-z_.]+", action) for action in MACHINE_ACTIONS):
        raise ValueError("MACHINE_ACTIONS are written into SQL: letters, '_' and '.' only")
    listed = ", ".join(f"'{action}'" for action in MACHINE_ACTIONS)
    return RawSQL(f'NOT ("action" IN ({listed}))', (), output_field=models.BooleanField())  # noqa: S611


class AuditEventQuerySet(models.QuerySet):
    def in_chain(self, chain: str) -> "AuditEventQuerySet":
        """One chain's events in chain order (the unique index on (chain, sequence))."""
        return self.filter(chain=chain).order_by("sequence")

    def for_launch(self, slug: str) -> "AuditEventQuerySet":
        """The launch's events, oldest first; `.reverse()` for newest first.

        Ordered by id, not sequence: the launch's events recorded before chains were per launch
        are in the portal chain with its sequences, the newer ones in the launch's chain from 1.
        Ids grow in append order within a chain (record() inserts under the chain's lock).

        The slug is asked as a range of one value, in the direction of the index
        `audit_event_launch_newest` (launch_slug, -id): asked `launch_slug = X ORDER BY id`,
        PostgreSQL may walk the primary key back past every newer event of the other launches
        (it takes a launch's events to be spread evenly over the ids: 16 ms for a launch whose
        events are old, on the bench's data), where the index finds the newest at once.
        """
        return self.filter(launch_slug__range=(slug, slug)).order_by("-launch_slug", "id")


class AuditEvent(models.Model):
    """One state change, hash-chained to the one before it in its chain. Append-only.

    Each launch has its own chain (named by its slug), events without a launch go to the portal
    chain. Names and slugs are copied so the record outlives deletions of what it speaks of.
    """

    # Indexed by the unique (chain, sequence) constraint, which leads with it.
    chain = models.CharField(max_length=80)
    sequence = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=200)
    action = models.CharField(max_length=80, db_index=True)
    launch_slug = models.CharField(max_length=80, blank=True, db_index=True)
    object_type = models.CharField(max_length=80, blank=True)
    object_key = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["chain", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "sequence"], name="audit_event_chain_sequence")
        ]
        indexes = [  # people_head(): the newest such event, not a scan past many readings
            models.Index(fields=["chain", "-sequence"], name="audit_event_people_newest",
                         condition=~models.Q(action__in=MACHINE_ACTIONS)),
            # A launch's newest events (the overview, the audit page): without it PostgreSQL
            # walked back the primary key past every newer event of the other launches.
            models.Index(fields=["launch_slug", "-id"], name="audit_event_launch_newest"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.chain} #{self.sequence} {self.action} {self.object_type}:{self.object_key}"


class ChainHead(models.Model):
    """The newest event of one chain, kept beside the events so an emptied or restarted chain shows.

    record() moves it forward in the event's transaction; PostgreSQL refuses to delete it, to
    truncate its table, or to move it back. `first_hash` is the chain's event #1, so a chain that
    starts again from the zero hash is told apart from one whose tail was deleted.
    """

    chain = models.CharField(max_length=80, unique=True)
    sequence = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    first_hash = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.chain} head #{self.sequence} {self.hash[:16]}"


class CheckpointQuerySet(models.QuerySet):
    def newest_first(self) -> "CheckpointQuerySet":
        return self.order_by("-at", "-id")

    def published(self, chain: str) -> "CheckpointQuerySet":
        """What /audit/checkpoints/ shows anyone: one chain's checkpoints, newest first; the portal
        chain's when `chain` is empty. Never every launch's at once: the list would name every
        launch (their slugs are the chain names), and whoever holds a packet or an export knows
        its launch's slug from it."""
        return self.filter(chain=chain or PORTAL_CHAIN).newest_first()


class Checkpoint(models.Model):
    """A chain's head (sequence and hash) at a time, signed with the portal's key. Append-only.

    Published at /audit/checkpoints/: whoever keeps one can later prove that the chain still holds
    that event, so it was neither cut back nor rewritten since (verify_audit --checkpoint).
    """

    chain = models.CharField(max_length=80)
    sequence = models.PositiveBigIntegerField()
    head_hash = models.CharField(max_length=64)
    at = models.DateTimeField()
    signature = models.TextField(help_text="Detached JWS over checkpoint_payload().")
    certificate_sha256 = models.CharField(max_length=64)

    objects = CheckpointQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain", "sequence"], name="audit_checkpoint_once")
        ]
        indexes = [models.Index(fields=["-at", "-id"], name="audit_checkpoint_newest")]

    def __str__(self) -> str:
        return f"{self.chain} checkpoint #{self.sequence} {self.head_hash[:16]}"

    def as_dict(self) -> dict:
        """What is published and signed (see apps.audit.checkpoints.checkpoint_payload)."""
        return {
            "chain": self.chain,
            "sequence": self.sequence,
            "head": self.head_hash,
            "at": iso_utc(self.at),
            "signature": self.signature,
            "certificate_sha256": self.certificate_sha256,
        }


def iso_utc(moment) -> str:
    """2026-12-06T10:15:00Z: seconds, UTC, the form checkpoints are signed in."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
