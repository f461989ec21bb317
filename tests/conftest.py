import copy

import pytest

from tests.helpers import ALLOWED_SOURCE, MINIMAL_SPEC

# The Chromium fixtures (browser, new_page, page, screenshot): one Playwright for the session.
pytest_plugins = ("tests.browser",)


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


@pytest.fixture(autouse=True)
def _source_allowlist(settings):
    settings.SOURCE_ALLOWED_HOSTS = [ALLOWED_SOURCE]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The suite creates and checks many passwords; the real hasher is tested by Django itself.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
