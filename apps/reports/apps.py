from django.apps import AppConfig


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.reports"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from apps.audit.models import AuditEvent
        from apps.reports.receivers import build_packet_when_ready

        post_save.connect(
            build_packet_when_ready, sender=AuditEvent, dispatch_uid="reports.packet_when_ready"
        )
