from django.apps import AppConfig
from django.db.models.signals import post_save


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from apps.audit.models import AuditEvent
        from apps.webhooks.receivers import on_audit_event

        post_save.connect(on_audit_event, sender=AuditEvent, dispatch_uid="webhooks.audit_event")
