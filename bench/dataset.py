"""The bench data set: launches, gates, measurements, audit events, sign-offs and people.

Launches are imported from specs/llm-research-lab.yaml under other slugs (plus generated gates,
so each has `gates_per_launch`); the bulk rows go in with COPY (bench/series.py). A marker
table records the parameters, so a second run with the same parameters does nothing.

    DATABASE_URL=postgres://.../launch_portal_bench python -m bench.dataset [--small]
"""

import argparse
import base64
import copy
import hashlib
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "llm-research-lab.yaml"
FIXTURES = ROOT / "tests" / "fixtures" / "reports"
PASSWORD = "bench-launch-portal-8"  # noqa: S105 - loopback-only bench accounts
PM_EMAIL = "bench-pm@example.com"
MARKER = "bench_dataset"


@dataclass(frozen=True)
class Params:
    launches: int = 20
    gates_per_launch: int = 120
    measurements: int = 2_400_000
    audit_events: int = 50_000
    days: int = 30
    uploads_per_format: int = 10  # distinct small reports per launch and format
    big_evidence_files: int = 200  # of launch 0, for the export benchmark
    big_evidence_bytes: int = 5 * 1024 * 1024
    seed: int = 8
    # Launches of these many gates besides (issue 21: a page's cost must not grow with them).
    sized: tuple[int, ...] = (25, 100, 400)
    version: int = 3  # of this generator: a change of what it writes bumps it

    def slug(self, index: int) -> str:
        return f"bench-{index:02d}"

    def sized_slug(self, gates: int) -> str:
        return f"bench-g{gates:03d}"


SMALL = Params(
    launches=2,
    gates_per_launch=20,
    measurements=1_000,
    audit_events=300,
    uploads_per_format=2,
    big_evidence_files=2,
    big_evidence_bytes=64 * 1024,
)


def params_for(small: bool) -> Params:
    """The full data set, or the smoke test's (`--small`)."""
    return SMALL if small else Params()


# --- the marker -----------------------------------------------------------------------------------


def marked(params: Params) -> dict:
    """The parameters as the marker holds them (JSON: tuples read back as lists)."""
    return json.loads(json.dumps(asdict(params)))


