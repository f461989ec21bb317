from django.contrib import admin

from apps.signoffs.models import Role


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "launch", "scope", "required", "retired_at")
    list_filter = ("launch", "required")
    search_fields = ("key", "name", "scope")
