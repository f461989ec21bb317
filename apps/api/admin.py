from django import forms
from django.contrib import admin, messages
from django.db import transaction

from apps.api.models import ApiToken, Scope, hash_token
from apps.audit.services import record
from portal.admin import ClosedLaunchReadOnly


class ApiTokenCreationForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=[Scope.INGEST]
    )

    class Meta:
        model = ApiToken
        fields = ("launch", "name", "scopes")


@admin.register(ApiToken)
class ApiTokenAdmin(ClosedLaunchReadOnly, admin.ModelAdmin):
    """Tokens are created here or with `create_api_token`, shown once, listed and revoked."""

    list_display = ("name", "launch", "prefix", "scopes", "created_at", "last_used_at",
                    "revoked_at")  # fmt: skip
    list_filter = ("launch",)
    search_fields = ("name", "prefix")
    readonly = ("launch", "name", "prefix", "scopes", "created_at", "last_used_at")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenCreationForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ("launch", "name", "scopes") if obj is None else (*self.readonly, "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            raw = None
            if not change:
                raw = ApiToken.generate()
                obj.token_hash, obj.prefix = hash_token(raw), raw[:8]
            super().save_model(request, obj, form, change)
            action = "api_token.created" if raw else "api_token.changed"
            record(actor=request.user, action=action, launch_slug=obj.launch.slug,
                   obj_type="api_token", obj_key=obj.name,
                   data={"scopes": obj.scopes, "revoked_at": obj.revoked_at})  # fmt: skip
        if raw:
            messages.warning(
                request, f"Token for {obj.name}: {raw} (copy it now: it is not shown again)"
            )
