"""Celery tasks: thin doors onto apps.audit.checkpoints."""

from celery import shared_task

from apps.audit import checkpoints


@shared_task(name="audit.checkpoint")
def checkpoint() -> int:
    """Sign a checkpoint of each chain whose head moved (beat, every AUDIT_CHECKPOINT_MINUTES)."""
    return checkpoints.issue_due_checkpoints()
