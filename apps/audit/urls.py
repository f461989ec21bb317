"""Public audit URLs, under /audit/ (the per-launch audit page is in apps/pages/urls.py)."""

from django.urls import path

from apps.audit import views

app_name = "audit"
urlpatterns = [
    path("checkpoints/", views.checkpoints, name="checkpoints"),
]
