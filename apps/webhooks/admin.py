from django.contrib import admin
from django.db import models

from apps.webhooks.models import WebhookDelivery, WebhookSubscription
from portal.admin import ReadOnlyAdmin


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyAdmin):
    """Subscriptions are made and deactivated on the launch's webhooks page, where it is audited."""

    list_display = ("url", "launch", "events", "format", "active", "created_by", "created_at")
    list_filter = ("active", "format", "launch")
    list_select_related = ("launch", "created_by")
    exclude = ("secret",)  # shown once, to the admin who subscribed
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("uuid", "subscription", "event_kind", "status", "attempts",
                    "last_response_code", "created_at", "last_attempt_at")  # fmt: skip
    list_filter = ("status", "event_kind")
    list_select_related = ("subscription",)
    search_fields = ("uuid",)
