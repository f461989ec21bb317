import copy

import pytest

from tests.helpers import ALLOWED_SOURCE, MINIMAL_SPEC

# The Chromium fixtures (browser, new_page, page, screenshot): one Playwright for the session.
pytest_plugins = ("tests.browser",)


@pytest.fixture
def spec() -> dict:
    """A fresh, valid launch spec as data."""
    return copy.deepcopy(MINIMAL_SPEC)


@pytest.fixture(autouse=True)
def _source_allowlist(settings):
    settings.SOURCE_ALLOWED_HOSTS = [ALLOWED_SOURCE]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The suite creates and checks many passwords; the real hasher is tested by Django itself.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
