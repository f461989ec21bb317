"""Bench steps that run inside a Django process on the bench database; each prints JSON.

python -m bench.inproc token SLUG          an ingest token for the launch
python -m bench.inproc settle              VACUUM (ANALYZE) and CHECKPOINT the bench database
python -m bench.inproc queries SLUG        SQL queries per page (CaptureQueriesContext)
python -m bench.inproc packet SLUG N       seconds to render the packet (best of N): in all,
                                           unsigned, signing alone; the floor
python -m bench.inproc evidence write|remove [--small]   the big evidence files of launch 0
python -m bench.inproc issue SLUG          build and store the launch's packet (as an auditor
                                           exports after a packet was issued)
python -m bench.inproc export SLUG OUT     export_evidence; seconds and this process's peak RSS
python -m bench.inproc sized N             the gates page, the overview and a sign page of each
                                           sized launch (25, 100, 400 gates): p50 ms of N
                                           requests and queries, cached and not; the floor
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

from bench import pages
from bench.dataset import Params

ROOT = Path(__file__).resolve().parent.parent
JUNIT = ROOT / "tests" / "fixtures" / "reports" / "junit" / "pytest-9.2.0-generated.xml"


def token(slug: str) -> dict:
    from apps.api.models import Scope
    from apps.api.services import create_api_token
    from apps.launches.models import Launch

    launch = Launch.objects.get(slug=slug)
    name = f"bench-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    _, raw = create_api_token(launch=launch, name=name, scopes=[Scope.INGEST], actor="bench")
    gates = launch.gates.active().order_by("order")
    detail = gates.filter(source="prometheus").first() or gates.first()
    return {"token": raw, "gate": detail.key}


def freshen() -> dict:
    """In a live portal the worker keeps polling: each bench gate whose evidence went stale since
    the data set was made gets one new reading, its newest value again (recorded as the worker
    records, in batches)."""
    from django.utils import timezone

    from apps.gates.models import Gate
    from apps.gates.services import Evaluation, Reading, record_readings

    now = timezone.now()
    gates = (
        Gate.objects.filter(launch__slug__regex=r"^bench-g?[0-9]+$", last_measured_at__isnull=False)
        .active()
        .select_related("launch")
    )
    stale = [
        g
        for g in gates
        if g.latest_value is not None
        and (g.last_evidence_at is None or g.last_evidence_at < now - g.max_age)
    ]
    for start in range(0, len(stale), 200):
        batch = stale[start : start + 200]
        detail = {"bench": "freshened"}
        record_readings(
            [Evaluation(g, Reading(value=g.latest_value, detail=detail), at=now) for g in batch],
            actor="bench",
        )
    return {"freshened": len(stale)}


def settle() -> dict:
    """What autovacuum and the checkpointer do to a live database, done before the measuring:
    the rows the data set's generation and freshen() left dead are vacuumed (their visibility
    and hint bits set, so the first reads under load write nothing), the planner's statistics
    made anew, and the dirty pages written out. A machine may run PostgreSQL with autovacuum
    off (this one does); the bench then does not measure what its own generation left."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]
        started = time.monotonic()
        cursor.execute("VACUUM (ANALYZE)")
        cursor.execute("CHECKPOINT")
    return {"autovacuum": autovacuum, "seconds": round(time.monotonic() - started, 1)}


def queries(slug: str, token_value: str, gate: str) -> dict:
    """The SQL queries of each page, for the bench program manager, on the bench data; beside
    each, `name:all_statements` counts transaction control statements too."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.dataset import PM_EMAIL

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(get_user_model().objects.get(email=PM_EMAIL))
    found = pages.for_launch(pages.pages(slug, gate=gate), slug)
    counts = {}
    for name, page in {**found, "floor": {"path": pages.FLOOR}}.items():
        _request(client, page, token_value)  # warm: sessions, content types, caches
        with CaptureQueriesContext(connection) as captured:
            response = _request(client, page, token_value)
        ok = response.status_code in (200, 201)
        statements = [q["sql"] for q in captured.captured_queries]
        counts[name] = sum(not _is_transaction_control(sql) for sql in statements) if ok else None
        counts[f"{name}:all_statements"] = len(statements)
        if not ok:
            print(f"{name}: {response.status_code}", file=sys.stderr)
    return counts


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def _is_transaction_control(sql: str) -> bool:
    """BEGIN, COMMIT, savepoints: not counted as queries (they are reported beside them)."""
    return sql.lstrip().upper().startswith(TRANSACTION_CONTROL)


def _request(client, page: dict, token_value: str):
    if page.get("method") == "POST":
        with JUNIT.open("rb") as report:
            return client.post(
                page["path"], {"file": report}, HTTP_AUTHORIZATION=f"Bearer {token_value}"
            )
    return client.get(page["path"])


def sized(repeats: int) -> dict:
    """Per sized launch, per page: p50 ms in this process (Django's test client, the portal's
    middleware) with the rows' cache warm, the first (cold) request's ms, and the queries of a
    warm request; the floor the same way. The sign page is its widest role's."""
    from django.contrib.auth import get_user_model
    from django.core.cache import cache

    from apps.launches.models import Launch
    from bench.dataset import PM_EMAIL, params_for

    users = get_user_model().objects
    pm = users.get(email=PM_EMAIL)
    out: dict = {"floor": _timed(pm, pages.FLOOR, repeats)}
    for size in params_for(small=False).sized:
        launch = Launch.objects.filter(slug=Params().sized_slug(size)).first()
        if launch is None:
            continue
        role = max(launch.roles.filter(retired_at__isnull=True), key=lambda r: len(r.categories))
        base = f"/launches/{launch.slug}/"
        signer = users.get(username=f"bench-{role.key}")
        found = {"gates": (pm, f"{base}gates/"), "overview": (pm, base),
                 "sign": (signer, f"{base}signoffs/{role.key}/sign/")}  # fmt: skip
        cache.clear()  # the first request renders: its time is the cold one
        out[str(size)] = {name: _timed(user, path, repeats) for name, (user, path) in found.items()}
        out[str(size)]["gates_count"] = launch.gates.active().count()
    return out


