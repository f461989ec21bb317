"""`make run` as a newcomer meets it: the URL and the demo logins come last, once web, worker and
beat are up, not buried under their logs; SIGTERM stops all three within 10 seconds.

Runs scripts/run-embedded (what `make run` runs after installing) on a fresh PORTAL_VAR_DIR and a
free port: SQLite, the filesystem broker, the demo source; nothing from the suite's environment.
"""

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BANNER = "Launch Portal is running at"
STOP_SECONDS = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(group: int) -> list[str]:
    """The processes of `group` still running (zombies, already exited, are not)."""
    running = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :]
        state, _parent, pgrp = fields.split()[:3]
        if int(pgrp) == group and state != "Z":
            running.append(f"{stat.parent.name} {name}")
    return running


def _collect(stream, into: list[str]) -> None:
    for line in stream:
        into.append(line)


def _wait_for(lines: list[str], needle: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(needle in line for line in lines):
            time.sleep(1)  # the rest of the banner
            return
        time.sleep(0.2)
    raise AssertionError(f"no {needle!r} within {seconds} s; the output:\n{''.join(lines)[-4000:]}")


def test_the_banner_comes_last_and_sigterm_stops_everything(tmp_path):
    dropped = ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "CACHE_URL", "PROMETHEUS_URL")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    port = _free_port()
    env.update(DEBUG="1", PORT=str(port), PORTAL_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 - our own script
        ["scripts/run-embedded"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=_collect, args=(process.stdout, lines), daemon=True).start()
    try:
        _wait_for(lines, BANNER, seconds=120)
        waited = time.monotonic() - started
        output = "".join(lines)
        # Up before the banner: the web answers, the worker said it is ready (in its own log).
        assert "ready." in (tmp_path / "log" / "worker.log").read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            assert answer.status == 200
        assert f"http://127.0.0.1:{port}/" in output and "launch-demo" in output
        assert "SHA-256" in output  # the signing identity, with the banner
        # Worker and beat talk to their files, not over the banner.
        for chatter in ("celery.worker", "celery.beat", "[tasks]", "Task "):
            assert chatter not in output, f"{chatter!r} in the terminal:\n{output[-3000:]}"
        assert waited < 90, f"the banner took {waited:.0f} s (waiting out a timeout?)"
        time.sleep(3)  # beat's first ticks: still nothing of theirs in the terminal
        later = "".join(lines)
        assert "celery" not in later[len(output) :], later[len(output) :]
    finally:
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        while _alive(process.pid) and time.monotonic() - stopping < STOP_SECONDS + 5:
            time.sleep(0.2)
        took = time.monotonic() - stopping
        left = _alive(process.pid)
        if left:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert not left, f"still running {took:.1f} s after SIGTERM: {left}"
    assert took <= STOP_SECONDS + 1, f"web, worker and beat took {took:.1f} s to stop"
    assert "celery.worker" in (tmp_path / "log" / "worker.log").read_text()
