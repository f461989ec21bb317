from django.contrib import admin

from apps.signoffs.models import Assignment, Role


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "launch", "scope", "required", "retired_at")
    list_filter = ("launch", "required")
    search_fields = ("key", "name", "scope")


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("user", "launch", "duty", "role", "delegate_of", "valid_from", "valid_until",
                    "revoked_at")  # fmt: skip
    list_filter = ("launch", "duty", "role")
    search_fields = ("user__username", "user__email", "reason")
    list_select_related = ("user", "launch", "role", "delegate_of")
    autocomplete_fields = ("user", "delegate_of")
