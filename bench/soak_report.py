"""The soak's checks and figures, from what bench/soak.py gathered and from its database.

``judge`` turns the raw run into the report written to var/bench/soak.json: per page the
request count, p50/p95/p99 and statuses; the database connections; the queue; every Prometheus
gate's readings and status changes against its ``for:`` guard (bench/soak_flaps.py); the
sign-offs; and the checks, each ``{"name", "ok", "detail"}``. ``render_markdown`` is the table
pasted into BENCHMARKS.md.
"""

from __future__ import annotations

import platform
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.fake_prometheus import OK
from bench.soak_flaps import FAILING, PASSING, UNKNOWN, GateVerdict, load_verdicts

EXPECTED_STATUSES = {"sign in": {"302"}, "sign": {"302", "409"}}  # every other page: 200
LOG_ALARMS = re.compile(
    r"too many (clients|connections)|remaining connection slots|OperationalError|"
    r"InterfaceError|Traceback|WORKER TIMEOUT|\[CRITICAL\]",
    re.IGNORECASE,
)
ACCESS_STATUS = re.compile(r'" (\d{3}) ')


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return 0.0
    rank = max(1, round(share * len(ordered) + 0.5 - 1e-9))
    return round(ordered[min(rank, len(ordered)) - 1], 1)


def page_figures(pages: dict) -> dict:
    figures = {}
    for name in sorted(pages):
        times = sorted(pages[name]["times_ms"])
        statuses = pages[name]["statuses"]
        expected = EXPECTED_STATUSES.get(name, {"200"})
        figures[name] = {
            "requests": len(times),
            "p50_ms": percentile(times, 0.50),
            "p95_ms": percentile(times, 0.95),
            "p99_ms": percentile(times, 0.99),
            "max_ms": round(times[-1], 1) if times else 0.0,
            "statuses": statuses,
            "5xx": sum(n for s, n in statuses.items() if s.startswith("5")),
            "transport_errors": sum(n for s, n in statuses.items() if not s.isdigit()),
            "unexpected": sum(
                n
                for s, n in statuses.items()
                if s.isdigit() and not s.startswith("5") and s not in expected
            ),
        }
    return figures


def log_alarms(workdir: Path) -> dict[str, list[str]]:
    """Lines of the processes' logs that speak of exhausted connections or errors."""
    found = {}
    for name in ("gunicorn", "worker", "beat", "locust"):
        path = workdir / f"{name}.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        hits = [line[:300] for line in lines if LOG_ALARMS.search(line)]
        if hits:
            found[name] = hits[:20]
    return found


def access_log_5xx(workdir: Path) -> int:
    path = workdir / "access.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return sum(1 for status in ACCESS_STATUS.findall(text) if status.startswith("5"))


def gate_figures(slug: str, answers: dict[str, dict[str, int]], scheduled: list[str]) -> dict:
    """Each Prometheus gate judged against its guard, and against the fake's answers."""
    from apps.gates.models import Gate, Measurement, Source

    verdicts = load_verdicts(slug=slug, scheduled=set(scheduled))
    queries = dict(
        Gate.objects.filter(launch__slug=slug, source=Source.PROMETHEUS).values_list("key", "query")
    )
    gates, mismatched = [], []
    for verdict in verdicts:
        given = answers.get(queries[verdict.key], {})
        row = _gate_row(verdict, given)
        # One measurement per query answered, each error unknown. A value that arrived after
        # the portal's timeout also reads unknown: counted as late, not as a mismatch.
        answered = row["answers_ok"] + row["answers_error"]
        if row["readings"] != answered or row["unknown"] < row["answers_error"]:
            mismatched.append(verdict.key)
        gates.append(row)
    unknown = Measurement.objects.filter(
        gate__launch__slug=slug, gate__source=Source.PROMETHEUS, status=UNKNOWN
    )
    reasons = Counter(unknown.values_list("reason", flat=True)).most_common(10)
    return {
        "gates": gates,
        "mismatched": mismatched,
        "unknown_reasons": dict(reasons),
        "ok": all(v.ok for v in verdicts),
    }


