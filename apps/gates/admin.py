from django.contrib import admin

from apps.gates.models import Gate, Measurement, PrometheusSource


@admin.register(Gate)
class GateAdmin(admin.ModelAdmin):
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
class MeasurementAdmin(admin.ModelAdmin):
    """Measurements are facts: readable here, never changed."""

    list_display = ("gate", "status", "value", "evaluated_at", "reason")
    list_filter = ("status", "gate__launch", "gate__source")
    search_fields = ("gate__key", "reason")
    list_select_related = ("gate",)
    date_hierarchy = "evaluated_at"

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(PrometheusSource)
class PrometheusSourceAdmin(admin.ModelAdmin):
    list_display = ("key", "url", "launch")
    list_filter = ("launch",)
    search_fields = ("key", "url")