def stored_params() -> dict | None:
    """The parameters of the data set in the database, or None when there is none."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [MARKER])
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SELECT params FROM {MARKER} WHERE id = 1")  # noqa: S608
        row = cursor.fetchone()
    return json.loads(row[0]) if row and isinstance(row[0], str) else (row[0] if row else None)


def _mark(params: Params) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKER} (id int PRIMARY KEY, params jsonb, "
            "created_at timestamptz DEFAULT now())"
        )
        cursor.execute(
            f"INSERT INTO {MARKER} (id, params) VALUES (1, %s) ON CONFLICT (id) "  # noqa: S608
            "DO UPDATE SET params = EXCLUDED.params",
            [json.dumps(asdict(params))],
        )


def ensure(params: Params, *, log=print) -> bool:
    """Generate the data set unless the database already holds this one; True when generated.

    A database holding another data set (or a partial one) is refused: the runner recreates it.
    """
    from apps.launches.models import Launch

    found = stored_params()
    if found == marked(params):
        log("data set present with the same parameters: kept")
        return False
    if found is not None or Launch.objects.exists():
        raise RuntimeError("the bench database holds other data: recreate it (bench/run.py does)")
    generate(params, log=log)
    return True


# --- generation -----------------------------------------------------------------------------------


def generate(params: Params, *, log=print) -> dict:
    """Write the whole data set; returns the row counts."""
    from django.db import connection
    from django.utils import timezone

    from bench import series

    started, now = time.monotonic(), timezone.now()
    people = create_people(params)
    launches = [import_launch(params, index) for index in range(params.launches)]
    main_gates = len(launches) * params.gates_per_launch
    launches += [import_sized_launch(params, size) for size in params.sized]
    assign(launches, people)
    log(f"{len(launches)} launches imported ({time.monotonic() - started:.0f}s)")
    gates = _gates(launches)
    evidence = register_evidence(params, launches, gates)
    # The sized launches' gates get as many measurements each as the others'.
    per_gate = params.measurements // max(main_gates, 1)
    histories = series.write_measurements(
        gates, per_gate=per_gate, days=params.days, now=now, evidence=evidence, seed=params.seed
    )
    changes = series.write_status_changes(histories)
    log(
        f"{per_gate * len(gates):,} measurements, {changes:,} status changes "
        f"({time.monotonic() - started:.0f}s)"
    )
    signoffs = sign(launches, people, now=timezone.now())
    existing = _audit_count()
    bodies = series.audit_bodies(
        histories,
        total=max(params.audit_events - existing, 0),
        now=now,
        actors=list(people.values()),
        seed=params.seed,
    )
    series.write_audit_events(bodies)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    _mark(params)
    counts = {
        "launches": len(launches),
        "gates": len(gates),
        "measurements": per_gate * len(gates),
        "status_changes": changes,
        "signoffs": signoffs,
        "audit_events": _audit_count(),
    }
    log(f"data set generated in {time.monotonic() - started:.0f}s: {counts}")
    return counts


def _audit_count() -> int:
    from apps.audit.models import AuditEvent

    return AuditEvent.objects.count()


def _gates(launches) -> list:
    from apps.gates.models import Gate

    return list(
        Gate.objects.filter(launch__in=launches)
        .select_related("launch")
        .order_by("launch__slug", "order")
    )


def launch_spec(params: Params, index: int, *, size: int | None = None) -> dict:
    """The demo spec under another slug, with generated gates up to `gates_per_launch` (or
    `size`: a sized launch, named by its number of gates)."""
    spec = yaml.safe_load(SPEC.read_text())
    if size is None:
        slug, name = params.slug(index), f"Bench Launch {index:02d}"
        wanted = params.gates_per_launch
    else:
        slug, name, wanted = params.sized_slug(size), f"Bench Launch of {size} gates", size
    spec["launch"].update(slug=slug, name=name, version=f"1.{index}.0")
    gates = spec["gates"][:wanted]
    junit = next(g for g in spec["gates"] if g.get("format") == "junit")
    if junit not in gates:  # report ingest is measured with a JUnit file
        gates[-1] = junit
    templates = [g for g in spec["gates"] if g["source"] in ("prometheus", "report", "manual")]
    number = 0
    while len(gates) < wanted:
        template = copy.deepcopy(templates[number % len(templates)])
        template["key"] = f"{template['key'][:60]}-x{number:03d}"
        template["name"] = f"{template['name'][:150]} (extra {number})"
        if template["source"] == "prometheus":
            template["query"] = f'bench_probe{{launch="{slug}",probe="{number}"}}'
        gates.append(template)
        number += 1
    spec["gates"] = gates
    return spec


def import_launch(params: Params, index: int):
    from apps.specs.services import import_launch_spec

    raw = yaml.safe_dump(launch_spec(params, index), sort_keys=False)
    return import_launch_spec(raw=raw, actor="bench dataset").launch


def import_sized_launch(params: Params, size: int):
    from apps.specs.services import import_launch_spec

    spec = launch_spec(params, 90 + params.sized.index(size), size=size)
    raw = yaml.safe_dump(spec, sort_keys=False)
    return import_launch_spec(raw=raw, actor="bench dataset").launch


def create_people(params: Params) -> dict:
    """A program manager (who signs in for the bench), an auditor, a staff admin, one signer
    per role; every password is PASSWORD (hashed once)."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    roles = [role["key"] for role in yaml.safe_load(SPEC.read_text())["roles"]]
    hashed = make_password(PASSWORD)
    people = {}
    for key in ["pm", "auditor", "admin", *roles]:
        username = f"bench-{key}"
        user = get_user_model().objects.create(
            username=username,
            email=f"{username}@example.com",
            password=hashed,
            first_name=key.replace("-", " ").title(),
            last_name="Bench",
            is_staff=key == "admin",
            is_superuser=key == "admin",
        )
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        people[key] = user
    return people


def assign(launches, people: dict) -> None:
    from apps.signoffs.models import Assignment, Duty

    rows = []
    for launch in launches:
        rows.append(Assignment(launch=launch, user=people["pm"], duty=Duty.PROGRAM_MANAGER))
        rows.append(Assignment(launch=launch, user=people["auditor"], duty=Duty.AUDITOR))
        for role in launch.roles.all():
            rows.append(
                Assignment(launch=launch, user=people[role.key], duty=Duty.SIGNER, role=role)
            )
    Assignment.objects.bulk_create(rows)