def _gate_row(verdict: GateVerdict, given: dict[str, int]) -> dict:
    statuses = verdict.statuses
    return {
        "key": verdict.key,
        "for": verdict.for_count,
        "scheduled": verdict.scheduled,
        "readings": verdict.readings,
        "values": statuses.get(PASSING, 0) + statuses.get(FAILING, 0),
        "failing": statuses.get(FAILING, 0),
        "unknown": statuses.get(UNKNOWN, 0),
        "answers_ok": given.get(OK, 0),
        "answers_error": sum(given.values()) - given.get(OK, 0),
        "late_answers": statuses.get(UNKNOWN, 0) - (sum(given.values()) - given.get(OK, 0)),
        "changes": verdict.causes,
        "shortest_run": verdict.shortest_run,
        "flaps": verdict.flaps,
        "missed": verdict.missed,
        "unexpected_failing": verdict.unexpected_failing,
    }


def signoff_figures(slug: str) -> dict:
    from apps.audit.services import verify
    from apps.signoffs.models import SignOff

    signoffs = SignOff.objects.filter(launch__slug=slug)
    invalidated = Counter(
        signoffs.filter(invalidated_at__isnull=False).values_list("invalidated_gate", flat=True)
    )
    broken = verify()
    return {
        "signoffs": signoffs.count(),
        "invalidated": sum(invalidated.values()),
        "invalidated_by_gate": dict(invalidated.most_common()),
        "audit_chain": "holds" if broken is None else f"broken at #{broken.sequence}",
    }


def judge(raw: dict, *, options, elapsed: float) -> dict:
    """The report: figures and checks."""
    workdir = Path(raw["workdir"])
    pages = page_figures(raw["load"]["pages"])
    samples = raw["samples"]
    gates = gate_figures(raw["accounts"]["slug"], raw["prometheus"], raw["schedules"])
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": options.command,
        "elapsed_s": round(elapsed),
        "machine": machine(),
        "setup": {
            "seconds": options.seconds,
            "viewers": options.viewers,
            "signers": options.signers,
            "gate_interval": options.interval,
            "tick_s": options.tick,
            "worker_concurrency": options.concurrency,
            "prometheus_timeout_s": options.prometheus_timeout,
            "prometheus_delay_s": 1.0,
            "prometheus_error_rate": options.error_rate,
        },
        "requests": sum(p["requests"] for p in pages.values()),
        "requests_per_s": round(sum(p["requests"] for p in pages.values()) / options.seconds, 1),
        "pages": pages,
        "sign_outcomes": raw["load"].get("sign_outcomes", {}),
        "access_log_5xx": access_log_5xx(workdir),
        "database": {
            "max_soak_connections": _most(samples, "soak_connections"),
            "max_server_connections": _most(samples, "server_connections"),
            "max_connections": raw["max_connections"],
            "samples": len(samples),
            "sampler_errors": raw["sampler_errors"],
        },
        "queue": {"max_depth": _most(samples, "queue"), "drain": raw["drain"]},
        "machine_load": _load(samples),
        "gates": gates,
        "signing": signoff_figures(raw["accounts"]["slug"]),
        "log_alarms": log_alarms(workdir),
    }
    report["checks"] = checks(report)
    return report


def _most(samples: list[dict], key: str) -> int:
    return max((sample[key] for sample in samples), default=0)


def _load(samples: list[dict]) -> dict:
    """The machine's 1-minute load average while the soak ran: others share the CPUs."""
    loads = [sample["load"] for sample in samples]
    mean = sum(loads) / len(loads) if loads else 0.0
    return {"mean": round(mean, 1), "max": round(max(loads, default=0.0), 1)}


