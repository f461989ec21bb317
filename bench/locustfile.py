"""Locust users of the bench (bench/run.py starts `locust --headless` with this file).

Environment: BENCH_PAGES, a JSON object {name: {"path", "method", "weight"}}: `Reader` mixes
them; `Hammer` asks for the one named BENCH_TARGET (capacity, no think time); BENCH_COOKIE, the
session cookie header; BENCH_SLUGS, the launches `{slug}` in a path stands for; BENCH_TOKEN,
the API token of report ingest; BENCH_REPORT, the file it posts.
"""

import json
import os
import random
from pathlib import Path

import gevent
from locust import FastHttpUser, constant, task

PAGES = json.loads(os.environ.get("BENCH_PAGES", "{}"))
TARGET = os.environ.get("BENCH_TARGET", "")
SLUGS = os.environ.get("BENCH_SLUGS", "").split(",")
HEADERS = {"Cookie": os.environ.get("BENCH_COOKIE", "")}
REPORT = Path(os.environ["BENCH_REPORT"]).read_bytes() if os.environ.get("BENCH_REPORT") else b""
BOUNDARY = "benchboundary8"


def multipart(data: bytes) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="junit.xml"'
        "\r\nContent-Type: application/xml\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def request(client, name: str) -> None:
    page = PAGES[name]
    path = page["path"].replace("{slug}", random.choice(SLUGS))  # noqa: S311
    if page.get("method") == "POST":
        headers = {
            "Authorization": f"Bearer {os.environ.get('BENCH_TOKEN', '')}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        }
        with client.post(
            path, data=multipart(REPORT), headers=headers, name=name, catch_response=True
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")
        return
    with client.get(path, headers=HEADERS, name=name, catch_response=True) as response:
        if response.status_code != 200:
            response.failure(f"{response.status_code}")


def _mixed_tasks() -> dict:
    return {_page_task(name): page.get("weight", 1) for name, page in PAGES.items()}


def _page_task(name: str):
    def run(user) -> None:
        request(user.client, name)

    run.__name__ = f"page_{name}"
    return run


class Reader(FastHttpUser):
    """A person at the portal: one page of the mix, then one second of thought."""

    wait_time = constant(1)
    tasks = _mixed_tasks()

    def on_start(self) -> None:
        # People do not all click in the same millisecond: locust starts the 32 users at once,
        # and with a constant think time they would stay in step, a burst of 32 requests each
        # second for 2 workers. Each user's first request comes at a random moment of the first
        # second instead; after that, one second of thought after each answer, as before.
        gevent.sleep(random.random())  # noqa: S311


class Hammer(FastHttpUser):
    """A connection asking for BENCH_TARGET again and again, with no think time."""

    wait_time = constant(0)

    @task
    def hammer(self) -> None:
        request(self.client, TARGET)
