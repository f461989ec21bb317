from django.urls import path

from apps.api import views

app_name = "api"
urlpatterns = [
    path("launches/<slug:slug>/reports/", views.ReportIngestView.as_view(), name="report-ingest"),
]
