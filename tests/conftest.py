import copy
from collections.abc import Iterator

import pytest
from django.db import connection

from tests.helpers import ALLOWED_SOURCE, MINIMAL_SPEC

# The Chromium fixtures (browser, new_page, page, screenshot): one Playwright for the session;
# moto_server and s3_bucket: a local S3 API for the stored files (tests/s3.py).
pytest_plugins = ("tests.browser", "tests.s3")


@pytest.fixture
def needs_postgresql():
    """For the tests of row locks and concurrent transactions (SQLite has neither): they fail,
    saying so, on another database."""
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL's row locks: set DATABASE_URL (make test does)")


@pytest.fixture
def spec() -> dict:
    """A fresh, valid launch spec as data."""
    return copy.deepcopy(MINIMAL_SPEC)


@pytest.fixture(scope="session", autouse=True)
def _audit_flush_allowed():
    # Transactional tests end with a flush, which empties the append-only audit tables: allowed
    # on the test database only (apps/audit/management/commands/flush.py refuses it elsewhere).
    from django.conf import settings

    settings.AUDIT_FLUSH_ALLOWED = True


@pytest.fixture(scope="session", autouse=True)
def _signing_identity(tmp_path_factory):
    """Packets, exports and checkpoints are signed: one throwaway self-signed identity for the
    session (tests run with DEBUG off, where the portal never makes one up)."""
    from cryptography.hazmat.primitives import serialization
    from django.conf import settings

    from portal import signing

    folder = tmp_path_factory.mktemp("signing")
    key, certificate = signing.make_self_signed("Launch Portal (tests)")
    pem = serialization.Encoding.PEM
    (folder / "key.pem").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    (folder / "cert.pem").write_bytes(certificate.public_bytes(pem))
    settings.SIGNING_KEY_FILE = str(folder / "key.pem")
    settings.SIGNING_CERT_FILE = str(folder / "cert.pem")
    signing.identity.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def _kept_files_in_a_temporary_folder(tmp_path_factory):
    """Files kept by tests that do not choose a folder (every imported spec's text, for one)
    go to a temporary folder, not the checkout's var/evidence."""
    from django.test import override_settings

    with override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("media"))):
        yield


@pytest.fixture(autouse=True)
def _source_allowlist(settings):
    settings.SOURCE_ALLOWED_HOSTS = [ALLOWED_SOURCE]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The suite creates and checks many passwords; the real hasher is tested by Django itself.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def redis_cache(settings) -> Iterator[str]:
    """The portal's cache on Redis, as in production (its counters move in one step, so a bump
    may name the gates it changed: apps/gates/rows.py); a database of its own on the test
    broker's Redis, emptied before and after."""
    import redis

    from tests.celery_worker import broker_url

    url = broker_url().rsplit("/", 1)[0] + "/14"
    try:
        redis.Redis.from_url(url).flushdb()
    except redis.ConnectionError as exc:
        raise RuntimeError(f"these tests need Redis at {url} (make test has it): {exc}") from None
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": url, "KEY_PREFIX": "test"}}  # fmt: skip
    yield url
    redis.Redis.from_url(url).flushdb()
