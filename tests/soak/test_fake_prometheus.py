"""The soak's fake Prometheus, read through the portal's own Prometheus source."""

from decimal import Decimal

import pytest

from apps.gates.rules import compare
from apps.gates.sources import SourceError
from apps.gates.sources.prometheus import read
from bench.fake_prometheus import (
    OK,
    Series,
    SoakPrometheus,
    Window,
    failing_value,
    passing_value,
)

QUERY = "max(kafka_brokers)"


@pytest.mark.parametrize("comparator", ["<", "<=", ">", ">=", "==", "!="])
@pytest.mark.parametrize("threshold", ["0", "1", "26", "99.9", "100"])
def test_the_passing_value_passes_and_the_failing_value_fails(comparator, threshold):
    threshold = Decimal(threshold)

    assert compare(passing_value(comparator, threshold, "%"), comparator, threshold)
    assert compare(passing_value(comparator, threshold), comparator, threshold)
    assert not compare(failing_value(comparator, threshold), comparator, threshold)


def test_answers_carry_the_value_of_the_moment_and_are_counted():
    always_failing = Window(period=60, start=0, end=60)
    series = {
        QUERY: Series(Decimal(6), Decimal(2)),
        "up": Series(Decimal(1), Decimal(0), always_failing),
    }
    with SoakPrometheus(series, delay=0.05, error_rate=0.0) as fake:
        assert read(url=fake.url, query=QUERY, timeout=2).value == 6
        assert read(url=fake.url, query="up", timeout=2).value == 0
        with pytest.raises(SourceError, match="empty result"):
            read(url=fake.url, query="not_a_gate", timeout=2)

        assert fake.counts() == {QUERY: {OK: 1}, "up": {OK: 1}, "not_a_gate": {OK: 1}}


def test_errors_are_503_500_or_no_answer_within_the_timeout():
    series = {QUERY: Series(Decimal(6), Decimal(2))}
    with SoakPrometheus(series, delay=0.01, error_rate=1.0, hang=1.5, seed=3) as fake:
        reasons = set()
        for _ in range(12):
            with pytest.raises(SourceError) as caught:
                read(url=fake.url, query=QUERY, timeout=1)
            reasons.add(caught.value.reason)

        assert reasons == {"unavailable: soak: busy", "internal: soak: failure",
                           "timed out after 1.0 s"}  # fmt: skip
        assert OK not in fake.counts()[QUERY]
        assert sum(fake.counts()[QUERY].values()) == 12
