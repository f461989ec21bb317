"""Launch Portal settings: one module, driven by environment variables.

The defaults are the embedded mode (`make run`): SQLite and a filesystem Celery broker under
var/. Production differs only by environment (DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY...).
"""

import ipaddress
import re
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

from portal.env import env_bool, env_int, env_list, env_str, env_url
from portal.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        if len(key) < 32:
            raise ImproperlyConfigured("SECRET_KEY: must be at least 32 characters long")
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY: required when DEBUG is off")
    # A development key, kept under var/ so that web and worker agree and sessions survive a
    # restart; never used with DEBUG off.
    path = VAR_DIR / "dev-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])


def _proxy_ssl_header() -> tuple[str, str] | None:
    """SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto: the header our own proxy sets to say HTTPS.

    Only for a proxy that drops the header from clients; unset, Django trusts no header.
    """
    name = env_str("SECURE_PROXY_SSL_HEADER").strip()
    if not name:
        return None
    if not re.fullmatch(r"[A-Za-z0-9-]+", name):
        raise ImproperlyConfigured(f"SECURE_PROXY_SSL_HEADER: {name!r} is not a header name")
    return ("HTTP_" + name.upper().replace("-", "_"), "https")


# HTTPS and cookies. With DEBUG off the portal is HTTPS-only; the embedded default serves plain
# HTTP on loopback, where secure-only cookies would never come back.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]  # probes from inside
SECURE_PROXY_SSL_HEADER = _proxy_ssl_header()
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# The preload directive only allows a later submission to the browsers' list; it submits nothing.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"  # read from the cache
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "apps.accounts",
    "apps.launches",
    "apps.gates",
    "apps.signoffs",
    "apps.audit",
    "apps.api",
    "apps.reports",
    "apps.webhooks",
    "apps.rollouts",
    "apps.specs",
    "apps.demo",
    "apps.pages",
    "portal",  # system checks (portal/checks.py) and the signing_identity command
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",  # first: the whole latency
    "portal.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.accounts.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "apps.api.middleware.ClosedLaunchMiddleware",  # a closed launch's writes answer 409
    "portal.metrics.ReportIngestMetricsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",  # last
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.accounts.context_processors.csp_nonce",
            ],
        },
    },
]


def _database() -> dict:
    default = f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"
    url = env_url("DATABASE_URL", default, schemes=("sqlite", "postgres", "postgresql"))
    try:
        config = dj_database_url.parse(
            url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL: {exc}") from None
    if config["ENGINE"].endswith("sqlite3"):
        # Web, worker and beat share the file: wait for the lock instead of failing at once, and
        # take it when a transaction begins (a read that later writes cannot then be refused
        # half-way; the gate claim of apps/gates/tasks.py relies on it, as PostgreSQL's row locks).
        config.setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")
        config["CONN_MAX_AGE"] = 0
    elif config["ENGINE"].endswith("postgresql"):
        config["ENGINE"] = "portal.postgresql"  # Django's, knowing ExactDecimalField's column
        # Parameters bound by the server, and a statement a connection runs a fifth time kept
        # prepared on it: the reads and writes every request makes (portal/prepared.py gives
        # them one text each) are then neither parsed nor, once PostgreSQL finds a plan that
        # serves any value as well, planned each time (0.1-0.5 ms a statement here). A partial
        # index's condition is written into the SQL, never a parameter, so that such a plan can
        # still use it (apps/audit/models.py, _by_people). DB_PREPARE_THRESHOLD=off for a pooler
        # that cannot carry prepared statements (PgBouncer in transaction mode before 1.21).
        prepare = env_str("DB_PREPARE_THRESHOLD", "5")
        config.setdefault("OPTIONS", {}).update(
            server_side_binding=True,
            prepare_threshold=None if prepare == "off" else _threshold(prepare),
        )
    return config


def _threshold(raw: str) -> int:
    if not raw.isdigit():
        raise ImproperlyConfigured(f"DB_PREPARE_THRESHOLD: {raw!r} is neither a number nor off")
    return int(raw)


DATABASES = {"default": _database()}


def _cache() -> dict:
    """One cache every process shares: allauth counts failed sign-ins there (never per process).

    Redis when CACHE_URL is set; otherwise the database table `portal_cache`, which
    apps/accounts/migrations/0001_cache_table.py creates.
    """
    url = env_url("CACHE_URL", "", schemes=("redis", "rediss"))
    if url:
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "portal",
        }
    return {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "portal_cache",
        # Culling at the default 300 entries would let a spray of attempts drop the counters.
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }


