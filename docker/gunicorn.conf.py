"""gunicorn for the portal, in the Docker image and in `make prod` (scripts/prod).

The bind address comes from the command line (`--bind`); the rest is here, where review sees it.
"""

import gc
import os
import shutil
import tempfile
from pathlib import Path

wsgi_app = "portal.wsgi:application"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# A request that takes longer than this is a bug: the worker is killed and restarted.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20  # SIGTERM: finish the requests in flight
keepalive = 5
control_socket_disable = True  # gunicorn 24+: a socket in $HOME that two instances share
# One classic access line per request on stdout, with the request id the portal answered with;
# the portal's own JSON access line (same id, user, duration) goes to stderr, with secret URL
# parts (the calendar feed token) masked, which this line cannot do: GUNICORN_ACCESS_LOG=off
# leaves the JSON line alone. The query string is never logged.
accesslog = None if os.environ.get("GUNICORN_ACCESS_LOG") == "off" else "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms "%(a)s" %({x-request-id}o)s'

# prometheus_client's multiprocess mode: each worker writes its counters and histograms to files
# here, and /metrics adds them up, whichever worker answers. Set before any worker starts.
_metrics_dir = Path(
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR",
        str(Path(tempfile.gettempdir()) / f"portal-prometheus-{os.getpid()}"),
    )
)


# Python's full garbage collection walks every object a process holds: once Django, the portal
# and its templates are loaded, about 175,000 objects and 90 ms, every few dozen requests; under
# load that pause was the p99 (`make bench`). A worker freezes what it holds (gc.freeze: moved
# out of the collector's sight for good) when it starts and again once its first requests have
# loaded the URL patterns and compiled the templates; what those objects are lives as long as
# the worker anyway.
FREEZE_AFTER_REQUESTS = 20


def post_worker_init(worker) -> None:
    gc.freeze()


def post_request(worker, req, environ, resp) -> None:
    if getattr(worker, "nr", 0) == FREEZE_AFTER_REQUESTS:
        gc.collect()
        gc.freeze()


def on_starting(server) -> None:
    """Start from empty: files left by a previous run would add its counts to ours."""
    if _metrics_dir.exists():
        for stale in _metrics_dir.glob("*.db"):
            stale.unlink()
    _metrics_dir.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if _metrics_dir.name.startswith("portal-prometheus-"):
        shutil.rmtree(_metrics_dir, ignore_errors=True)
