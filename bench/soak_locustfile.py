"""The soak's load: dashboard viewers and signers, each signed in from its own loopback address.

Run by bench/soak.py (``locust -f bench/soak_locustfile.py --headless ...``) with
``SOAK_ACCOUNTS`` naming the accounts file (bench/soak_setup.py ``Accounts``) and
``SOAK_LOAD_RESULTS`` the JSON this file writes when the run ends: per page the response times
and the count of each HTTP status, and what the signers' submissions came to.

Each simulated person connects from its own 127.0.0.x address, so the portal's per-address
sign-in limits see 55 people, not one. The portal runs with DEBUG off on plain HTTP (loopback,
standing in for the TLS proxy), so its cookies are marked Secure; the client is the browser
behind that proxy and sends them back anyway.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

import gevent
from locust import HttpUser, between, events, task
from urllib3 import PoolManager

ACCOUNTS = json.loads(Path(os.environ["SOAK_ACCOUNTS"]).read_text())
RESULTS = Path(os.environ["SOAK_LOAD_RESULTS"])
SLUG = ACCOUNTS["slug"]
EXPECTED = {"GET": {200}, "POST": {302}}
SIGN_EXPECTED = {302, 409}  # signed, or refused: evidence changed, signed meanwhile, not passing
TIMEOUT = 30  # seconds; gunicorn's own worker timeout

_addresses = itertools.count(2)  # 127.0.0.1 is left to the portal's own processes
_viewers = itertools.cycle(ACCOUNTS["viewers"])
_signers = itertools.cycle(ACCOUNTS["signers"])
_times: dict[str, list[float]] = defaultdict(list)
_statuses: dict[str, Counter] = defaultdict(Counter)
_sign_outcomes: dict[str, Counter] = defaultdict(Counter)  # role -> outcome -> count


def _next_address() -> str:
    number = next(_addresses)
    return f"127.0.{number // 250}.{number % 250 + 2}"


@events.request.add_listener
def _count(name, response_time, response, exception, **kwargs) -> None:
    _times[name].append(response_time)
    status = getattr(response, "status_code", None) if response is not None else None
    _statuses[name][str(status) if status else type(exception).__name__] += 1


@events.quitting.add_listener
def _write_results(**kwargs) -> None:
    pages = {
        name: {"times_ms": times, "statuses": dict(_statuses[name])}
        for name, times in _times.items()
    }
    RESULTS.write_text(
        json.dumps(
            {
                "pages": pages,
                "sign_outcomes": {role: dict(counts) for role, counts in _sign_outcomes.items()},
            }
        )
    )


class Person(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    email = ""

    def __init__(self, *args, **kwargs) -> None:
        # One connection pool per person, bound to its own source address.
        self.pool_manager = PoolManager(source_address=(_next_address(), 0), maxsize=2)
        super().__init__(*args, **kwargs)

    def on_start(self) -> None:
        page = self.get("/accounts/login/", name="sign in (form)")
        self.post(
            "/accounts/login/",
            name="sign in",
            data={
                "login": self.email,
                "password": ACCOUNTS["password"],
                "csrfmiddlewaretoken": _field(page, "csrfmiddlewaretoken"),
            },
        )

    def get(self, path: str, *, name: str, headers: dict | None = None):
        return self._send("GET", path, name=name, headers=headers)

    def post(self, path: str, *, name: str, data: dict, expected: set[int] | None = None):
        origin = {"Origin": self.host.rstrip("/"), "Referer": self.host.rstrip("/") + path}
        return self._send("POST", path, name=name, data=data, headers=origin, expected=expected)

    def _send(self, method: str, path: str, *, name: str, expected=None, **kwargs):
        expected = expected or EXPECTED[method]
        with self.client.request(
            method,
            path,
            name=name,
            allow_redirects=False,
            timeout=TIMEOUT,
            catch_response=True,
            **kwargs,
        ) as response:
            if response.status_code in expected:
                response.success()
            else:
                response.failure(f"HTTP {response.status_code}")
        _send_secure_cookies(self.client.cookies)
        return response


class DashboardUser(Person):
    """An auditor or program manager watching the launch."""

    fixed_count = int(os.environ.get("SOAK_VIEWERS", "50"))

    def on_start(self) -> None:
        self.email = next(_viewers)
        super().on_start()

    @task(1)
    def launches(self) -> None:
        self.get("/launches/", name="launches")

    @task(2)
    def overview(self) -> None:
        self.get(f"/launches/{SLUG}/", name="overview")

    @task(2)
    def gates(self) -> None:
        self.get(f"/launches/{SLUG}/gates/", name="gates")

    @task(3)
    def gate_rows(self) -> None:
        # What the gates page's htmx asks for every 15 s.
        self.get(
            f"/launches/{SLUG}/gates/", name="gates rows (htmx)", headers={"HX-Request": "true"}
        )

    @task(2)
    def gate(self) -> None:
        key = random.choice(ACCOUNTS["gates"])  # noqa: S311
        self.get(f"/launches/{SLUG}/gates/{key}/", name="gate detail")

    @task(1)
    def timeline(self) -> None:
        self.get(f"/launches/{SLUG}/timeline/", name="timeline")

    @task(1)
    def signoffs(self) -> None:
        self.get(f"/launches/{SLUG}/signoffs/", name="signoffs")

    @task(1)
    def audit(self) -> None:
        self.get(f"/launches/{SLUG}/audit/", name="audit")


class Signer(Person):
    """A role holder: opens the sign page, reads a moment, signs with the digest it showed."""

    fixed_count = int(os.environ.get("SOAK_SIGNERS", "5"))

    def on_start(self) -> None:
        signer = next(_signers)
        self.email, self.role = signer["email"], signer["role"]
        super().on_start()

    @task(3)
    def sign(self) -> None:
        path = f"/launches/{SLUG}/signoffs/{self.role}/sign/"
        page = self.get(path, name="sign page")
        if page.status_code != 200:
            return
        gevent.sleep(random.uniform(0.2, 1.0))  # noqa: S311 - reading the page
        rejecting = random.random() < 0.3  # noqa: S311
        data = {
            "csrfmiddlewaretoken": _field(page, "csrfmiddlewaretoken"),
            "digest": _field(page, "digest"),
            "previous": _field(page, "previous"),
            "decision": "reject" if rejecting else "approve",
            "comment": "soak: not yet" if rejecting else "",
            "password": ACCOUNTS["password"],
        }
        answer = self.post(path, name="sign", data=data, expected=SIGN_EXPECTED)
        _sign_outcomes[self.role][_outcome(answer)] += 1

    @task(1)
    def signoffs(self) -> None:
        self.get(f"/launches/{SLUG}/signoffs/", name="signoffs")


def _field(response, name: str) -> str:
    """The value of a named input of a page ('' when it has none)."""
    found = re.search(rf'name="{name}"(?: value="([^"]*)")?', response.text or "")
    return (found.group(1) or "") if found else ""


def _outcome(response) -> str:
    text = response.text or ""
    if response.status_code == 302:
        return "signed"
    if response.status_code != 409:
        return f"HTTP {response.status_code}"
    for words, outcome in (
        ("evidence changed", "evidence changed (409)"),
        ("was signed since", "signed meanwhile (409)"),
        ("cannot approve", "gates not passing (409)"),
    ):
        if words in text:
            return outcome
    return "other 409"


def _send_secure_cookies(jar) -> None:
    """Send the portal's Secure cookies back over loopback HTTP, as the browser behind TLS does."""
    for cookie in jar:
        cookie.secure = False