CACHES = {"default": _cache()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [  # Django's and allauth's, reading the person once per process
    "apps.accounts.backends.ModelBackend",
    "apps.accounts.backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "launches:list"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "apps.accounts.adapter.InviteOnlyAccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]


def _oidc_providers() -> dict:
    """Optional OpenID Connect sign-in, configured only from the environment."""
    client_id = env_str("OIDC_CLIENT_ID")
    if not client_id:
        return {}
    server = env_url("OIDC_SERVER_URL", "", schemes=("https",) if not DEBUG else ("https", "http"))
    if not server:
        raise ImproperlyConfigured("OIDC_SERVER_URL: required when OIDC_CLIENT_ID is set")
    app = {
        "provider_id": env_str("OIDC_PROVIDER_ID", "sso"),
        "name": env_str("OIDC_NAME", "Single sign-on"),
        "client_id": client_id,
        "secret": env_str("OIDC_CLIENT_SECRET"),
        "settings": {"server_url": server},
    }
    return {"openid_connect": {"APPS": [app], "OAUTH_PKCE_ENABLED": True}}


SOCIALACCOUNT_PROVIDERS = _oidc_providers()
# Invite-only there too: SSO signs in people an admin created, matched by verified email.
SOCIALACCOUNT_ADAPTER = "apps.accounts.adapter.InviteOnlySocialAccountAdapter"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_ONLY = False
MFA_TOTP_ISSUER = "Launch Portal"
# Failed sign-ins: 5 per account from anywhere and 20 per address over any accounts, per 15
# minutes; each failure stops counting 15 minutes after it, so a lockout cools off.
ACCOUNT_RATE_LIMITS = {"login_failed": "20/15m/ip,5/15m/key"}
# Behind N proxies of our own, the client is the Nth X-Forwarded-For entry from the right;
# 0 trusts no header (REMOTE_ADDR), else every user would share the proxy's address.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False  # English only; translation lookups cost ~20% of a page (timesince, forms)
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
# With DEBUG off, `collectstatic` writes hashed, compressed copies that whitenoise serves with a
# far-future cache header; development serves the files as they are, found where they live.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
# Source maps (half the bytes of the API docs' bundles) are for devtools: not worth compressing.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
MEDIA_ROOT = Path(env_str("EVIDENCE_ROOT", str(VAR_DIR / "evidence")))


def kept_files_storage() -> dict:
    """Where evidence, packets and exports are kept (portal/storage.py): a local folder, or S3.

    EVIDENCE_OBJECT_LOCK_DAYS (a whole number of days, unset: off) writes each new object under
    S3 Object Lock retention in EVIDENCE_OBJECT_LOCK_MODE (COMPLIANCE, the default, or GOVERNANCE);
    the bucket must have Object Lock enabled. A local folder cannot keep files from deletion, so
    retention there is refused rather than silently ignored.
    """
    backend = env_str("STORAGE_BACKEND", "local")
    if backend == "local":  # under MEDIA_ROOT, at the same relative paths as the rows hold
        if env_str("EVIDENCE_OBJECT_LOCK_DAYS"):
            raise ImproperlyConfigured("EVIDENCE_OBJECT_LOCK_DAYS: needs STORAGE_BACKEND=s3")
        return {"BACKEND": "portal.storage.LocalStorage"}
    if backend != "s3":
        raise ImproperlyConfigured(f"STORAGE_BACKEND: {backend!r} is not one of local, s3")
    if not env_str("S3_BUCKET"):
        raise ImproperlyConfigured("S3_BUCKET: required when STORAGE_BACKEND=s3")
    days = env_int("EVIDENCE_OBJECT_LOCK_DAYS", 0, minimum=1)  # 0 only as the unset default
    if not days:
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _s3_options()}
    mode = env_str("EVIDENCE_OBJECT_LOCK_MODE", "COMPLIANCE")
    if mode not in ("COMPLIANCE", "GOVERNANCE"):
        raise ImproperlyConfigured(
            f"EVIDENCE_OBJECT_LOCK_MODE: {mode!r} is not one of COMPLIANCE, GOVERNANCE"
        )
    options = {**_s3_options(), "retain_days": days, "retain_mode": mode}
    return {"BACKEND": "portal.storage.RetainedS3Storage", "OPTIONS": options}