def checks(report: dict) -> list[dict]:
    pages, database, queue, gates = (
        report["pages"],
        report["database"],
        report["queue"],
        report["gates"],
    )
    five = sum(p["5xx"] for p in pages.values())
    transport = sum(p["transport_errors"] for p in pages.values())
    unexpected = {name: p["statuses"] for name, p in pages.items() if p["unexpected"]}
    flaps = {
        g["key"]: g["flaps"] + g["missed"] for g in gates["gates"] if g["flaps"] or g["missed"]
    }
    unstable = [
        g["key"]
        for g in gates["gates"]
        if g["changes"].get("unexplained") or g["unexpected_failing"]
    ]
    drain = queue["drain"]
    headroom = database["max_connections"] - database["max_server_connections"]
    return [
        _check(
            "no 5xx",
            five == 0 and report["access_log_5xx"] == 0,
            f"{five} seen by the load, {report['access_log_5xx']} in gunicorn's access log",
        ),
        _check("no transport errors", transport == 0, f"{transport} timeouts or refused"),
        _check("only expected statuses", not unexpected, unexpected or "every page as expected"),
        _check(
            "load ran",
            report["requests"] > 0 and all(p["requests"] for p in pages.values()),
            f"{report['requests']} requests over {len(pages)} pages",
        ),
        _check(
            "database connections never exhausted",
            headroom > 0
            and not database["sampler_errors"]
            and not _connection_alarms(report["log_alarms"]),
            f"soak database max {database['max_soak_connections']}, server max "
            f"{database['max_server_connections']} of {database['max_connections']}",
        ),
        _check(
            "queue drained",
            drain["queued"] == 0 and drain["unacked"] == 0,
            f"{drain['queued']} queued, {drain['unacked']} unacknowledged after "
            f"{drain['seconds']} s (bound {drain['bound_seconds']} s); "
            f"max depth {queue['max_depth']}",
        ),
        _check("no flaps beyond for:", not flaps, flaps or "every change allowed by its guard"),
        _check(
            "stable gates stable",
            not unstable,
            unstable or "no failing reading or unexplained change on a stable gate",
        ),
        _check(
            "one measurement per Prometheus answer",
            not gates["mismatched"],
            gates["mismatched"] or "one reading per answer, an unknown per error, gate by gate",
        ),
        _check(
            "audit chain holds",
            report["signing"]["audit_chain"] == "holds",
            report["signing"]["audit_chain"],
        ),
        _check("clean logs", not report["log_alarms"], report["log_alarms"] or "none"),
    ]


def _check(name: str, ok: bool, detail) -> dict:
    return {"name": name, "ok": bool(ok), "detail": detail}


