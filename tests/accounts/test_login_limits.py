"""Brute force (case 15): failed sign-ins are limited per account and per address.

The counters live in a cache every process shares (the database, or Redis with CACHE_URL), so an
attacker spreading attempts over web workers gains nothing; a lockout cools off with time.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import pytest
from allauth.account import app_settings as account_settings
from allauth.core.internal.ratelimit import Rate, parse_rates
from django.db import connection
from django.http import HttpResponse
from django.test import Client

from tests.accounts.conftest import PASSWORD
from tests.helpers import ROOT

LOGIN_URL = "/accounts/login/"
TOO_MANY = b"Too many failed login attempts"
ATTACKER = "203.0.113.66"
OFFICE = "192.0.2.10"
# Redis database for the cache tests; the suite's Celery broker uses 15. Keys get a unique prefix.
REDIS_CACHE_URL = "redis://127.0.0.1:6379/14"

# Settings this test process overrides that the other process must share (the cache; the suite's
# fast password hasher, or the other process could not check the hashes this one wrote).
SHARED_OVERRIDES = ("CACHES", "PASSWORD_HASHERS", "ACCOUNT_RATE_LIMITS")

# Sign-in attempts made by another interpreter, sharing only the database and the cache.
OTHER_PROCESS = """
import json, os, sys
import django
from django.conf import settings
for name, value in json.loads(os.environ["TEST_SETTINGS"]).items():
    setattr(settings, name, value)
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
results = []
for email, password, address in json.loads(sys.argv[1]):
    response = Client(REMOTE_ADDR=address).post(
        "/accounts/login/", {"login": email, "password": password}
    )
    refused = b"Too many failed login attempts" in response.content
    results.append({"status": response.status_code, "refused": refused})
