"""URL patterns of the webhooks app: `launch_patterns` join the namespace "launches"
(portal/urls.py)."""

from django.urls import path

from apps.webhooks import views

launch_patterns = [
    path("<slug:slug>/webhooks/", views.webhook_list, name="webhooks"),
    path(
        "<slug:slug>/webhooks/<int:pk>/deactivate/",
        views.webhook_deactivate,
        name="webhook-deactivate",
    ),
]
