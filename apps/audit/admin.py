from django.contrib import admin

from apps.audit.models import AuditEvent
from portal.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit log is append-only: readable here, never changed."""

    list_display = (
        "sequence",
        "at",
        "actor_name",
        "action",
        "launch_slug",
        "object_type",
        "object_key",
    )
    list_filter = ("action", "launch_slug")
    search_fields = ("actor_name", "action", "object_key")
    date_hierarchy = "at"
