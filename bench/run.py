"""`make bench`: the data set, the portal as in production, and the figures of issue 8.

    .venv/bin/python -m bench.run [--small] [--db-url URL] [--port N] [--out DIR]

Writes DIR/results.json (default var/bench/) and the table of BENCHMARKS.md. --small is the
smoke test's scale: a tiny data set and seconds of load instead of minutes.
"""

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import client, dataset, pages, report

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/launch_portal_bench"
DEFAULT_BROKER = "redis://127.0.0.1:6379/13"
DEFAULT_CACHE = "redis://127.0.0.1:6379/12"
SLUG = dataset.Params().slug(0)  # the launch measured alone (the same in --small)


@dataclass(frozen=True)
class Scale:
    service_requests: int
    load_users: int
    load_seconds: int
    capacity_seconds: int
    eval_gates: int
    packet_repeats: int


FULL = Scale(
    service_requests=200,
    load_users=32,
    load_seconds=120,  # a page gets 150-600 requests: its p99 is not just its 2nd slowest
    capacity_seconds=15,
    eval_gates=1000,
    packet_repeats=3,
)
SMALL = Scale(
    service_requests=3,
    load_users=4,
    load_seconds=3,
    capacity_seconds=2,
    eval_gates=10,
    packet_repeats=1,
)


