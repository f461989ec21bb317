"""Each launch with history gets its own chain, started by an `audit.chain_started` event.

Nothing recorded so far is rewritten: the events stay in the portal chain with their sequences and
hashes (0007), so every head printed before still verifies there. The first event of a launch's
chain records the portal chain's head at this moment, where the launch's earlier history ends.
"""

import hashlib
import json

from django.db import migrations
from django.utils import timezone

# As in apps.audit.services when this was written, frozen here.
PORTAL_CHAIN = "portal"
GENESIS = "0" * 64


def _canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _hash(prev_hash: str, event) -> str:
    body = {
        "sequence": event.sequence,
        "at": event.at.isoformat(),
        "actor": event.actor_name,
        "action": event.action,
        "launch": event.launch_slug,
        "object_type": event.object_type,
        "object_key": event.object_key,
        "data": event.data,
    }
    return hashlib.sha256((prev_hash + _canonical_json(body)).encode()).hexdigest()


def start_launch_chains(apps, schema_editor) -> None:
    AuditEvent = apps.get_model("audit", "AuditEvent")
    ChainHead = apps.get_model("audit", "ChainHead")
    portal = AuditEvent.objects.filter(chain=PORTAL_CHAIN)
    head = portal.order_by("-sequence").only("sequence", "hash").first()
    if head is None:
        return
    slugs = portal.exclude(launch_slug="").order_by("launch_slug").values_list("launch_slug")
    started = set(AuditEvent.objects.exclude(chain=PORTAL_CHAIN).values_list("chain", flat=True))
    now = timezone.now()
    for slug in sorted({slug for (slug,) in slugs.distinct()} - started):
        event = AuditEvent(
            chain=slug, sequence=1, at=now, actor_name="system", action="audit.chain_started",
            launch_slug=slug, object_type="chain", object_key=slug, prev_hash=GENESIS,
            data={"from_chain": PORTAL_CHAIN, "sequence": head.sequence, "head": head.hash},
        )  # fmt: skip
        event.hash = _hash(GENESIS, event)
        event.save(force_insert=True)
        ChainHead.objects.create(chain=slug, sequence=1, hash=event.hash, first_hash=event.hash)


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_event_chain")]
    # Not reversible: the chains' first events are part of the append-only log.
    operations = [migrations.RunPython(start_launch_chains)]
