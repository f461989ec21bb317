"""k6 end-of-test summaries: latency percentiles, failed requests, checks and thresholds.

Two JSON shapes are read:

* ``handleSummary()`` data (k6 >= 0.30): ``metrics[name] = {"type", "values": {...},
  "thresholds": {"p(95)<500": {"ok": bool}}}`` - ``ok: true`` means the threshold passed;
* the legacy ``--summary-export`` file: flat ``metrics[name] = {"avg": ..., "thresholds":
  {"p(95)<500": bool}}`` - here ``true`` means the threshold FAILED (k6's own documented quirk).

``http_req_failed`` is a Rate whose ``passes`` counts FAILED requests; ``checks`` is a Rate whose
``passes`` counts passed checks. Percentiles are in milliseconds, rounded up to 0.01.

A metric with no samples gives no evidence: k6 still shows its thresholds (as passed, since
0.38) and an empty Trend as all zeros. So a derived figure over such a metric is ``None``, and
``thresholds.failed`` is ``None`` when any threshold sits on a Trend or Rate without samples (a
Counter's 0 is a real count, so its thresholds stay evaluated) or when no threshold is defined.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ._common import (
    ParsedReport,
    ReportError,
    as_count,
    as_dict,
    as_number,
    ceil_cents,
    count,
    load_json,
    names_note,
    percent,
    rate_percent,
    short,
)

FORMAT = "k6"
METRICS = (
    "http_req_duration.p95_ms",
    "http_req_duration.p99_ms",
    "http_req_failed.percent",
    "checks.pass_percent",
    "thresholds.failed",
)


class _Summary:
    """The metrics of one summary with uniform access to their statistics."""

    def __init__(self, doc: dict[str, Any]) -> None:
        if "metrics" not in doc:
            raise ReportError("k6: no 'metrics' object: not a k6 summary")
        raw = as_dict(doc["metrics"], FORMAT, "'metrics'")
        self.entries = {name: as_dict(e, FORMAT, f"metric {name!r}") for name, e in raw.items()}
        self.legacy = not any("values" in entry for entry in self.entries.values())
        self.stats = {name: self._stats(name, e) for name, e in self.entries.items()}

    def _stats(self, name: str, entry: dict[str, Any]) -> dict[str, Any]:
        if self.legacy:
            return {key: value for key, value in entry.items() if key != "thresholds"}
        return as_dict(entry.get("values"), FORMAT, f"values of metric {name!r}")

    def kind(self, name: str) -> str:
        declared = self.entries[name].get("type")
        if isinstance(declared, str):
            return declared
        stats = self.stats[name]  # legacy files carry no type: infer it from the statistics
        if "passes" in stats or "fails" in stats:
            return "rate"
        if "avg" in stats or "med" in stats:
            return "trend"
        return "counter" if "count" in stats else "gauge"

    def empty(self, name: str) -> bool:
        """True when the metric is missing or provably has no samples."""
        if name not in self.stats:
            return True
        stats, kind = self.stats[name], self.kind(name)
        if kind == "rate" and "passes" in stats and "fails" in stats:
            return self.number(name, "passes") + self.number(name, "fails") == 0
        if kind != "trend":
            return False
        if "count" in stats:
            return self.number(name, "count") == 0
        if name.startswith("http_req_") and "{" not in name and "http_reqs" in self.stats:
            return self.number("http_reqs", "count") == 0
        # An empty Trend is summarised as all zeros; a real one almost never is.
        return all(value == 0 for value in stats.values() if isinstance(value, int | Decimal))

    def number(self, name: str, stat: str) -> Decimal:
        if stat not in self.stats[name]:
            raise ReportError(f"k6: metric {name!r} has no {stat!r} value")
        return as_number(self.stats[name][stat], FORMAT, f"{name}.{stat}")

    def counts(self, name: str, stat: str) -> int:
        return as_count(self.stats[name][stat], FORMAT, f"{name}.{stat}")


def parse(data: bytes) -> ParsedReport:
    summary = _Summary(as_dict(load_json(data, FORMAT), FORMAT, "the document"))
    notes: list[str] = []
    metrics: dict[str, Decimal | None] = {}
    metrics.update(_durations(summary, notes))
    metrics["http_req_failed.percent"] = _rate(summary, "http_req_failed", notes)
    metrics["checks.pass_percent"] = _rate(summary, "checks", notes)
    metrics["thresholds.failed"] = _thresholds(summary, notes)
    return ParsedReport(FORMAT, metrics, tuple(notes))


def _durations(summary: _Summary, notes: list[str]) -> dict[str, Decimal | None]:
    name = "http_req_duration"
    if summary.empty(name):
        notes.append(f"{name} has no samples: no HTTP request completed")
        return {"http_req_duration.p95_ms": None}
    found: dict[str, Decimal | None] = {}
    for stat, key in (("p(95)", "http_req_duration.p95_ms"), ("p(99)", "http_req_duration.p99_ms")):
        if stat in summary.stats[name]:
            found[key] = ceil_cents(summary.number(name, stat))
    if "http_req_duration.p95_ms" not in found:
        notes.append("http_req_duration has no p(95): add it to summaryTrendStats")
        found["http_req_duration.p95_ms"] = None
    return found


def _rate(summary: _Summary, name: str, notes: list[str]) -> Decimal | None:
    """``passes`` as a percentage of all samples of a Rate metric."""
    if name not in summary.stats:
        notes.append(f"no {name} metric in the summary")
        return None
    if summary.empty(name):
        notes.append(f"{name} has no samples")
        return None
    stats = summary.stats[name]
    if "passes" in stats and "fails" in stats:
        passes = summary.counts(name, "passes")
        return percent(passes, passes + summary.counts(name, "fails"))
    rate = summary.number(name, "value" if summary.legacy else "rate")
    if not 0 <= rate <= 1:
        raise ReportError(f"k6: {name} rate {rate} is not between 0 and 1")
    return rate_percent(rate)


def _thresholds(summary: _Summary, notes: list[str]) -> Decimal | None:
    failed: list[str] = []
    unevaluable: list[str] = []
    defined = 0
    for name, entry in summary.entries.items():
        thresholds = entry.get("thresholds")
        if thresholds is None:
            continue
        for expression, outcome in as_dict(thresholds, FORMAT, f"thresholds of {name}").items():
            defined += 1
            label = f"{name} {expression}"
            if summary.empty(name) and summary.kind(name) != "counter":
                unevaluable.append(label)
            elif _threshold_failed(outcome, summary.legacy, label):
                failed.append(label)
    if failed:
        notes.append(names_note("thresholds failed", failed))
    if unevaluable:
        notes.append(names_note("thresholds over metrics without samples", unevaluable))
        return None
    if defined == 0:
        notes.append("no thresholds defined: nothing to pass or fail")
        return None
    return count(len(failed))


def _threshold_failed(outcome: Any, legacy: bool, label: str) -> bool:
    if legacy:
        # --summary-export: true means the threshold was crossed, i.e. FAILED.
        if not isinstance(outcome, bool):
            raise ReportError(f"k6: threshold {label!r} is {short(outcome)}, expected true/false")
        return outcome
    ok = as_dict(outcome, FORMAT, f"threshold {label!r}").get("ok")
    if not isinstance(ok, bool):
        raise ReportError(f"k6: threshold {label!r} has no boolean 'ok'")
    return not ok
