"""The hook into the audit log: every recorded event a subscription may follow becomes deliveries.

post_save on AuditEvent runs inside the transaction of the change (audit.record() insists on
one), so the delivery rows commit or roll back with it, and the tasks are queued on commit.
"""

from apps.webhooks import services, tasks
from apps.webhooks.models import EventKind

KINDS = frozenset(EventKind.values)


def on_audit_event(sender, instance, created: bool, **kwargs) -> None:
    # Filter on the action before any query: gate evaluations record events on a hot path.
    if not created or instance.action not in KINDS:
        return
    for delivery_id in services.queue_deliveries(event=instance):
        tasks.deliver.delay_on_commit(delivery_id, 1)
