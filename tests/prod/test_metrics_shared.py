"""/metrics on several web replicas: the database-derived figures are read at most once per
METRICS_DB_INTERVAL, through the shared cache (Redis, as in production), and carry their time."""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from portal import metrics
from tests.celery_worker import broker_url
from tests.prod.test_metrics import measure, scrape, value

COMPUTED = "launch_portal_metrics_computed_timestamp_seconds"


@pytest.fixture
def shared_cache(settings):
    """The replicas' Redis cache (the suite's Redis, a key prefix of its own), interval 2 s."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": broker_url(),
            "KEY_PREFIX": f"metrics-test-{uuid.uuid4().hex[:8]}",
        }
    }
    settings.METRICS_DB_INTERVAL = 2
    return settings


def _database_queries(client) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        samples = scrape(client)
    return len(queries), samples


@pytest.mark.django_db
def test_two_scrapes_within_the_interval_read_the_database_once(client, launch, shared_cache):
    measure("coverage", value="90")
    first_queries, first = _database_queries(client)
    second_queries, second = _database_queries(client)
    assert first_queries >= 4  # measurements, status changes, sign-offs, gates
    assert second_queries == 0
    assert second[(COMPUTED, ())] == first[(COMPUTED, ())]
    assert abs(first[(COMPUTED, ())] - time.time()) < 5
    name = "launch_portal_gate_evaluations_total"
    assert value(second, name, status="passing", source="report") == 1

    measure("coverage", value="50")  # within the interval: not seen yet
    assert value(scrape(client), name, status="failing", source="report") == 0
    time.sleep(2.1)
    later_queries, later = _database_queries(client)
    assert later_queries >= 4
    assert later[(COMPUTED, ())] > first[(COMPUTED, ())] + 2
    assert value(later, name, status="failing", source="report") == 1
    assert value(later, name, status="passing", source="report") == 1
    assert value(later, "launch_portal_gates", state="failing") == 1


@pytest.mark.django_db(transaction=True)
def test_replicas_scraping_at_once_read_the_database_once(launch, shared_cache):
    """Four scrapes released together (four connections, as four replicas): one snapshot."""
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL: set DATABASE_URL (make test does)")
    measure("coverage", value="90")
    barrier = threading.Barrier(4)

    def replica(_):
        barrier.wait()
        try:
            return metrics.database_snapshot()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        snapshots = list(pool.map(replica, range(4)))
    # Each read stamps its own time: one time means one read.
    assert len({snapshot.at for snapshot in snapshots}) == 1
    assert all(s.gates == snapshots[0].gates for s in snapshots)
    assert snapshots[0].gates.get("passing") == 1


@pytest.mark.django_db
def test_an_interval_of_0_reads_the_database_on_every_scrape(client, launch, settings):
    settings.METRICS_DB_INTERVAL = 0
    first_queries, first = _database_queries(client)
    second_queries, second = _database_queries(client)
    assert first_queries >= 4 and second_queries >= 2
    assert second[(COMPUTED, ())] > first[(COMPUTED, ())]