print(json.dumps(results))
"""


def login_failed_rates() -> dict[str, Rate]:
    """The effective `login_failed` limits, keyed by what they count ("ip" or "key")."""
    return {rate.per: rate for rate in parse_rates(account_settings.RATE_LIMITS["login_failed"])}


def sign_in(email: str, password: str, address: str) -> HttpResponse:
    return Client(REMOTE_ADDR=address).post(LOGIN_URL, {"login": email, "password": password})


def was_refused(response: HttpResponse) -> bool:
    """Refused by the limit: the form comes back saying so, whatever the password."""
    return response.status_code == 200 and TOO_MANY in response.content


def signed_in(response: HttpResponse) -> bool:
    return response.status_code == 302 and response.url == "/launches/"


def test_failures_for_one_account_from_several_addresses_lock_that_account(
    transactional_db, clean_cache, alice, bob
):
    for n in range(login_failed_rates()["key"].amount):
        response = sign_in("alice@example.com", "guess", f"198.51.100.{n + 1}")
        assert response.status_code == 200 and not was_refused(response)

    assert was_refused(sign_in("alice@example.com", PASSWORD, "198.51.100.200"))
    assert was_refused(sign_in("ALICE@example.com", PASSWORD, OFFICE))  # same account
    assert signed_in(sign_in("bob@example.com", PASSWORD, "198.51.100.200"))


def test_failures_for_many_accounts_from_one_address_block_that_address(
    transactional_db, clean_cache, alice
):
    for n in range(login_failed_rates()["ip"].amount):
        response = sign_in(f"nobody{n}@example.com", "guess", ATTACKER)
        assert response.status_code == 200 and not was_refused(response)

    assert was_refused(sign_in("alice@example.com", PASSWORD, ATTACKER))
    assert signed_in(sign_in("alice@example.com", PASSWORD, OFFICE))


def test_a_lockout_cools_off(transactional_db, clean_cache, settings, alice):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "100/m/ip,2/2s/key"}
    for address in ("198.51.100.1", "198.51.100.2"):
        assert not was_refused(sign_in("alice@example.com", "guess", address))
    assert was_refused(sign_in("alice@example.com", PASSWORD, OFFICE))

    time.sleep(2.2)

    assert signed_in(sign_in("alice@example.com", PASSWORD, OFFICE))


@pytest.fixture(params=["database", "redis"])
def shared_cache(request, settings, transactional_db, clean_cache) -> str:
    """Each shared backend the settings can choose; Redis keys are private to this test."""
    if request.param == "redis":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_CACHE_URL,
                "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            }
        }
    return request.param


def other_process_database_url() -> str:
    """DATABASE_URL of the test database this process uses, for another process."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{credentials}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def attempts_in_another_process(settings, attempts: list[tuple[str, str, str]]) -> list[dict]:
    """Make sign-in attempts from a fresh interpreter on the same database and cache."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="portal.settings")
    overrides = {
        name: getattr(settings, name) for name in SHARED_OVERRIDES if hasattr(settings, name)
    }
    env.update(DATABASE_URL=other_process_database_url(), TEST_SETTINGS=json.dumps(overrides))
    done = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, json.dumps(attempts)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_failures_made_in_another_process_lock_the_account_here(shared_cache, settings, alice):
    amount = login_failed_rates()["key"].amount
    guesses = [("alice@example.com", "guess", f"198.51.100.{n + 1}") for n in range(amount)]

    results = attempts_in_another_process(settings, guesses)

    assert [r["refused"] for r in results] == [False] * amount
    assert was_refused(sign_in("alice@example.com", PASSWORD, OFFICE))


def test_an_address_blocked_here_is_blocked_in_another_process(shared_cache, settings, alice):
    for n in range(login_failed_rates()["ip"].amount):
        assert not was_refused(sign_in(f"nobody{n}@example.com", "guess", ATTACKER))

    attacker, office = attempts_in_another_process(
        settings,
        [("alice@example.com", PASSWORD, ATTACKER), ("alice@example.com", PASSWORD, OFFICE)],
    )

    assert attacker == {"status": 200, "refused": True}
    assert office == {"status": 302, "refused": False}


def _settings_in_fresh_process(**env: str) -> dict:
    """settings.CACHES and ACCOUNT_RATE_LIMITS as portal/settings.py gives them for `env`."""
    clean = {k: v for k, v in os.environ.items() if k != "CACHE_URL"}
    clean.update(env, DJANGO_SETTINGS_MODULE="portal.settings")
    code = (
        "import json, django; django.setup(); from django.conf import settings;"
        " print(json.dumps({'caches': settings.CACHES,"
        " 'limits': getattr(settings, 'ACCOUNT_RATE_LIMITS', None)}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_settings_choose_a_cache_every_process_shares():
    """Needs the CACHES lines in portal/settings.py (a per-process LocMemCache fails it)."""
    by_default = _settings_in_fresh_process()["caches"]["default"]
    assert by_default["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert by_default["LOCATION"] == "portal_cache"  # the table apps/accounts/migrations creates

    with_redis = _settings_in_fresh_process(CACHE_URL=REDIS_CACHE_URL)["caches"]["default"]
    assert with_redis["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert with_redis["LOCATION"] == REDIS_CACHE_URL


def test_the_settings_limit_failed_logins_per_address_and_per_account():
    """Needs ACCOUNT_RATE_LIMITS in portal/settings.py."""
    limits = _settings_in_fresh_process()["limits"]
    rates = {rate.per: rate for rate in parse_rates(limits["login_failed"])}
    assert rates["key"].amount <= 5 and rates["key"].duration >= 15 * 60
    assert rates["ip"].amount <= 20


def test_the_admin_login_is_no_way_around_the_limits(db, alice):
    """Needs `admin.site.login = secure_admin_login(admin.site.login)` in portal/urls.py:
    Django's own admin login form calls authenticate() without allauth's limits."""
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    client = Client()

    response = client.post("/admin/login/", {"username": "alice", "password": PASSWORD})

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")
    assert "_auth_user_id" not in client.session