def _timed(user, path: str, repeats: int) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(user)
    started = time.perf_counter()
    response = client.get(path)
    cold = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code}")
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        client.get(path)
        times.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    statements = [q["sql"] for q in captured.captured_queries]
    return {
        "p50_ms": round(statistics.median(times) * 1000, 2),
        "cold_ms": round(cold * 1000, 2),
        "queries": sum(not _is_transaction_control(sql) for sql in statements),
        "bytes": len(response.content),
    }


def packet(slug: str, repeats: int) -> dict:
    """Seconds to render the launch's full packet (best of `repeats`), and the floor: WeasyPrint
    rendering a one-page document."""
    from django.utils import timezone
    from weasyprint import HTML

    from apps.audit.models import AuditEvent
    from apps.launches.models import Launch
    from apps.reports.packets.render import packet_context, render_pdf, sign_packet

    launch = Launch.objects.get(slug=slug)
    floor, full, unsigned, signing, size = [], [], [], [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        HTML(string="<h1>Floor</h1><p>One page.</p>").write_pdf()
        floor.append(time.perf_counter() - started)
        # render_packet() in two timed steps: the PDF without its PAdES signature, then signing.
        started = time.perf_counter()
        context = packet_context(launch, timezone.now())
        pdf = render_pdf(context, signed=False)
        signed_at = time.perf_counter()
        size = len(sign_packet(pdf, context))
        unsigned.append(signed_at - started)
        signing.append(time.perf_counter() - signed_at)
        full.append(time.perf_counter() - started)
    return {
        "packet_seconds": round(min(full), 3),
        "packet_unsigned_seconds": round(min(unsigned), 3),
        "packet_signing_seconds": round(min(signing), 3),
        "packet_floor_seconds": round(min(floor), 3),
        "runs": [round(t, 3) for t in full],
        "pdf_bytes": size,
        "gates": launch.gates.active().count(),
        "signoffs": launch.signoffs.count(),
        "audit_events": AuditEvent.objects.filter(launch_slug=slug).count(),
    }


def evidence(action: str, small: bool) -> dict:
    """Write the big evidence files of launch 0 (the export's gigabyte), or remove them."""
    from django.conf import settings

    from apps.gates.models import Evidence
    from bench.dataset import params_for, write_big_evidence

    root = Path(settings.MEDIA_ROOT)
    if action == "write":
        paths, total = write_big_evidence(params_for(small), root)
        return {"files": len(paths), "bytes": total}
    removed = 0
    for relative in Evidence.objects.filter(name__startswith="big-report-").values_list(
        "path", flat=True
    ):
        path = root / relative
        if path.exists():
            path.unlink()
            removed += 1
    return {"removed": removed}


def issue(slug: str) -> dict:
    from apps.launches.models import Launch
    from apps.reports.packets.store import build_packet

    packet = build_packet(launch=Launch.objects.get(slug=slug), actor="bench")
    return {"packet": packet.sha256, "pages_bytes": packet.size}


def export(slug: str, out: str) -> dict:
    """The export command in this process; peak RSS is this process's own high-water mark
    (VmHWM), not ru_maxrss of a child, which Linux starts from the parent's size at fork."""
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("export_evidence", slug, "--out", out, stdout=open(os.devnull, "w"))  # noqa: SIM115
    seconds = time.perf_counter() - started
    status = Path("/proc/self/status").read_text()
    peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return {"seconds": seconds, "peak_rss_mb": round(peak_kb / 1024, 1)}


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    command, *args = argv
    if command == "token":
        result = token(args[0])
    elif command == "freshen":
        result = freshen()
    elif command == "settle":
        result = settle()
    elif command == "queries":
        result = queries(args[0], args[1], args[2])
    elif command == "sized":
        result = sized(int(args[0]))
    elif command == "packet":
        result = packet(args[0], int(args[1]))
    elif command == "issue":
        result = issue(args[0])
    elif command == "export":
        result = export(args[0], args[1])
    elif command == "evidence":
        result = evidence(args[0], "--small" in args)
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