def _s3_options() -> dict:
    return {
        "bucket_name": env_str("S3_BUCKET"),
        "location": env_str("S3_PREFIX").strip("/"),
        "region_name": env_str("S3_REGION") or None,
        "endpoint_url": env_url("S3_ENDPOINT_URL", "", schemes=("http", "https")) or None,
        # Unset: boto3's own chain (AWS_* variables, an instance or pod role).
        "access_key": env_str("S3_ACCESS_KEY_ID") or None,
        "secret_key": env_str("S3_SECRET_ACCESS_KEY") or None,
        # Names carry the SHA-256 and portal/storage.py checks before writing: a racing
        # duplicate writes the same bytes, where False would store a renamed second copy.
        "file_overwrite": True,
        "default_acl": None,
        # Presigned download URLs: SigV4 (botocore would sign them with the deprecated SigV2).
        "signature_version": "s3v4",
        # A download is spooled to a temporary file past this, never held whole in memory.
        "max_memory_size": 8 * 1024 * 1024,
    }


def kept_files_downloads() -> str:
    """How a kept file leaves (portal.storage.download_response): `stream` through Django (the
    default), or `presigned`, a redirect to an S3 URL valid PRESIGNED_URL_SECONDS (default 300),
    issued after the same permission check. A local folder has no such URLs: refused."""
    downloads = env_str("DOWNLOADS", "stream")
    if downloads not in ("stream", "presigned"):
        raise ImproperlyConfigured(f"DOWNLOADS: {downloads!r} is not one of stream, presigned")
    if downloads == "presigned" and env_str("STORAGE_BACKEND", "local") != "s3":
        raise ImproperlyConfigured("DOWNLOADS: presigned needs STORAGE_BACKEND=s3")
    return downloads


# Three names, one place for now: rows hold paths relative to one root ("packets/...",
# "exports/...", evidence at the top), so each kind can later get its own bucket or retention.
STORAGES.update({k: kept_files_storage() for k in ("evidence", "packets", "exports", "specs")})
DOWNLOADS = kept_files_downloads()
PRESIGNED_URL_SECONDS = env_int("PRESIGNED_URL_SECONDS", 300, minimum=1)
if PRESIGNED_URL_SECONDS > 7 * 24 * 3600:  # the longest S3 accepts for a SigV4 URL
    raise ImproperlyConfigured("PRESIGNED_URL_SECONDS: S3 allows at most 604800 (7 days)")

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "launch-portal@localhost")

PROMETHEUS_URL = env_url("PROMETHEUS_URL", "", schemes=("http", "https"))
REPORT_MAX_BYTES = env_int("REPORT_MAX_BYTES", 25 * 1024 * 1024, minimum=1)
LAUNCH_SPEC_MAX_BYTES = 1024 * 1024

