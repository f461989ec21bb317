"""results.json (the keys issue 8 names) and the table of BENCHMARKS.md."""

from pathlib import Path

PAGE_NAMES = ("launches", "overview", "timeline", "gates", "gate_detail", "api_gates", "ingest")
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
TARGETS = {
    "load_p99_ms": 100,
    "queries": 12,
    "gate_evaluations_per_s": 200,
    "packet_seconds": 5,
    "export_peak_rss_mb": 200,
}


def results(details: dict, machine: dict) -> dict:
    """The figures in the shape of issue 8; a page that is not served is null."""
    service, load = details["service"], details["load"]
    capacity, queries = details["capacity"], details["queries"]
    floor = service["floor"]["p50_ms"]
    out_pages = {}
    for name in PAGE_NAMES:
        if name not in service:
            out_pages[name] = None
            continue
        under = load.get(name, {})
        out_pages[name] = {
            "service_p50_ms": service[name]["p50_ms"],
            "service_p99_ms": service[name]["p99_ms"],
            "service_floor_ratio": round(service[name]["p50_ms"] / floor, 2) if floor else None,
            "load_p50_ms": under.get("p50_ms"),
            "load_p95_ms": under.get("p95_ms"),
            "load_p99_ms": under.get("p99_ms"),
            "capacity_rps": capacity.get(name, {}).get("rps"),
            "queries": queries.get(name),
        }
    evaluations = details["evaluations"]
    return {
        "pages": out_pages,
        "floor": {"service_p50_ms": floor, "capacity_rps": capacity["floor"]["rps"]},
        "load_errors": load.get("Aggregated", {}).get("failures", 0),
        "gate_evaluations_per_s": evaluations["prometheus"]["per_s"],
        "gate_evaluations_first_round_per_s": evaluations["prometheus"]
        .get("first_round", {})
        .get("per_s"),
        "report_evaluations_per_s": evaluations["report"]["per_s"],
        "packet_seconds": details["packet"]["packet_seconds"],
        "packet_unsigned_seconds": details["packet"]["packet_unsigned_seconds"],
        "packet_signing_seconds": details["packet"]["packet_signing_seconds"],
        "packet_floor_seconds": details["packet"]["packet_floor_seconds"],
        "export_peak_rss_mb": details["export"]["peak_rss_mb"],
        "export_mb_per_s": details["export"]["mb_per_s"],
        "audit_writes": details["audit_writes"],
        "schedule_ms": details["schedule"]["p50_ms"],
        "sized": sized(service, details.get("sized", {})),  # issue 21: 25, 100, 400 gates
        "machine": machine,
    }


def sized(service: dict, inproc: dict) -> dict:
    """Issue 21: the gates page at 25, 100 and 400 gates over HTTP (service p50), its ratios,
    and each page's in-process p50 and queries per size."""
    floor = service["floor"]["p50_ms"]
    p50 = {size: service.get(f"gates@{size}", {}).get("p50_ms") for size in ("25", "100", "400")}
    return {
        "gates_p50_ms": p50,
        "gates_100_floor_ratio": round(p50["100"] / floor, 2) if p50["100"] and floor else None,
        "gates_400_100_ratio": round(p50["400"] / p50["100"], 2) if p50["400"] and p50["100"]
        else None,
        "inproc": inproc,
    }  # fmt: skip


def sized_rows(results: dict) -> list[tuple]:
    """The summary's rows of issue 21's targets (met: None when not measured)."""
    found = results.get("sized") or {}
    ratio, growth = found.get("gates_100_floor_ratio"), found.get("gates_400_100_ratio")
    inproc = found.get("inproc", {})
    queries = {name: [inproc[size][name]["queries"] for size in ("25", "100", "400")
                      if size in inproc] for name in ("gates", "overview", "sign")}  # fmt: skip
    rows = [
        ("gates page p50 at 25 / 100 / 400 gates (ms)",
         " / ".join(str(v) for v in found.get("gates_p50_ms", {}).values()), "", None),
        ("gates page at 100 gates ÷ floor", ratio, "<= 5", None if ratio is None else ratio <= 5),
        ("gates page at 400 ÷ at 100 gates", growth, "<= 1.5",
         None if growth is None else growth <= 1.5),
    ]  # fmt: skip
    for name, counts in queries.items():
        if counts:
            text = " / ".join(map(str, counts))
            rows.append((f"{name} queries at 25 / 100 / 400 gates", text, "constant",
                         len(set(counts)) == 1))  # fmt: skip
    return rows


def _cell(value, unit: str = "") -> str:
    return "n/a" if value is None else f"{value}{unit}"