def _connection_alarms(alarms: dict[str, list[str]]) -> list[str]:
    pattern = re.compile(r"connection|OperationalError", re.IGNORECASE)
    return [line for lines in alarms.values() for line in lines if pattern.search(line)]


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def render_markdown(report: dict) -> str:
    """The soak's section of BENCHMARKS.md."""
    setup = report["setup"]
    lines = [
        "## Soak (RELIABILITY case 20)",
        "",
        f"`{report['command']}` on {report['when']} ({report['machine']}): "
        f"{setup['viewers']} dashboard viewers and {setup['signers']} signers for "
        f"{setup['seconds']} s against gunicorn (2 workers, DEBUG off), a Celery worker "
        f"({setup['worker_concurrency']} processes) and beat (tick {setup['tick_s']} s), "
        f"Prometheus gates polled every {setup['gate_interval']} from a fake Prometheus that "
        f"answers after {setup['prometheus_delay_s']:g} s, {setup['prometheus_error_rate']:.0%} "
        f"of answers errors (503, 500, no answer within {setup['prometheus_timeout_s']} s). "
        f"The machine's load average meanwhile: {report['machine_load']['mean']:g} "
        f"(max {report['machine_load']['max']:g}; other work shares its CPUs).",
        "",
        "| page | requests | p50 ms | p95 ms | p99 ms | max ms | 5xx | other errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, page in report["pages"].items():
        lines.append(
            f"| {name} | {page['requests']} | {page['p50_ms']:g} | {page['p95_ms']:g} | "
            f"{page['p99_ms']:g} | {page['max_ms']:g} | {page['5xx']} | "
            f"{page['transport_errors'] + page['unexpected']} |"
        )
    lines += [
        "",
        "| figure | value |",
        "| --- | --- |",
        *_figure_rows(report),
        "",
        "| gate | for | readings | unknown | failing | changes (cause: count) | shortest run |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for gate in report["gates"]["gates"]:
        causes = ", ".join(f"{cause}: {n}" for cause, n in sorted(gate["changes"].items()))
        mark = " (scheduled)" if gate["scheduled"] else ""
        lines.append(
            f"| {gate['key']}{mark} | {gate['for']} | {gate['readings']} | {gate['unknown']} | "
            f"{gate['failing']} | {causes or '-'} | {gate['shortest_run'] or '-'} |"
        )
    lines += ["", "Checks:", ""]
    lines += [
        f"- {'pass' if c['ok'] else '**FAIL**'}: {c['name']} ({_plain(c['detail'])})"
        for c in report["checks"]
    ]
    return "\n".join(lines) + "\n"


def _figure_rows(report: dict) -> list[str]:
    database, queue, gates, signing = (
        report["database"],
        report["queue"],
        report["gates"],
        report["signing"],
    )
    answers_ok = sum(g["answers_ok"] for g in gates["gates"])
    answers_error = sum(g["answers_error"] for g in gates["gates"])
    late = sum(max(g["late_answers"], 0) for g in gates["gates"])
    causes: Counter = Counter()
    for gate in gates["gates"]:
        causes.update(gate["changes"])
    flaps = sum(len(g["flaps"]) + len(g["missed"]) for g in gates["gates"])
    by_for: Counter = Counter()
    for gate in gates["gates"]:
        by_for[gate["for"]] += gate["changes"].get("source error", 0)
    totals: Counter = Counter()
    for counts in report["sign_outcomes"].values():
        totals.update(counts)
    outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(totals.items()))
    invalidated = ", ".join(f"{k}: {v}" for k, v in signing["invalidated_by_gate"].items())
    return [
        f"| requests | {report['requests']} ({report['requests_per_s']:g}/s) |",
        f"| 5xx | {sum(p['5xx'] for p in report['pages'].values())} "
        f"(gunicorn access log: {report['access_log_5xx']}) |",
        f"| database connections (soak database, max) | {database['max_soak_connections']} |",
        f"| database connections (whole server, max) | {database['max_server_connections']} "
        f"of max_connections {database['max_connections']} |",
        f"| queue depth (max) | {queue['max_depth']} |",
        f"| queue after load and beat stopped | {queue['drain']['queued']} queued, "
        f"{queue['drain']['unacked']} unacknowledged, after {queue['drain']['seconds']} s |",
        f"| Prometheus answers | {answers_ok} values ({late} too late), {answers_error} errors |",
        f"| gate status changes | {', '.join(f'{k}: {v}' for k, v in sorted(causes.items()))} |",
        f"| changes to/from unknown by `for` | "
        f"{', '.join(f'for {k}: {v}' for k, v in sorted(by_for.items()))} |",
        f"| flaps beyond `for:` (or missed changes) | {flaps} |",
        f"| sign submissions | {outcomes or '-'} |",
        f"| sign submissions by role | {_by_role(report['sign_outcomes']) or '-'} |",
        f"| sign-offs recorded / invalidated | {signing['signoffs']} / {signing['invalidated']}"
        f"{' (' + invalidated + ')' if invalidated else ''} |",
    ]


def _by_role(outcomes: dict[str, dict[str, int]]) -> str:
    return "; ".join(
        f"{role}: " + ", ".join(f"{outcome} {n}" for outcome, n in sorted(counts.items()))
        for role, counts in sorted(outcomes.items())
    )


def _plain(detail) -> str:
    return detail if isinstance(detail, str) else str(detail)[:300]
