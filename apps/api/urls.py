from django.urls import path

from apps.api import postlaunch, resources, rollouts, token_views, views

app_name = "api"
launch = "launches/<slug:slug>/"
urlpatterns = [
    path("launches/", resources.LaunchList.as_view(), name="launches"),
    path("me/waiting/", resources.WaitingForMe.as_view(), name="waiting"),
    path(launch, resources.LaunchDetail.as_view(), name="launch"),
    path(f"{launch}readiness/", views.ReadinessView.as_view(), name="readiness"),
    path(f"{launch}forecast/", views.ForecastView.as_view(), name="forecast"),
    path(f"{launch}reports/", views.ReportIngestView.as_view(), name="report-ingest"),
    path(f"{launch}phases/", resources.PhaseList.as_view(), name="phases"),
    path(f"{launch}activities/", resources.ActivityList.as_view(), name="activities"),
    path(f"{launch}activities/<int:pk>/", resources.ActivityDetail.as_view(), name="activity"),
    path(f"{launch}gates/", resources.GateList.as_view(), name="gates"),
    path(f"{launch}gates/<slug:key>/", resources.GateDetail.as_view(), name="gate"),
    path(
        f"{launch}gates/<slug:key>/measurements/",
        resources.MeasurementList.as_view(),
        name="measurements",
    ),  # fmt: skip
    path(f"{launch}waivers/", resources.WaiverList.as_view(), name="waivers"),
    path(f"{launch}roles/", resources.RoleList.as_view(), name="roles"),
    path(f"{launch}signoffs/", resources.SignOffList.as_view(), name="signoffs"),
    path(f"{launch}decisions/", resources.DecisionList.as_view(), name="decisions"),
    path(f"{launch}audit/", resources.AuditEventList.as_view(), name="audit"),
    path(f"{launch}rollout/analysis/", rollouts.AnalysisView.as_view(), name="rollout-analysis"),
    path(f"{launch}post-launch/", postlaunch.PostLaunchView.as_view(), name="post-launch"),
    *(
        path(f"{launch}rollout/hooks/{hook}/", view.as_view(), name=f"rollout-{hook}")
        for hook, view in rollouts.HOOK_VIEWS.items()
    ),
]

# The launch's token pages, in the launches' namespace (portal/urls.py).
launch_patterns = [
    path("<slug:slug>/tokens/", token_views.token_list, name="api-tokens"),
    path("<slug:slug>/tokens/<int:pk>/revoke/", token_views.token_revoke, name="api-token-revoke"),
]