def sign(launches, people: dict, *, now) -> int:
    """Every role of every launch signs once, through the product's sign_off: an approval where
    its scope allows one, a rejection with the reason otherwise."""
    from apps.signoffs.models import Decision
    from apps.signoffs.services import SigningRefused, sign_off
    from apps.signoffs.snapshot import take_snapshot

    count = 0
    for launch in launches:
        for role in launch.roles.select_related("launch"):
            snapshot = take_snapshot(role, now)
            approve = not snapshot.not_good()
            try:
                sign_off(
                    role=role,
                    user=people[role.key],
                    now=now,
                    previous_id=None,
                    decision=Decision.APPROVE if approve else Decision.REJECT,
                    comment="" if approve else "blocking gates are not passing",
                    conditions=[],
                    digest_seen=snapshot.digest,
                    ip="10.0.0.8",
                    user_agent="bench",
                )
                count += 1
            except SigningRefused as exc:
                print(f"{launch.slug}/{role.key}: not signed ({exc})", file=sys.stderr)
    return count


# --- evidence -------------------------------------------------------------------------------------


def register_evidence(params: Params, launches, gates) -> dict[int, list[str]]:
    """Small real report files per launch and format, and the big files of launch 0 (rows only:
    bench/run.py writes their bytes before the export and removes them after).

    Returns gate id -> the evidence SHA-256s its measurements refer to, oldest first.
    """
    from apps.gates.evidence import store_evidence
    from apps.gates.models import Source

    by_gate: dict[int, list[str]] = {}
    report_gates = [g for g in gates if g.source == Source.REPORT]
    for index, launch in enumerate(launches):
        for fmt in sorted({g.format for g in report_gates if g.launch_id == launch.id}):
            base = _fixture(fmt)
            shas = [
                store_evidence(
                    data=base + b"\n" * (index * params.uploads_per_format + k),
                    name=f"{fmt}-{k}",
                    content_type=fmt,
                ).sha256
                for k in range(params.uploads_per_format)
            ]
            for gate in report_gates:
                if gate.launch_id == launch.id and gate.format == fmt:
                    by_gate[gate.id] = list(shas)
    first = [g for g in report_gates if launches and g.launch_id == launches[0].id]
    for number, sha in enumerate(register_big_evidence(params)):
        if first:
            by_gate[first[number % len(first)].id].append(sha)
    return by_gate


def _fixture(fmt: str) -> bytes:
    files = sorted((FIXTURES / fmt).glob("*")) if (FIXTURES / fmt).is_dir() else []
    return files[0].read_bytes() if files else f"bench {fmt} report\n".encode()


def big_blob(params: Params, number: int) -> bytes:
    """The bytes of big evidence file `number`: base64 text from a seeded generator (the same
    every run, so its SHA-256 is known without keeping the file)."""
    rng = random.Random(f"bench-evidence-{params.seed}-{number}")  # noqa: S311
    return base64.b64encode(rng.randbytes(params.big_evidence_bytes * 3 // 4))


def big_relative_path(sha: str) -> Path:
    return Path(sha[:2]) / sha[2:4] / sha


def register_big_evidence(params: Params) -> list[str]:
    from apps.gates.models import Evidence

    rows = []
    for number in range(params.big_evidence_files):
        data = big_blob(params, number)
        sha = hashlib.sha256(data).hexdigest()
        rows.append(
            Evidence(
                sha256=sha,
                size=len(data),
                content_type="junit",
                name=f"big-report-{number:03d}.txt",
                path=str(big_relative_path(sha)),
            )
        )
    Evidence.objects.bulk_create(rows, ignore_conflicts=True)
    return [row.sha256 for row in rows]


def write_big_evidence(params: Params, root: Path) -> tuple[list[Path], int]:
    """Write the big files of launch 0 under `root` (EVIDENCE_ROOT); returns paths and bytes."""
    paths, total = [], 0
    for number in range(params.big_evidence_files):
        data = big_blob(params, number)
        path = root / big_relative_path(hashlib.sha256(data).hexdigest())
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        paths.append(path)
        total += len(data)
    return paths, total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the tiny data set of the smoke test")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    ensure(params_for(args.small))
    return 0


if __name__ == "__main__":
    sys.exit(main())