# Celery: the embedded default is kombu's filesystem transport, which needs no server and
# carries tasks between the separate web, worker and beat processes.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", "filesystem://", schemes=("filesystem", "redis", "rediss", "amqp", "amqps")
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_TASK_IGNORE_RESULT = True
# Packets of big launches render, and exports of gigabytes of evidence compress, for longer than
# the default limits allow (both well under the Redis visibility timeout).
CELERY_TASK_ANNOTATIONS = {
    "reports.build_packet": {"soft_time_limit": 240, "time_limit": 300},
    "reports.build_export": {"soft_time_limit": 1740, "time_limit": 1800},
}
# Only when beat last ran each entry: this host's own, never read by another host.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat may run on two hosts at once: a duplicate tick does no duplicate work, because every
# scheduled task claims its work in the database (a conditional UPDATE, or a unique row whose
# insert only one process wins) before it does it. tests/test_beat_twice.py runs each one twice.
CELERY_BEAT_SCHEDULE = {
    # Claim: each due gate's next_due_at moved on by one UPDATE ... FOR UPDATE SKIP LOCKED; a
    # redelivered slot is measured once (Measurement's unique gate and slot).
    "gates-tick": {"task": "gates.tick", "schedule": env_int("GATE_TICK_SECONDS", 10, minimum=1)},
    # Claim: an approval is invalidated (audited, emailed) by the UPDATE that finds it valid.
    "signoffs-sweep": {"task": "signoffs.sweep", "schedule": 30.0},
    # Claim: expiry_warned_at set by a conditional UPDATE before the email.
    "waivers-expiry-warning": {"task": "gates.warn_expiring_waivers", "schedule": 900.0},
    # Claim: a RequestNotice row (unique per request, person, kind and day) before each email;
    # escalated_at set by a conditional UPDATE.
    "signoffs-reminders": {"task": "signoffs.remind", "schedule": 900.0},
    # Claim: each due run's (validation's) next_due_at moved on by a conditional UPDATE.
    "rollouts-tick": {"task": "rollouts.tick", "schedule": 10.0},
    "rollouts-post-launch-tick": {"task": "rollouts.post_launch_tick", "schedule": 30.0},
}
# Where people reach the portal: the links of emails sent by workers (reminders, escalations,
# sign-off news) and chat messages. Empty: links are relative (a request's email uses the origin
# it was made from).
PORTAL_BASE_URL = env_url(
    "PORTAL_BASE_URL",
    f"http://127.0.0.1:{env_str('PORT', '8000')}" if DEBUG else "",
    schemes=("http", "https"),
).rstrip("/")
# `make run` without a Prometheus: the demo launch's Prometheus gates read a labelled demo source
# served by the portal itself (apps/demo/metrics.py). DEBUG only; PROMETHEUS_URL wins.
DEMO_METRICS = DEBUG and env_bool("DEMO_METRICS", False) and not PROMETHEUS_URL
if DEMO_METRICS:
    PROMETHEUS_URL = f"{PORTAL_BASE_URL}/demo/prometheus"
# The portal's signing identity (portal/signing.py): packets (PAdES), export manifests and audit
# checkpoints are signed with it. PEM key + certificate (+ chain), or PKCS#12. With DEBUG and none
# set, a self-signed pair is made under PORTAL_VAR_DIR/signing/.
SIGNING_KEY_FILE = env_str("SIGNING_KEY_FILE")
SIGNING_CERT_FILE = env_str("SIGNING_CERT_FILE")
SIGNING_CHAIN_FILE = env_str("SIGNING_CHAIN_FILE")
SIGNING_PKCS12_FILE = env_str("SIGNING_PKCS12_FILE")
SIGNING_KEY_PASSPHRASE = env_str("SIGNING_KEY_PASSPHRASE")
# An RFC 3161 time-stamping authority: packets are then PAdES B-T instead of B-B.
SIGNING_TSA_URL = env_url("SIGNING_TSA_URL", "", schemes=("http", "https"))
# `make prod` without SIGNING_* makes a self-signed trial pair and sets this: the signing.W001
# warning (self-signed) is then silenced. Never set it for real records.
SIGNING_ACCEPT_SELF_SIGNED = env_bool("SIGNING_ACCEPT_SELF_SIGNED", False)
SILENCED_SYSTEM_CHECKS = ["signing.W001"] if SIGNING_ACCEPT_SELF_SIGNED else []
AUDIT_CHECKPOINT_MINUTES = env_int("AUDIT_CHECKPOINT_MINUTES", 15, minimum=1)
# Idempotent: one checkpoint per chain and head (a unique row; the loser reads the winner's).
CELERY_BEAT_SCHEDULE["audit-checkpoint"] = {
    "task": "audit.checkpoint",
    "schedule": 60.0 * AUDIT_CHECKPOINT_MINUTES,
}
# Sign-off requests: a reminder this long before the due date, and again each day once overdue;
# escalation to the program managers and the decision role this long after the due date.
SIGNOFF_REMINDER_LEAD_HOURS = env_int("SIGNOFF_REMINDER_LEAD_HOURS", 48, minimum=1)
SIGNOFF_ESCALATION_HOURS = env_int("SIGNOFF_ESCALATION_HOURS", 24, minimum=1)
# Redis redelivers an unacknowledged task after visibility_timeout: it must be longer than any
# countdown or retry delay (checked when the worker starts, portal/celery.py).
CELERY_BROKER_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)
if CELERY_BROKER_URL.startswith(("redis", "rediss")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "apps.api.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
# The API's OpenAPI schema (/api/schema/) and its reference page (/api/docs/, Swagger UI served
# from our own static files: the CSP allows no CDN, and there is no network to reach one).
SPECTACULAR_SETTINGS = {
    "TITLE": "Launch Portal API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Read a launch's timeline, gates, measurements, waivers, sign-offs, decisions and audit "
        "log; push CI reports; block a deploy on readiness. Authenticate with a launch's API "
        "token (`Authorization: Bearer lp_...`, bound to that launch; scopes `read`, `ingest`, "
        "`manage`, `audit`) or a signed-in session. Another launch's objects answer 404."
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [
        "apps.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "LaunchStatusEnum": "apps.launches.models.LaunchStatus",
        "ActivityStatusEnum": "apps.launches.models.ActivityStatus",
        "GateStatusEnum": "apps.gates.models.GateStatus",
        "SignOffDecisionEnum": "apps.signoffs.models.Decision",
        "GoNoGoEnum": "apps.signoffs.models.GoNoGo",
    },
}

# JSON lines (with request and task ids) unless DEBUG; LOG_FORMAT=json|text chooses.
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json").strip().lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT: {LOG_FORMAT!r} is not json or text")
LOGGING = logging_config(json=LOG_FORMAT == "json", level=env_str("LOG_LEVEL", "INFO"))


