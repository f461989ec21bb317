"""Headers and CSRF (case 16): forged posts are refused, scripts need the request's nonce,
cookies are locked down, the session id changes at sign-in, and the deploy checks pass."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse
from django.template import engines
from django.test import Client, RequestFactory

from apps.accounts.context_processors import csp_nonce
from apps.accounts.middleware import ContentSecurityPolicyMiddleware
from tests.accounts.conftest import PASSWORD
from tests.helpers import ROOT, ca_issued_identity

pytestmark = pytest.mark.django_db

FOREIGN_ORIGIN = "https://evil.example"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>", re.IGNORECASE)


def directives(response) -> dict[str, list[str]]:
    """The response's Content-Security-Policy, as directive name -> sources."""
    policy = response.headers["Content-Security-Policy"]
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {name: sources for name, *sources in parts}


def nonce_of(response) -> str:
    (source,) = [s for s in directives(response)["script-src"] if s.startswith("'nonce-")]
    return source.removeprefix("'nonce-").removesuffix("'")


def csrf_token(client: Client) -> str:
    """A valid token: the one the sign-out form on a signed-in page carries."""
    client.get("/launches/")
    return client.cookies["csrftoken"].value


@pytest.fixture
def signed_in(alice) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def test_a_session_post_without_a_csrf_token_is_refused(signed_in):
    assert signed_in.post("/accounts/logout/").status_code == 403
    assert signed_in.get("/launches/").status_code == 200  # still signed in


def test_a_login_post_without_a_csrf_token_is_refused(alice):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"login": "alice@example.com", "password": PASSWORD})

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_a_post_from_a_foreign_origin_is_refused_even_with_a_token(signed_in):
    token = csrf_token(signed_in)
    forged = signed_in.post(
        "/accounts/logout/", {"csrfmiddlewaretoken": token}, HTTP_ORIGIN=FOREIGN_ORIGIN
    )
    assert forged.status_code == 403
    assert signed_in.get("/launches/").status_code == 200

    same_site = signed_in.post(
        "/accounts/logout/", {"csrfmiddlewaretoken": token}, HTTP_ORIGIN="http://testserver"
    )
    assert same_site.status_code == 302
    assert signed_in.get("/launches/").status_code == 302  # signed out


def test_each_response_carries_a_policy_with_a_fresh_nonce(client):
    first, second = client.get("/accounts/login/"), client.get("/accounts/login/")

    policy = directives(first)
    assert policy["script-src"] == ["'self'", f"'nonce-{nonce_of(first)}'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert len(nonce_of(first)) >= 22 and nonce_of(first) != nonce_of(second)


def test_templates_get_the_nonce_of_their_response(client):
    response = client.get("/accounts/login/")

    assert response.context["csp_nonce"] == nonce_of(response)


def test_an_inline_script_written_with_the_nonce_carries_the_headers_nonce():
    template = engines["django"].from_string('<script nonce="{{ csp_nonce }}">go()</script>')
    middleware = ContentSecurityPolicyMiddleware(
        lambda request: HttpResponse(template.render({}, request))
    )

    response = middleware(RequestFactory().get("/"))

    assert response.content.decode() == f'<script nonce="{nonce_of(response)}">go()</script>'


def test_a_view_that_sets_its_own_policy_keeps_it():
    own = "default-src 'none'"
    middleware = ContentSecurityPolicyMiddleware(
        lambda request: HttpResponse(headers={"Content-Security-Policy": own})
    )

    assert middleware(RequestFactory().get("/")).headers["Content-Security-Policy"] == own


def test_without_the_middleware_the_nonce_is_empty():
    assert csp_nonce(RequestFactory().get("/")) == {"csp_nonce": ""}


@pytest.mark.parametrize(
    ("path", "signed_in_as_staff"),
    [("/accounts/login/", False), ("/launches/", True), ("/admin/", True)],
)
def test_pages_hold_no_inline_script_without_the_nonce(client, alice, path, signed_in_as_staff):
    if signed_in_as_staff:
        alice.is_staff = alice.is_superuser = True
        alice.save(update_fields=["is_staff", "is_superuser"])
        client.force_login(alice)

    response = client.get(path)

    assert response.status_code == 200
    nonce = response.context["csp_nonce"]
    for attributes in INLINE_SCRIPT.findall(response.content.decode()):
        data_only = re.search(r'type="application/(ld\+)?json"', attributes)
        assert data_only or f'nonce="{nonce}"' in attributes, attributes


def test_the_session_id_changes_at_sign_in(alice):
    client = Client()
    before = client.session.session_key  # an anonymous session, as an attacker could plant

    response = client.post("/accounts/login/", {"login": "alice@example.com", "password": PASSWORD})

    assert response.status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before
    assert not SessionStore().exists(before)
    assert SessionStore(session_key=after)["_auth_user_id"] == str(alice.pk)


def test_the_session_cookie_is_http_only_and_same_site_lax(alice):
    response = Client().post(
        "/accounts/login/", {"login": "alice@example.com", "password": PASSWORD}
    )

    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert response.cookies["csrftoken"]["samesite"] == "Lax"


def _production(tmp_path: Path, code: list[str], **extra: str) -> subprocess.CompletedProcess:
    """Run manage.py with production variables only (no DEBUG, a random key, one host)."""
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50)[:50],
        ALLOWED_HOSTS="portal.example.com",
        PORTAL_VAR_DIR=str(tmp_path / "var"),
        **extra,
    )
    return subprocess.run(
        [sys.executable, "manage.py", *code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_deploy_checks_pass_with_production_variables(tmp_path):
    """Needs the security lines in portal/settings.py; fails with W004/W008/W012/W016 before.
    Production signs with a CA-issued identity (else signing.E001 or W001)."""
    identity = ca_issued_identity(tmp_path / "signing")
    done = _production(tmp_path, ["check", "--deploy", "--fail-level", "WARNING"], **identity)

    assert done.returncode == 0, done.stderr


PRINT_SECURITY_SETTINGS = """
import json
from django.conf import settings as s
names = [
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SAMESITE", "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "X_FRAME_OPTIONS", "SECURE_CONTENT_TYPE_NOSNIFF", "SECURE_REFERRER_POLICY", "MIDDLEWARE",
]
values = {name: getattr(s, name) for name in names}
values["context_processors"] = s.TEMPLATES[0]["OPTIONS"]["context_processors"]
print(json.dumps(values))
"""


def _security_settings(tmp_path: Path, **env: str) -> dict:
    done = _production(tmp_path, ["shell", "-v", "0", "-c", PRINT_SECURITY_SETTINGS], **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_production_settings_lock_cookies_and_transport_down(tmp_path):
    """Needs the security lines in portal/settings.py."""
    values = _security_settings(tmp_path, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")

    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SESSION_COOKIE_HTTPONLY"]
    assert values["SESSION_COOKIE_SAMESITE"] == values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert values["SECURE_SSL_REDIRECT"]
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"]
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"
    middleware = values["MIDDLEWARE"]
    security = middleware.index("django.middleware.security.SecurityMiddleware")
    assert middleware.index("apps.accounts.middleware.ContentSecurityPolicyMiddleware") > security
    assert "apps.accounts.context_processors.csp_nonce" in values["context_processors"]


def test_the_https_redirect_can_be_turned_off_behind_a_terminating_proxy(tmp_path):
    """Needs the security lines in portal/settings.py."""
    values = _security_settings(tmp_path, SECURE_SSL_REDIRECT="0")

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_PROXY_SSL_HEADER"] is None
    assert values["SESSION_COOKIE_SECURE"]  # cookies stay secure-only
