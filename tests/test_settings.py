"""Settings come from the environment; a bad value stops start-up naming the variable."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_int, env_list, env_url
from tests.helpers import ROOT


def _start(env: dict) -> subprocess.CompletedProcess:
    """Load the settings in a fresh interpreter with exactly these variables."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "SECRET_KEY",
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "PROMETHEUS_URL",
            "ALLOWED_HOSTS",
            "EMAIL_PORT",
            "REPORT_MAX_BYTES",
            "DB_PREPARE_THRESHOLD",
        }
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="portal.settings")
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings;"
            " print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL)",
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG: 'maybe' is not a boolean"),
        ({"DEBUG": "0"}, "SECRET_KEY: required when DEBUG is off"),
        ({"DEBUG": "0", "SECRET_KEY": "short"}, "SECRET_KEY: must be at least 32 characters"),
        (
            {"DEBUG": "1", "DATABASE_URL": "mysql://root@localhost/x"},
            "DATABASE_URL: 'mysql://root@localhost/x' must start with one of sqlite://",
        ),
        ({"DEBUG": "1", "CELERY_BROKER_URL": "memory://"}, "CELERY_BROKER_URL: 'memory://' must"),
        ({"DEBUG": "1", "PROMETHEUS_URL": "prometheus:9090"}, "PROMETHEUS_URL: 'prometheus:9090'"),
        ({"DEBUG": "1", "EMAIL_PORT": "smtp"}, "EMAIL_PORT: 'smtp' is not a whole number"),
        ({"DEBUG": "1", "REPORT_MAX_BYTES": "0"}, "REPORT_MAX_BYTES: 0 is below the minimum of 1"),
        (
            {"DEBUG": "1", "DATABASE_URL": "postgres://u@db/x", "DB_PREPARE_THRESHOLD": "soon"},
            "DB_PREPARE_THRESHOLD: 'soon' is neither a number nor off",
        ),
    ],
)
def test_a_bad_setting_refuses_to_start_naming_the_variable(env, message):
    result = _start(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_the_embedded_default_is_sqlite_and_a_serverless_broker(tmp_path):
    result = _start({"DEBUG": "1", "PORTAL_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://"]
    assert (tmp_path / "broker" / "queue").is_dir()
    assert (tmp_path / "dev-secret-key").exists()


def test_production_settings_come_from_the_environment(tmp_path):
    result = _start(
        {
            "DEBUG": "0",
            "SECRET_KEY": "x" * 50,
            "PORTAL_VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://portal@db.example:5432/portal",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["portal.postgresql", "redis://127.0.0.1:6379/0"]
    assert not (tmp_path / "dev-secret-key").exists()


@pytest.mark.parametrize(("raw", "threshold"), [(None, 5), ("0", 0), ("off", None)])
def test_postgresql_binds_on_the_server_and_prepares_unless_turned_off(tmp_path, raw, threshold):
    """Statements a connection repeats are kept prepared (DB_PREPARE_THRESHOLD runs first);
    `off` for a pooler that cannot carry them."""
    env = {"DEBUG": "1", "PORTAL_VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://u@db/x"}
    if raw is not None:
        env["DB_PREPARE_THRESHOLD"] = raw
    script = (
        "import django; django.setup(); from django.conf import settings;"
        " options = settings.DATABASES['default']['OPTIONS'];"
        " print(options['server_side_binding'], options['prepare_threshold'])"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DEBUG")}
    result = subprocess.run(  # noqa: S603 - our own settings
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", str(threshold)]


class TestHelpers:
    def test_booleans(self, monkeypatch):
        for raw, expected in [("1", True), ("yes", True), ("Off", False), ("", False)]:
            monkeypatch.setenv("FLAG", raw)
            assert env_bool("FLAG") is expected
        monkeypatch.delenv("FLAG")
        assert env_bool("FLAG", True) is True

    def test_integers(self, monkeypatch):
        monkeypatch.setenv("N", "12")
        assert env_int("N", 1) == 12
        monkeypatch.setenv("N", "-3")
        with pytest.raises(ImproperlyConfigured, match="N: -3 is below the minimum of 0"):
            env_int("N", 1)

    def test_lists(self, monkeypatch):
        monkeypatch.setenv("HOSTS", "a.example, b.example,,")
        assert env_list("HOSTS", []) == ["a.example", "b.example"]

    def test_urls(self, monkeypatch):
        monkeypatch.setenv("U", "https://prom.example:9090")
        assert env_url("U", "", schemes=("http", "https")) == "https://prom.example:9090"
        monkeypatch.setenv("U", "file:///etc/passwd")
        with pytest.raises(ImproperlyConfigured, match="U: 'file:///etc/passwd' must start"):
            env_url("U", "", schemes=("http", "https"))
        monkeypatch.setenv("U", "")
        assert env_url("U", "", schemes=("http",)) == ""


def test_single_sign_on_is_configured_from_the_environment(tmp_path):
    env = {"DEBUG": "1", "PORTAL_VAR_DIR": str(tmp_path), "OIDC_CLIENT_ID": "portal",
           "OIDC_CLIENT_SECRET": "s3cret", "OIDC_SERVER_URL": "https://login.example.com/realms/x",
           "OIDC_NAME": "Example SSO"}  # fmt: skip
    code = ("import django; django.setup(); from django.conf import settings; "
            "app = settings.SOCIALACCOUNT_PROVIDERS['openid_connect']['APPS'][0]; "
            "print(app['name'], app['settings']['server_url'])")  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={**clean, **env,
                            "DJANGO_SETTINGS_MODULE": "portal.settings"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Example SSO https://login.example.com/realms/x"


def test_single_sign_on_without_its_server_refuses_to_start():
    result = _start({"DEBUG": "1", "OIDC_CLIENT_ID": "portal"})
    assert result.returncode != 0
    assert "OIDC_SERVER_URL: required when OIDC_CLIENT_ID is set" in result.stderr
