from django.contrib import admin
from django.db import transaction

from apps.audit.services import record
from apps.signoffs.models import Assignment, Role
from portal.admin import AuditedLaunchObjects, ClosedLaunchReadOnly


@admin.register(Role)
class RoleAdmin(AuditedLaunchObjects, admin.ModelAdmin):
    list_display = ("key", "name", "launch", "scope", "required", "retired_at")
    list_filter = ("launch", "required")
    search_fields = ("key", "name", "scope")


@admin.register(Assignment)
class AssignmentAdmin(ClosedLaunchReadOnly, admin.ModelAdmin):
    list_display = ("user", "launch", "duty", "role", "delegate_of", "valid_from", "valid_until",
                    "revoked_at")  # fmt: skip
    list_filter = ("launch", "duty", "role")
    search_fields = ("user__username", "user__email", "reason")
    list_select_related = ("user", "launch", "role", "delegate_of")
    autocomplete_fields = ("user", "delegate_of")

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            _audit(request, obj, "assignment.changed" if change else "assignment.created")

    def delete_model(self, request, obj):
        with transaction.atomic():
            _audit(request, obj, "assignment.deleted")
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset.select_related("launch", "user", "role"):
                _audit(request, obj, "assignment.deleted")
            super().delete_queryset(request, queryset)


def _audit(request, assignment: Assignment, action: str) -> None:
    """Role assignments are state changes too: who may sign what."""
    record(
        actor=request.user, action=action, launch_slug=assignment.launch.slug,
        obj_type="assignment", obj_key=str(assignment.user),
        data={"duty": assignment.duty, "role": assignment.role.key if assignment.role_id else "",
              "delegate_of": str(assignment.delegate_of or ""),
              "valid_from": assignment.valid_from, "valid_until": assignment.valid_until,
              "revoked_at": assignment.revoked_at},
    )  # fmt: skip