class Bench:
    def __init__(self, args):
        self.args = args
        self.scale = SMALL if args.small else FULL
        self.out = Path(args.out).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": args.db_url,
            "CELERY_BROKER_URL": args.broker,
            # The cache every process shares, as docker/compose.yaml has it (rows, sessions).
            "CACHE_URL": args.cache,
            "PORTAL_VAR_DIR": str(self.out / "portal"),
            "EVIDENCE_ROOT": str(self.out / "evidence"),
            "LOG_LEVEL": "WARNING",
            # Packets are signed: a self-signed pair of the bench's own (made in prepare()).
            "SIGNING_KEY_FILE": str(self.out / "signing" / "portal-key.pem"),
            "SIGNING_CERT_FILE": str(self.out / "signing" / "portal-cert.pem"),
            "SIGNING_ACCEPT_SELF_SIGNED": "1",
        }
        if args.small:  # the smoke test: no collectstatic (bench/settings.py)
            self.env["BENCH_PLAIN_STATIC"] = "1"
        self.details: dict = {}

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def python(self, *arguments: str, timeout: float = 1800) -> str:
        """Run `python ARGS` in the bench environment; its stdout (stderr passes through)."""
        done = subprocess.run(  # noqa: S603 - our own commands
            [sys.executable, *arguments],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"{' '.join(arguments)} failed ({done.returncode})")
        return done.stdout

    def json_of(self, *arguments: str, timeout: float = 1800):
        return json.loads(self.python(*arguments, timeout=timeout).strip().splitlines()[-1])

    # --- the steps --------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Recreate the bench database unless it holds this data set; migrate; generate."""
        wanted = "--small" if self.args.small else ""
        evidence = self.out / "evidence"  # the data set's report files live there
        if not _holds_dataset(self.args.db_url, small=self.args.small) or not _files_present(
            self.args.db_url, evidence
        ):
            self.log(f"creating the database {urlsplit(self.args.db_url).path[1:]}")
            _recreate_database(self.args.db_url)
        steps = [
            ("manage.py", "signing_identity", "--make-self-signed"),
            ("manage.py", "migrate", "--noinput", "-v0"),
            ("-m", "bench.dataset", *([wanted] if wanted else [])),
        ]
        if not self.args.small and not self._static_current():
            steps.append(("manage.py", "collectstatic", "--noinput", "-v0"))
        for step in steps:
            started = time.monotonic()
            self.python(*step)
            self.log(f"{' '.join(step[:2])}: {time.monotonic() - started:.0f} s")

    def _static_current(self) -> bool:
        """Whether the collected static files are newer than every file of static/."""
        manifest = self.out / "portal" / "static" / "staticfiles.json"
        if not manifest.exists():
            return False
        newest = max((p.stat().st_mtime for p in (ROOT / "static").rglob("*")), default=0)
        return manifest.stat().st_mtime > newest

    def serve(self) -> subprocess.Popen:
        """gunicorn as `make prod` runs it (docker/gunicorn.conf.py: 2 sync workers, access log,
        multiprocess metrics), on loopback."""
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        config = ROOT / "docker" / "gunicorn.conf.py"
        command = [gunicorn, "-c", str(config), "--bind", f"127.0.0.1:{self.args.port}"]
        if not config.exists():
            command += ["--workers", "2", "portal.wsgi:application"]
        log = (self.out / "gunicorn.log").open("wb")  # the JSON access log, as in production
        return subprocess.Popen(  # noqa: S603 - our own gunicorn
            command,
            cwd=ROOT,
            env={**self.env, "LOG_LEVEL": "INFO"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def measure_http(self, token: str) -> None:
        portal = client.Portal(self.args.port)
        server = self.serve()
        try:
            portal.wait_ready()
            portal.sign_in(dataset.PM_EMAIL, dataset.PASSWORD)
            api = portal.request("GET", f"/api/v1/launches/{SLUG}/gates/")[0] == 200
            self.details["api_gates_present"] = api
            found = pages.pages(SLUG, gate=self.gate, api_gates=api)
            service_pages = {**pages.for_launch(found, SLUG), "floor": {"path": pages.FLOOR}}
            for size in dataset.params_for(self.args.small).sized:  # issue 21: cost per gate
                slug = dataset.Params().sized_slug(size)
                service_pages[f"gates@{size}"] = {"path": f"/launches/{slug}/gates/"}
            self.log("service time: one client, sequential")
            self.details["service"] = client.service_times(
                portal, service_pages, requests=self.scale.service_requests, token=token
            )
            self.log(
                f"under load: {self.scale.load_users} users, 1 s think time, "
                f"{self.scale.load_seconds} s"
            )
            self.details["load"] = self.load(found, portal, token)
            self.details["capacity"] = {
                name: self.capacity(found, name, portal.cookie, token)
                for name in ("overview", "gates", "floor")
            }
        finally:
            _stop(server)

    def load(self, found: dict, portal: client.Portal, token: str) -> dict:
        params = dataset.params_for(self.args.small)
        slugs = [params.slug(i) for i in range(params.launches)]
        # Steady state, as service_times() measures after 3 warm-ups per page: before the load,
        # each page of each launch is asked once, as a portal that has been serving people holds
        # them in its cache. What a page costs drawn cold is measured apart (`sized`: cached and
        # not), and under load the ingests keep throwing bench-00's gate parts away.
        self.details["load_warmup_s"] = client.warm_up(portal, found, slugs)
        cookie = portal.cookie
        rows = client.locust(
            port=self.args.port,
            user_class="Reader",
            users=self.scale.load_users,
            seconds=self.scale.load_seconds,
            prefix=self.out / "locust-load",
            env=client.locust_env(found, cookie=cookie, token=token, slugs=slugs),
        )
        return {
            name: {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "p50_ms": client.number(row, "50%"),
                "p95_ms": client.number(row, "95%"),
                "p99_ms": client.number(row, "99%"),
                "rps": client.number(row, "Requests/s"),
            }
            for name, row in rows.items()
        }

    def capacity(self, found: dict, name: str, cookie: str, token: str) -> dict:
        self.log(f"capacity: {self.scale.load_users} connections, no think time, {name}")
        targets = {**pages.for_launch(found, SLUG), "floor": {"path": pages.FLOOR}}
        rows = client.locust(
            port=self.args.port,
            user_class="Hammer",
            users=self.scale.load_users,
            seconds=self.scale.capacity_seconds,
            prefix=self.out / f"locust-capacity-{name}",
            env=client.locust_env(targets, cookie=cookie, token=token, slugs=[SLUG], target=name),
        )
        row = rows.get(name)
        if row is None:
            raise RuntimeError(f"locust made no request to {name}: see {self.out}/*.log")
        return {
            "rps": client.number(row, "Requests/s"),
            "failures": int(row["Failure Count"]),
            "p50_ms": client.number(row, "50%"),
            "p99_ms": client.number(row, "99%"),
        }

    def evaluations(self) -> None:
        self.log(f"gate evaluations: a worker, {self.scale.eval_gates} Prometheus gates")
        self.details["evaluations"] = self.json_of(
            "-m",
            "bench.evaluations",
            "--gates",
            str(self.scale.eval_gates),
            "--broker",
            self.args.broker,
            "--workdir",
            str(self.out / "evaluations"),
        )

    def packet(self) -> None:
        self.log("packet")
        self.details["packet"] = self.json_of(
            "-m", "bench.inproc", "packet", SLUG, str(self.scale.packet_repeats)
        )

    def export(self) -> None:
        small = ["--small"] if self.args.small else []
        written = self.json_of("-m", "bench.inproc", "evidence", "write", *small)
        self.log(
            f"export: {written['bytes'] / 2**20:.0f} MB of evidence in {written['files']} files"
        )
        target = self.out / "export.zip"
        try:
            # The export carries the packet as issued: issue it first, in its own process, so
            # the figure is the export's own (rendering is the packet figure).
            self.json_of("-m", "bench.inproc", "issue", SLUG)
            measured = self.json_of("-m", "bench.inproc", "export", SLUG, str(target))
            seconds = measured["seconds"]
            size = target.stat().st_size
        finally:
            target.unlink(missing_ok=True)
            self.json_of("-m", "bench.inproc", "evidence", "remove")
        self.details["export"] = {
            "seconds": round(seconds, 2),
            "evidence_bytes": written["bytes"],
            "zip_bytes": size,
            "peak_rss_mb": measured["peak_rss_mb"],
            "mb_per_s": round(written["bytes"] / 2**20 / seconds, 1),
        }

    def run(self) -> dict:
        started = time.monotonic()
        machine = machine_info()
        self.prepare()
        machine["postgresql"] = _postgres_version(self.args.db_url)
        self.details["freshen"] = self.json_of("-m", "bench.inproc", "freshen")
        self.details["settle"] = self.json_of("-m", "bench.inproc", "settle")
        machine["autovacuum"] = self.details["settle"]["autovacuum"]
        self.log(f"vacuumed and checkpointed: {self.details['settle']}")
        made = self.json_of("-m", "bench.inproc", "token", SLUG)
        token, self.gate = made["token"], made["gate"]
        self.measure_http(token)
        self.log("queries per page")
        self.details["queries"] = self.json_of(
            "-m", "bench.inproc", "queries", SLUG, token, self.gate
        )
        self.log("the sized launches in-process: gates page, overview, sign page")
        self.details["sized"] = self.json_of("-m", "bench.inproc", "sized", "50")
        self.evaluations()
        self.details["schedule"] = self.json_of("-m", "bench.schedule")  # issue 19: < 20 ms
        self.packet()
        self.export()
        self.details["audit_writes"] = self.json_of(
            "-m",
            "bench.audit_writes",
            *(["--seconds", "0.5", "--rounds", "1"] if self.args.small else []),
        )
        machine["bench_seconds"] = round(time.monotonic() - started)
        results = report.results(self.details, machine)
        (self.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        (self.out / "details.json").write_text(json.dumps(self.details, indent=2) + "\n")
        if not self.args.small:
            report.write_benchmarks(ROOT / "BENCHMARKS.md", results, command=self.args.command)
        self.log(f"wrote {self.out / 'results.json'} in {machine['bench_seconds']} s")
        return results


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def _admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def _holds_dataset(url: str, *, small: bool) -> bool:
    """Whether the database exists and its marker names the wanted data set."""
    import psycopg

    params = dataset.params_for(small)
    try:
        with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as connection:
            row = connection.execute("SELECT to_regclass(%s)", [dataset.MARKER]).fetchone()
            if row[0] is None:
                return not connection.execute("SELECT to_regclass('launches_launch')").fetchone()[0]
            marker = f"SELECT params FROM {dataset.MARKER} WHERE id = 1"  # noqa: S608
            found = connection.execute(marker).fetchone()
    except psycopg.OperationalError:
        return False
    return bool(found) and found[0] == dataset.marked(params)


def _files_present(url: str, root: Path) -> bool:
    """Whether every small evidence file of the data set is under `root` (the big ones are
    written for the export only)."""
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as connection:
        if not connection.execute("SELECT to_regclass('gates_evidence')").fetchone()[0]:
            return True  # an empty database: nothing to miss
        paths = connection.execute(
            "SELECT path FROM gates_evidence WHERE name NOT LIKE %s", ["big-report-%"]
        ).fetchall()
    return all((root / path).is_file() for (path,) in paths)


def _recreate_database(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url.replace("postgres://", "postgresql://", 1))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def _postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as connection:
        return connection.execute("SHOW server_version").fetchone()[0]


def machine_info() -> dict:
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the smoke test's tiny scale")
    parser.add_argument("--db-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--broker", default=os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER))
    parser.add_argument("--cache", default=os.environ.get("BENCH_CACHE_URL", DEFAULT_CACHE))
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 18400)))
    parser.add_argument("--out", default=str(ROOT / "var" / "bench"))
    args = parser.parse_args(argv)
    args.command = "make bench" if not argv else f"python -m bench.run {' '.join(argv)}"
    Bench(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
