"""URL patterns of the reports app.

`launch_patterns` join the namespace "launches" (portal/urls.py); `urlpatterns` hold /verify/
and the signing certificate it names, both public.
"""

from django.urls import path

from apps.reports import closure_views, views

launch_patterns = [
    path("<slug:slug>/packets/", views.packet_list, name="packets"),
    path("<slug:slug>/packets/<str:sha256>.pdf", views.packet_download, name="packet"),
    path("<slug:slug>/controls/", views.controls, name="controls"),
    path("<slug:slug>/export/", views.evidence_export, name="export"),
    path("<slug:slug>/export/<int:pk>.zip", views.export_download, name="export-download"),
    path("<slug:slug>/close/", closure_views.close, name="close"),
    path("<slug:slug>/summary.pdf", closure_views.summary_download, name="summary"),
]

urlpatterns = [
    path("verify/", views.verify, name="verify"),
    path("verify/certificate.pem", views.certificate, name="verify-certificate"),
]
