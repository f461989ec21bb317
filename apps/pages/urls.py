"""The pages of one launch (apps.pages: the overview, timeline and gate pages), and of those apps
without a URL conf of their own (sign-offs, the audit log, the spec): `launch_patterns` open the
namespace "launches" that portal/urls.py builds."""

from django.urls import path

from apps.audit import views as audit_views
from apps.pages import gate_views, views
from apps.signoffs import views as signoff_views
from apps.specs import spec_views

launch_patterns = [
    path("", views.launch_list, name="list"),
    path("import/", spec_views.spec_import, name="import"),  # before <slug>/: "import" is one
    path("<slug:slug>/", views.launch_overview, name="overview"),
    path("<slug:slug>/gates/", gate_views.gate_list, name="gates"),
    path("<slug:slug>/gates/<slug:key>/", gate_views.gate_detail, name="gate"),
    path("<slug:slug>/gates/<slug:key>/attest/", gate_views.gate_attest, name="gate-attest"),
    path("<slug:slug>/evidence/<str:sha256>/", gate_views.evidence_download, name="evidence"),
    path("<slug:slug>/timeline/", views.timeline, name="timeline"),
    path("<slug:slug>/activities/<int:pk>/", views.activity_update, name="activity-update"),
    path("<slug:slug>/signoffs/", signoff_views.matrix, name="signoffs"),
    path("<slug:slug>/audit/", audit_views.audit_log, name="audit"),
    path("<slug:slug>/decision/", signoff_views.decision, name="decision"),
    path("<slug:slug>/gates/<slug:key>/waive/", gate_views.gate_waive, name="gate-waive"),
    path(
        "<slug:slug>/gates/<slug:key>/waivers/<int:pk>/<slug:action>/",
        gate_views.waiver_action,
        name="waiver-action",
    ),
    path("<slug:slug>/signoffs/<slug:role>/sign/", signoff_views.sign, name="sign"),
    path("<slug:slug>/people/", signoff_views.people, name="people"),
    path("<slug:slug>/signoffs/request/", signoff_views.signoff_request, name="signoff-request"),
    path(
        "<slug:slug>/notifications/",
        signoff_views.notification_settings,
        name="notifications",
    ),
    path("<slug:slug>/spec/", spec_views.spec_edit, name="spec"),
    path("<slug:slug>/spec.yaml", spec_views.spec_download, name="spec-download"),
]
