"""Logging: JSON lines in production, plain text in development, each with its request or task.

`portal.middleware.RequestIdMiddleware` puts the request id in `request_id` for the length of a
request; `ContextFilter` copies it (or the running Celery task's id and name) onto every record
that reaches a handler, so a line from deep in a service says which request or task wrote it.
"""

import logging
import logging.config
from contextvars import ContextVar

from celery import current_task
from celery.signals import setup_logging

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class ContextFilter(logging.Filter):
    """Add `request_id`, or `task_id` and `task_name`, to each record (only those that apply)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id.get()
        if rid is not None:
            record.request_id = rid
        task = current_task
        if task and task.request.id is not None and not hasattr(record, "task_id"):
            record.task_id = task.request.id
            record.task_name = task.name
        return True


class QuietDemoSource(logging.Filter):
    """Drop the access lines of the worker's own queries to the demo metrics source.

    Under `make run` the worker asks the web's /demo/prometheus/ every few seconds; their lines
    (portal.access and runserver's django.server) would push the banner out of the terminal.
    A failing query (status 400 and up) is still logged.
    """

    PATH = "/demo/prometheus/"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name not in ("portal.access", "django.server") or record.levelno > logging.INFO:
            return True
        status = getattr(record, "status", None) or getattr(record, "status_code", None) or 0
        return not (self.PATH in record.getMessage() and int(status) < 400)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [request abc]: message` for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None):
            record.context = f" [request {record.request_id}]"
        elif getattr(record, "task_id", None):
            record.context = f" [{record.task_name} {record.task_id}]"
        else:
            record.context = ""
        return super().format(record)


def logging_config(*, json: bool, level: str) -> dict:
    """The LOGGING setting: one console handler on the root logger, JSON or text."""
    formatters = {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
        "text": {
            "()": "portal.logging.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s",
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "portal.logging.ContextFilter"},
            "quiet_demo_source": {"()": "portal.logging.QuietDemoSource"},
        },
        "formatters": formatters,
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if json else "text",
                "filters": ["context", "quiet_demo_source"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # WeasyPrint narrates every rendering step at INFO.
        "loggers": {"weasyprint.progress": {"level": "WARNING"}},
    }


@setup_logging.connect(weak=False)
def _celery_uses_our_logging(**kwargs) -> None:
    """Celery worker and beat log through settings.LOGGING (JSON lines with the task id).

    Connected when the settings import this module, which Celery does before it sets up logging;
    with a receiver, Celery neither replaces the root handlers nor redirects stdout.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
