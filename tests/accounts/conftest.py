"""Fixtures of the accounts tests.

The security settings proposed for portal/settings.py (CSP middleware, its context processor, a
shared cache) are applied here while they are not there yet; once they are, nothing changes.
"""

import copy
from collections.abc import Iterator

import pytest
from django.core.cache import cache

CSP_MIDDLEWARE = "apps.accounts.middleware.ContentSecurityPolicyMiddleware"
CSP_CONTEXT_PROCESSOR = "apps.accounts.context_processors.csp_nonce"
PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}
DATABASE_CACHE = {
    "BACKEND": "django.core.cache.backends.db.DatabaseCache",
    "LOCATION": "portal_cache",
    "OPTIONS": {"MAX_ENTRIES": 100_000},
}
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _security_settings(settings) -> None:
    """The proposed MIDDLEWARE, TEMPLATES and CACHES entries, where settings lack them."""
    if CSP_MIDDLEWARE not in settings.MIDDLEWARE:
        middleware = list(settings.MIDDLEWARE)
        after = middleware.index("django.middleware.security.SecurityMiddleware") + 1
        middleware.insert(after, CSP_MIDDLEWARE)
        settings.MIDDLEWARE = middleware
    templates = copy.deepcopy(settings.TEMPLATES)
    processors = templates[0]["OPTIONS"]["context_processors"]
    if CSP_CONTEXT_PROCESSOR not in processors:
        processors.append(CSP_CONTEXT_PROCESSOR)
        settings.TEMPLATES = templates
    if settings.CACHES["default"]["BACKEND"] in PER_PROCESS_CACHES:
        settings.CACHES = {"default": DATABASE_CACHE}


@pytest.fixture
def clean_cache(_security_settings: None) -> Iterator[None]:
    """An empty shared cache: rate-limit counters outlive a transactional test's flush."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(django_user_model):
    """A signer who signs in with her email address."""
    return django_user_model.objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def bob(django_user_model):
    """Another role's signer."""
    return django_user_model.objects.create_user("bob", "bob@example.com", PASSWORD)
