"""Migrating a log of one global chain to one chain per launch rewrites nothing: the old events stay
the portal chain, so heads printed before still verify, and each launch's chain starts with an
event naming the portal chain's head at that moment."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.models import AuditEvent, ChainHead
from apps.audit.services import GENESIS, check_chains, event_body, event_hash, record
from apps.specs.services import import_launch_spec
from apps.webhooks.models import EventKind, WebhookDelivery, WebhookSubscription
from tests.helpers import to_yaml

ROOT = Path(__file__).resolve().parents[2]
start_launch_chains = importlib.import_module(
    "apps.audit.migrations.0008_launch_chains"
).start_launch_chains
# Before 0006 there was one chain: sequences were global and launches' events interleaved.
LEGACY_LAUNCHES = ["atlas", "", "borealis", "atlas", "", "atlas"]


def _legacy_events(Event) -> list:
    """Events in the shape of the one global chain, written with `Event` (a model of the time)."""
    prev, events = GENESIS, []
    for n, slug in enumerate(LEGACY_LAUNCHES, start=1):
        event = Event(sequence=n, at=timezone.now(), actor_name="alice", action=f"a.{n}",
                      launch_slug=slug, data={"n": n}, prev_hash=prev)  # fmt: skip
        event.hash = prev = event_hash(prev, event_body(event))
        event.save(force_insert=True)
        events.append(event)
    return events


@pytest.mark.django_db
def test_the_old_chain_becomes_the_portal_chain_and_launch_chains_start_from_its_head(capsys):
    old = _legacy_events(lambda **fields: AuditEvent(chain="portal", **fields))
    ChainHead.objects.create(chain="portal", sequence=6, hash=old[-1].hash,
                             first_hash=old[0].hash)  # fmt: skip
    start_launch_chains(apps, None)
    start_launch_chains(apps, None)  # twice: nothing more
    for slug in ("atlas", "borealis"):
        first = AuditEvent.objects.get(chain=slug)
        assert (first.sequence, first.prev_hash, first.action) == (
            1,
            GENESIS,
            "audit.chain_started",
        )
        assert first.data == {"from_chain": "portal", "sequence": 6, "head": old[-1].hash}
        assert ChainHead.objects.get(chain=slug).first_hash == first.hash
    assert list(AuditEvent.objects.in_chain("portal")) == old  # untouched
    call_command("verify_audit", "--head", old[-1].hash)  # the head printed before the change
    assert "audit chain holds: 8 events in 3 chains" in capsys.readouterr().out
    event = _recorded("atlas")
    assert (event.chain, event.sequence) == ("atlas", 2)
    assert all(check.ok for check in check_chains())


def _recorded(slug: str, action: str = "a.after") -> AuditEvent:
    with transaction.atomic():
        return record(actor="alice", action=action, launch_slug=slug)


@pytest.mark.django_db
def test_a_webhook_delivery_from_before_does_not_block_one_of_the_same_sequence(spec):
    launch = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    subscription = WebhookSubscription.objects.create(
        launch=launch, url="https://hooks.example/in", events=[EventKind.DECISION]
    )
    sequence = AuditEvent.objects.filter(chain=launch.slug).count() + 1
    WebhookDelivery.objects.create(subscription=subscription, event_chain="portal",
                                   event_sequence=sequence, event_kind=EventKind.DECISION,
                                   payload={})  # an event of the one chain there was  # fmt: skip
    event = _recorded(launch.slug, EventKind.DECISION)
    assert (event.chain, event.sequence) == (launch.slug, sequence)
    assert subscription.deliveries.filter(event_chain=launch.slug, event_sequence=sequence).exists()


# --- the real migrations, on SQLite (the embedded mode) and on PostgreSQL ------------------------

MIGRATE_WITH_HISTORY = """
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from tests.audit.test_chain_migration import _legacy_events
call_command("migrate", "audit", "0005_fill_chain_head", verbosity=0)
state = MigrationLoader(connection).project_state(("audit", "0005_fill_chain_head"))
events = _legacy_events(state.apps.get_model("audit", "AuditEvent"))
state.apps.get_model("audit", "ChainHead").objects.create(
    chain="portal", sequence=len(events), hash=events[-1].hash, first_hash=events[0].hash)
call_command("migrate", verbosity=0)
print("old head", events[-1].hash)
call_command("verify_audit", "--head", events[-1].hash)
call_command("verify_audit", "--launch", "atlas")
"""


def _manage(url: str, *args: str) -> str:
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          cwd=ROOT, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'portal.sqlite3'}"
        return
    if connection.vendor != "postgresql":
        pytest.skip("the suite's database is not PostgreSQL")
    db = connection.settings_dict
    server = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    )
    name = f"{db['NAME']}_chain_migration"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db
def test_migrating_a_database_with_history_keeps_old_heads_verifiable(fresh_url):
    out = _manage(fresh_url, "-c", MIGRATE_WITH_HISTORY)
    old_head = out.split("old head ", 1)[1].split()[0]
    assert "audit chain holds: 8 events in 3 chains" in out
    assert f"  chain portal: 6 events, head {old_head}" in out
    assert "audit chain holds: 1 events, head " in out  # atlas: its audit.chain_started
