"""Ask a worker to build a packet or an export, once the caller's transaction commits.

The tasks (apps.reports.tasks) are doors onto apps.reports.packets.jobs and
apps.reports.exports.jobs; those name the task they queue instead of importing the module that
imports them, so no import cycle.
"""

from celery import current_app
from django.db import transaction

BUILD_PACKET = "reports.build_packet"
BUILD_EXPORT = "reports.build_export"


def build_later(task_name: str, job_id: int) -> None:
    """Queue `task_name` for `job_id` when the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: current_app.send_task(task_name, args=(job_id,)))
