import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def check_visibility_timeout(conf) -> None:
    """Refuse to start when Redis would redeliver a task before its retry delay or time limit."""
    if not str(conf.broker_url).startswith(("redis", "rediss")):
        return
    timeout = (conf.broker_transport_options or {}).get("visibility_timeout", 3600)
    per_task = [a.get("time_limit") or 0 for a in (conf.task_annotations or {}).values()]
    longest = max([conf.task_time_limit or 0, 60, *per_task])  # 60: the gate tasks' backoff
    if timeout <= longest:
        raise RuntimeError(
            f"Redis visibility_timeout {timeout}s must exceed the longest task delay {longest}s"
        )


@worker_init.connect
def _check_on_start(sender=None, **kwargs) -> None:
    check_visibility_timeout(sender.app.conf if sender else app.conf)
