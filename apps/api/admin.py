from django.contrib import admin

from apps.api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `create_api_token` (shown once); here they are listed and revoked."""

    list_display = ("name", "launch", "prefix", "scopes", "created_at", "last_used_at",
                    "revoked_at")  # fmt: skip
    list_filter = ("launch",)
    search_fields = ("name", "prefix")
    readonly_fields = ("launch", "name", "prefix", "token_hash", "scopes", "created_at",
                       "last_used_at")  # fmt: skip
    fields = (*readonly_fields, "revoked_at")

    def has_add_permission(self, request):
        return False
