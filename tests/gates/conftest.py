"""Fixtures of the gates tests: the servers the Prometheus source is read from."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gates.prometheus_server import Exporter, FakePrometheus, RealPrometheus


@pytest.fixture
def fake_prometheus() -> Iterator[FakePrometheus]:
    """A fake Prometheus on a free loopback port; the test sets its answer."""
    with FakePrometheus() as fake:
        yield fake


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    """An exporter on a free loopback port, with no gauge yet."""
    with Exporter() as server:
        yield server


@pytest.fixture
def real_prometheus(exporter: Exporter, tmp_path: Path) -> Iterator[RealPrometheus]:
    """Debian's Prometheus scraping ``exporter`` every second; fails if it is not installed."""
    prometheus = RealPrometheus(exporter=exporter, workdir=tmp_path / "prometheus")
    prometheus.start()
    try:
        yield prometheus
    finally:
        prometheus.stop()
