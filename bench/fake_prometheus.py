"""The soak's Prometheus: every instant query answered after a delay, a share of them errors.

Each gate's PromQL gets a value on the passing side of its rule, the same every time, so that any
change of status not caused by an error is a bug. A few gates follow a schedule instead: they
cross the threshold for a window of each period, to see that transitions respect ``for:``.
Errors are drawn from a seeded generator: 503, a 500 with Prometheus's error body, or no answer
before the portal's timeout. Every answer is counted per query and outcome.

Built on the loopback server of the gates tests (tests/gates/prometheus_server.py).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.gates.prometheus_server import LoopbackServer

OK, UNAVAILABLE, INTERNAL, TIMEOUT = "ok", "503", "500", "timeout"
ERROR_MIX = ((UNAVAILABLE, 0.4), (INTERNAL, 0.3), (TIMEOUT, 0.3))  # shares of the errors


@dataclass(frozen=True)
class Window:
    """Failing from ``start`` to ``end`` seconds of every ``period`` (since the server started)."""

    period: float
    start: float
    end: float

    def failing(self, elapsed: float) -> bool:
        return self.start <= elapsed % self.period < self.end


@dataclass(frozen=True)
class Series:
    """What one query answers: its passing value, its failing one, and when it fails."""

    passing: Decimal
    failing: Decimal
    window: Window | None = None

    def value(self, elapsed: float) -> Decimal:
        return self.failing if self.window and self.window.failing(elapsed) else self.passing


def passing_value(comparator: str, threshold: Decimal, unit: str = "") -> Decimal:
    """A value comfortably on the passing side of ``comparator threshold``."""
    if comparator == "==":
        return threshold
    if comparator == "!=":
        return threshold + 1
    if comparator in (">", ">="):
        if unit == "%" and threshold < 100:
            return (threshold + 100) / 2
        return threshold * Decimal("1.2") if threshold > 0 else threshold + 1
    return threshold / 2 if threshold > 0 else threshold - 1


def failing_value(comparator: str, threshold: Decimal) -> Decimal:
    """A value clearly on the failing side of ``comparator threshold``."""
    if comparator == "==":
        return threshold + 1
    if comparator == "!=":
        return threshold
    if comparator in (">", ">="):
        return threshold / 2 if threshold > 0 else threshold - 1
    return threshold * 2 if threshold > 0 else threshold + 1


class SoakPrometheus(LoopbackServer):
    """A fake ``/api/v1/query``: late answers, seeded errors, counted outcomes."""

    def __init__(
        self,
        series: dict[str, Series],
        *,
        delay: float = 1.0,
        error_rate: float = 0.1,
        hang: float = 5.0,
        seed: int = 20,
    ) -> None:
        super().__init__()
        self.series = series
        self.delay, self.error_rate, self.hang = delay, error_rate, hang
        self._random = random.Random(seed)  # noqa: S311 - a reproducible draw, not a secret
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.outcomes: Counter[tuple[str, str]] = Counter()  # (query, outcome) -> answers

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(request.path).query).get("query", [""])[0]
        outcome = self._draw()
        with self._lock:
            self.outcomes[(query, outcome)] += 1
        if self.stopping.wait(self.hang if outcome == TIMEOUT else self.delay):
            return
        if outcome == TIMEOUT:
            return  # the portal gave up long ago; close without a word
        status, body = self._answer(query, outcome)
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def counts(self) -> dict[str, dict[str, int]]:
        """Answers so far: query -> outcome -> count."""
        with self._lock:
            found: dict[str, dict[str, int]] = {}
            for (query, outcome), count in self.outcomes.items():
                found.setdefault(query, {})[outcome] = count
        return found

    def _draw(self) -> str:
        with self._lock:
            if self._random.random() >= self.error_rate:
                return OK
            pick, upto = self._random.random(), 0.0
            for outcome, share in ERROR_MIX:
                upto += share
                if pick < upto:
                    return outcome
        return TIMEOUT

    def _answer(self, query: str, outcome: str) -> tuple[int, dict]:
        if outcome == UNAVAILABLE:
            return 503, {"status": "error", "errorType": "unavailable", "error": "soak: busy"}
        if outcome == INTERNAL:
            return 500, {"status": "error", "errorType": "internal", "error": "soak: failure"}
        series = self.series.get(query)
        if series is None:  # not a gate's query: an empty vector, which reads unknown
            return 200, {"status": "success", "data": {"resultType": "vector", "result": []}}
        value = series.value(time.monotonic() - self._started)
        sample = {"metric": {}, "value": [time.time(), format(value, "f")]}
        return 200, {"status": "success", "data": {"resultType": "vector", "result": [sample]}}
