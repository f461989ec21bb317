from django.contrib import admin

from apps.gates.models import Evidence, Gate, Measurement, PrometheusSource, StatusChange, Waiver
from portal.admin import AuditedLaunchObjects, ReadOnlyAdmin


@admin.register(Gate)
class GateAdmin(AuditedLaunchObjects, admin.ModelAdmin):
    list_display = (
        "key",
        "name",
        "launch",
        "category",
        "dimension",
        "source",
        "blocking",
        "comparator",
        "threshold",
        "unit",
        "retired_at",
    )
    list_filter = ("launch", "source", "category", "dimension", "blocking")
    search_fields = ("key", "name", "query", "metric")
    list_select_related = ("launch",)


@admin.register(Measurement)
class MeasurementAdmin(ReadOnlyAdmin):
    """Measurements are facts: readable here, never changed."""

    list_display = ("gate", "status", "value", "evaluated_at", "reason")
    list_filter = ("status", "gate__launch", "gate__source")
    search_fields = ("gate__key", "reason")
    list_select_related = ("gate",)
    date_hierarchy = "evaluated_at"


@admin.register(PrometheusSource)
class PrometheusSourceAdmin(AuditedLaunchObjects, admin.ModelAdmin):
    list_display = ("key", "url", "launch")
    list_filter = ("launch",)
    search_fields = ("key", "url")


@admin.register(Waiver)
class WaiverAdmin(ReadOnlyAdmin):
    """Read-only: waivers are requested, approved, refused and revoked on the gate page, where
    the two-person rule and the audit log apply."""

    list_display = ("gate", "reason", "requested_by_name", "granted_by_name", "expires_at",
                    "refused_at", "revoked_at")  # fmt: skip
    list_filter = ("gate__launch",)
    search_fields = ("gate__key", "reason", "requested_by_name", "granted_by_name")
    list_select_related = ("gate",)


@admin.register(Evidence)
class EvidenceAdmin(ReadOnlyAdmin):
    list_display = ("sha256", "name", "content_type", "size", "created_at")
    search_fields = ("sha256", "name")


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):
    list_display = ("gate", "from_status", "to_status", "at", "reason")
    list_filter = ("to_status", "gate__launch")
    search_fields = ("gate__key", "reason")
    list_select_related = ("gate",)
