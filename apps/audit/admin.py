from django.contrib import admin

from apps.audit.models import AuditEvent, Checkpoint
from portal.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit log is append-only: readable here, never changed."""

    list_display = (
        "chain",
        "sequence",
        "at",
        "actor_name",
        "action",
        "launch_slug",
        "object_type",
        "object_key",
    )
    list_filter = ("chain", "action")
    search_fields = ("actor_name", "action", "object_key")
    date_hierarchy = "at"


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    """Signed checkpoints of the audit chains, also public at /audit/checkpoints/."""

    list_display = ("chain", "sequence", "head_hash", "at", "certificate_sha256")
    list_filter = ("chain",)
