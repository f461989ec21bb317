"""Measuring the served portal over HTTP: sign-in, sequential service time, locust runs."""

import csv
import http.client
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
JUNIT = ROOT / "tests" / "fixtures" / "reports" / "junit" / "pytest-9.2.0-generated.xml"


class Portal:
    """The portal on 127.0.0.1:`port`, asked with plain http.client (one connection per
    request, as the sync gunicorn workers close each one)."""

    def __init__(self, port: int):
        self.port = port
        self.cookie = ""

    def request(self, method: str, path: str, body: bytes = b"", headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            headers = {"Host": "127.0.0.1", **(headers or {})}
            if self.cookie:
                headers.setdefault("Cookie", self.cookie)
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the portal did not answer /healthz on port {self.port}")

    def sign_in(self, email: str, password: str) -> None:
        """Sign in through allauth's form; keeps the session cookie (sent by hand: the cookies
        are Secure, which a cookie jar would not send over http on loopback)."""
        status, headers, body = self.request("GET", "/accounts/login/")
        csrf = _cookie(headers, "csrftoken")
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if status != 200 or not csrf or not match:
            raise RuntimeError(f"no sign-in form ({status})")
        form = f"login={email}&password={password}&csrfmiddlewaretoken={match.group(1).decode()}"
        status, headers, _ = self.request(
            "POST",
            "/accounts/login/",
            form.encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}"},
        )
        session = _cookie(headers, "sessionid")
        if status != 302 or not session:
            raise RuntimeError(f"sign-in refused ({status})")
        self.cookie = f"sessionid={session}; csrftoken={csrf}"


def _cookie(headers, name: str) -> str:
    for key, value in headers:
        if key.lower() == "set-cookie" and value.startswith(f"{name}="):
            return value.split(";", 1)[0].split("=", 1)[1]
    return ""


def multipart(data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="junit.xml"'
        "\r\nContent-Type: application/xml\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary


def percentile(samples: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100)."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def service_times(portal: Portal, found: dict, *, requests: int, token: str) -> dict:
    """One client, one request after the other: p50/p99 in ms per page (after 3 warm-ups)."""
    report = JUNIT.read_bytes()
    out = {}
    for name, page in found.items():
        samples = []
        for index in range(requests + 3):
            started = time.perf_counter()
            status, body = _ask(portal, page, report, token)
            elapsed = (time.perf_counter() - started) * 1000
            if status not in (200, 201):
                raise RuntimeError(f"{name} {page['path']} answered {status}: {body[:300]!r}")
            if index >= 3:
                samples.append(elapsed)
        out[name] = {
            "p50_ms": round(percentile(samples, 50), 2),
            "p99_ms": round(percentile(samples, 99), 2),
            "n": len(samples),
        }
    return out


def warm_up(portal: Portal, found: dict, slugs: list[str]) -> float:
    """Each page of `found` that reads (GET) asked once for each launch of `slugs`; seconds."""
    started = time.perf_counter()
    for slug in slugs:
        for name, page in found.items():
            if page.get("method") == "POST":
                continue
            status, _, body = portal.request("GET", page["path"].replace("{slug}", slug))
            if status != 200:
                raise RuntimeError(f"warm-up: {name} of {slug} answered {status}: {body[:300]!r}")
    return round(time.perf_counter() - started, 2)


def _ask(portal: Portal, page: dict, report: bytes, token: str) -> tuple[int, bytes]:
    if page.get("method") == "POST":
        body, boundary = multipart(report)
        headers = {
            "Authorization": f"Bearer {token}",
            "Cookie": "",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }
        status, _, answer = portal.request("POST", page["path"], body, headers)
        return status, answer
    status, _, answer = portal.request("GET", page["path"])
    return status, answer


def locust(*, port: int, user_class: str, users: int, seconds: int, prefix: Path, env: dict):
    """Run locust headless; returns its per-name stats rows (dicts of the stats CSV)."""
    command = [
        str(Path(sys.executable).with_name("locust")),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "--run-time",
        f"{seconds}s",
        "--host",
        f"http://127.0.0.1:{port}",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "5",
        user_class,
    ]
    log = prefix.with_suffix(".log")
    with log.open("wb") as out:
        result = subprocess.run(  # noqa: S603 - our own locust
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=seconds + 120,
            check=False,
        )
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        raise RuntimeError(f"locust wrote no stats (exit {result.returncode}): {log}")
    with stats.open() as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def locust_env(found: dict, *, cookie: str, token: str, slugs: list[str], target: str = ""):
    return {
        "BENCH_PAGES": json.dumps(found),
        "BENCH_COOKIE": cookie,
        "BENCH_TOKEN": token,
        "BENCH_SLUGS": ",".join(slugs),
        "BENCH_REPORT": str(JUNIT),
        "BENCH_TARGET": target,
    }


def number(row: dict, column: str) -> float | None:
    value = row.get(column, "")
    try:
        return round(float(value), 2)
    except ValueError:
        return None