def table(results: dict) -> list[str]:
    lines = [
        "| page | service p50 | service p99 | ÷ floor | load p50 | load p95 | load p99 "
        "| capacity req/s | queries |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, page in results["pages"].items():
        if page is None:
            lines.append(f"| {name} | not served | | | | | | | |")
            continue
        lines.append(
            f"| {name} | {page['service_p50_ms']} ms | {page['service_p99_ms']} ms "
            f"| {page['service_floor_ratio']} | {_cell(page['load_p50_ms'], ' ms')} "
            f"| {_cell(page['load_p95_ms'], ' ms')} | {_cell(page['load_p99_ms'], ' ms')} "
            f"| {_cell(page['capacity_rps'])} | {_cell(page['queries'])} |"
        )
    floor = results["floor"]
    lines.append(
        f"| floor (/bench/floor) | {floor['service_p50_ms']} ms | | 1 | | | "
        f"| {floor['capacity_rps']} | |"
    )
    return lines


def summary(results: dict) -> list[str]:
    worst = max((p["load_p99_ms"] or 0 for p in results["pages"].values() if p), default=0)
    worst_is = max(
        results["pages"], key=lambda n: (results["pages"][n] or {}).get("load_p99_ms") or 0
    )
    most = max((p["queries"] or 0 for p in results["pages"].values() if p), default=0)
    writes = results["audit_writes"]
    signing = results["packet_signing_seconds"]
    rows = [
        ("worst page p99 under load", f"{worst} ms ({worst_is})", "< 25 ms (issue 21)", worst < 25),
        ("errors under load", results["load_errors"], "0", results["load_errors"] == 0),
        ("most queries on a page", most, "<= 12", most <= 12),
        (
            "gate evaluations/s (1 worker, Prometheus, a poll)",
            results["gate_evaluations_per_s"],
            ">= 200",
            (results["gate_evaluations_per_s"] or 0) >= 200,
        ),
        (
            "gate evaluations/s, first round (every gate changes status)",
            results["gate_evaluations_first_round_per_s"],
            "",
            None,
        ),
        ("report gate evaluations/s (one ingest)", results["report_evaluations_per_s"], "", None),
        ("packet, 120 gates (s)", results["packet_seconds"], "< 5", results["packet_seconds"] < 5),
        ("packet without its signature (s)", results["packet_unsigned_seconds"], "", None),
        ("PAdES signing of that packet (s)", signing, "<= 0.3", signing <= 0.3),
        ("packet floor: one-page WeasyPrint (s)", results["packet_floor_seconds"], "", None),
        (
            "export 1 GB: peak RSS (MB)",
            results["export_peak_rss_mb"],
            "< 200",
            results["export_peak_rss_mb"] < 200,
        ),
        ("export 1 GB: MB/s", results["export_mb_per_s"], "", None),
        (
            "critical path + forecasts, 400 activities (ms)",
            results["schedule_ms"],
            "< 20",
            results["schedule_ms"] < 20,
        ),
        (
            "audited writes/s: 2 launches side by side (1 launch alone)",
            f"{writes['two_launches_per_s']} ({writes['one_launch_per_s']})",
            "> 1 launch alone",
            writes["two_launches_per_s"] > writes["one_launch_per_s"],
        ),
        *sized_rows(results),
    ]
    lines = ["| figure | value | target | met |", "| --- | ---: | --- | --- |"]
    for label, value, target, met in rows:
        mark = "" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {label} | {value} | {target} | {mark} |")
    return lines


def write_benchmarks(path: Path, results: dict, *, command: str) -> None:
    """Replace the bench section of BENCHMARKS.md (other sections, e.g. the soak, stay)."""
    machine = results["machine"]
    section = [
        START,
        "## `make bench`",
        "",
        f"Produced by `{command}` on {machine['date']}: {machine['cpu']}, {machine['cores']} "
        f"cores, {machine['memory_gb']} GB, {machine['os']}, Python {machine['python']}, "
        f"PostgreSQL {machine.get('postgresql', '?')} (autovacuum "
        f"{machine.get('autovacuum', '?')}; the bench vacuums and checkpoints before measuring); "
        "load average at start "
        f"{machine['load_average_at_start']} (the machine is shared). Figures from "
        "`var/bench/results.json`; gunicorn with 2 sync workers, `DEBUG` off, on loopback. "
        "Service times follow 3 warm-up requests per page; the load follows one request per "
        "page and launch (steady state: a page drawn cold is the `sized` figures' \"not "
        "cached\"), and its ingests keep redrawing one launch's gate parts.",
        "",
        *summary(results),
        "",
        *table(results),
        "",
        END,
    ]
    replace_section(path, START, END, "\n".join(section[1:-1]))


def replace_section(path: Path, start: str, end: str, body: str) -> None:
    """Put `body` between the `start` and `end` markers of the file (appended when absent);
    the rest of the file stays as it is."""
    section = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