def _networks(name: str, default: list[str]) -> list:
    try:
        return [ipaddress.ip_network(item) for item in env_list(name, default)]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None


# /metrics (portal/metrics.py): from these networks directly, or with the bearer token.
METRICS_ALLOWED_NETWORKS = _networks(
    "METRICS_ALLOWED_NETWORKS",
    ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
)
METRICS_TOKEN = env_str("METRICS_TOKEN")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN: must be at least 32 characters long")
# The database-derived families are read at most once per this many seconds across all web
# replicas, through the shared cache (portal/metrics.py database_snapshot). Without CACHE_URL
# (one embedded process, the database cache) each scrape reads the database: 0.
METRICS_DB_INTERVAL = env_int("METRICS_DB_INTERVAL", 15 if env_str("CACHE_URL") else 0, minimum=0)
# Request latency buckets (seconds) around the pages' 50-100 ms targets.
PROMETHEUS_LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf")
)  # fmt: skip

# Sources: how long one read may take, and which hosts pull sources may fetch from
# (host, *.domain or host:port; a literal IP with a port allows that one private address).
PROMETHEUS_TIMEOUT = env_int("PROMETHEUS_TIMEOUT", 10, minimum=1)
PULL_TIMEOUT = env_int("PULL_TIMEOUT", 20, minimum=1)
SOURCE_ALLOWED_HOSTS = env_list("SOURCE_ALLOWED_HOSTS", [])

# Webhooks (apps/webhooks): how long one delivery attempt may take (seconds to connect, then to
# read), and the delays between attempts (4 delays: 5 attempts). A retry waits on the broker, so
# each delay must stay below the Redis visibility timeout.
WEBHOOK_CONNECT_TIMEOUT = env_int("WEBHOOK_CONNECT_TIMEOUT", 3, minimum=1)
WEBHOOK_READ_TIMEOUT = env_int("WEBHOOK_READ_TIMEOUT", 5, minimum=1)


def _webhook_retry_delays() -> list[int]:
    raw = env_list("WEBHOOK_RETRY_DELAYS", ["10", "30", "90", "270"])
    if not all(item.isdigit() for item in raw):
        raise ImproperlyConfigured(f"WEBHOOK_RETRY_DELAYS: {raw!r} must be whole seconds, 10,30,90")
    delays = [int(item) for item in raw]
    if any(d >= CELERY_BROKER_VISIBILITY_TIMEOUT for d in delays):
        raise ImproperlyConfigured(
            f"WEBHOOK_RETRY_DELAYS: every delay must be below CELERY_VISIBILITY_TIMEOUT "
            f"({CELERY_BROKER_VISIBILITY_TIMEOUT}s)"
        )
    return delays


WEBHOOK_RETRY_DELAYS = _webhook_retry_delays()
# Beat queues again any pending delivery this many seconds overdue (its task lost with a process).
WEBHOOK_SWEEP_GRACE = env_int("WEBHOOK_SWEEP_GRACE", 300, minimum=60)
# Claim: a lost attempt's next_attempt_at moved to now by a conditional UPDATE: queued once.
CELERY_BEAT_SCHEDULE["webhooks-sweep"] = {"task": "webhooks.sweep", "schedule": 60.0}
