"""Packets kept: rendered, stored once by SHA-256 in the `packets` storage and audited; the
current packet of a launch, and a stored packet opened for reading."""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import record
from apps.launches.models import Launch
from apps.reports.models import Packet, actor_name
from apps.reports.packets.render import packet_context, render_pdf
from apps.signoffs.models import SignOff
from apps.signoffs.snapshot import launch_digest
from portal import storage

PACKET_DIR = "packets"


# What a packet shows: an event of one of these kinds after it was built makes it out of date.
PACKET_SHOWS = (
    "launch.imported", "activity.updated", "gate.status_changed", "gate.attested",
    "waiver.granted", "signoff.signed", "signoff.invalidated", "launch.ready",
    "launch.not_ready", "launch.decided",
)  # fmt: skip


def current_packet(launch: Launch, now: datetime | None = None) -> Packet | None:
    """The launch's newest issued packet while what it shows still holds: the same launch
    digest, and no status change, attestation, waiver, sign-off or decision since it was built."""
    packet = Packet.objects.for_launch(launch).first()
    if packet is None or packet.digest != launch_digest(launch, now or timezone.now()).digest:
        return None
    since = packet.built_at
    events = AuditEvent.objects.filter(launch_slug=launch.slug, at__gt=since)
    signatures = SignOff.objects.filter(launch=launch).filter(
        Q(signed_at__gt=since) | Q(invalidated_at__gt=since) | Q(superseded_at__gt=since)
    )
    moved = events.filter(action__in=PACKET_SHOWS).exists() or signatures.exists()
    return None if moved else packet


def ensure_packet(*, launch: Launch, actor, now: datetime | None = None) -> Packet:
    """The current packet, or a new one built (stored and audited) now. Renders: never call it
    inside a web request."""
    return current_packet(launch, now) or build_packet(launch=launch, actor=actor, now=now)


def build_packet(
    *, launch: Launch, actor, now: datetime | None = None, requested_at: datetime | None = None
) -> Packet:
    """Render the launch's packet as of `now`, store it once, and audit `packet.built`.

    Rendering (seconds) runs outside any transaction; the row and its audit event are written
    together. `actor` is a user or a name (a command, the system).
    """
    rendered = render_stored(launch=launch, now=now or timezone.now())
    with transaction.atomic():
        return save_packet(rendered, actor=actor, requested_at=requested_at)


@dataclass(frozen=True)
class Rendered:
    """A packet rendered and written to the store, not yet recorded."""

    launch: Launch
    now: datetime
    context: dict
    sha256: str
    size: int
    path: str


def render_stored(*, launch: Launch, now: datetime) -> Rendered:
    """Render and sign the packet as of `now` and write it to the store (no database write):
    its SHA-256 is the signed file's."""
    context = packet_context(launch, now)
    pdf = render_pdf(context)
    sha256 = hashlib.sha256(pdf).hexdigest()
    return Rendered(launch, now, context, sha256, len(pdf), store_pdf(pdf, sha256))


def save_packet(rendered: Rendered, *, actor, requested_at: datetime | None = None) -> Packet:
    """The Packet row and its `packet.built` event; call inside a transaction."""
    head = rendered.context["chain_head"]
    packet = Packet.objects.create(
        launch=rendered.launch,
        sha256=rendered.sha256,
        size=rendered.size,
        path=rendered.path,
        requested_by=actor if getattr(actor, "pk", None) else None,
        requested_by_name=actor_name(actor),
        requested_at=requested_at or rendered.now,
        built_at=rendered.now,
        status=rendered.context["status"],
        digest=rendered.context["digest"],
        chain_head=head.hash if head else "",
    )
    record(
        actor=actor,
        action="packet.built",
        launch_slug=rendered.launch.slug,
        obj_type="packet",
        obj_key=packet.sha256,
        data={"status": packet.status, "digest": packet.digest, "size": packet.size},
    )
    return packet


def store_pdf(pdf: bytes, sha256: str) -> str:
    """Store the bytes once under packets/ in the `packets` storage; return their name."""
    return storage.save_once(storage.PACKETS, f"{PACKET_DIR}/{sha256[:2]}/{sha256}.pdf", pdf)


def open_packet(packet: Packet):
    """The packet's PDF opened for reading (MissingFile if its storage lost it)."""
    return storage.open_stored(storage.PACKETS, packet.path)
