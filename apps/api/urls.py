from django.urls import path

from apps.api import views

app_name = "api"
urlpatterns = [
    path("launches/<slug:slug>/reports/", views.ReportIngestView.as_view(), name="report-ingest"),
    path("launches/<slug:slug>/readiness/", views.ReadinessView.as_view(), name="readiness"),
]
