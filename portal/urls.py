from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from apps.api import urls as api_urls
from apps.api.docs import api_docs
from apps.pages import urls as launch_urls
from apps.pages.views import calendar_feed, demo_prometheus_query, healthz, readyz
from apps.reports import urls as report_urls
from apps.rollouts import urls as rollout_urls
from apps.webhooks import urls as webhook_urls
from portal.metrics import metrics

# The admin's own login form would bypass allauth's rate limits: sign in through allauth.
admin.site.login = secure_admin_login(admin.site.login)

# The pages of one launch (namespace "launches"), each app bringing its own: so that no app's
# URL conf imports another app's views.
launch_pages = [
    *launch_urls.launch_patterns,
    *webhook_urls.launch_patterns,
    *api_urls.launch_patterns,  # the API tokens page
    *rollout_urls.launch_patterns,  # post-launch, the war room
    *report_urls.launch_patterns,  # packets, the evidence export
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="launches:list", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("calendar/<str:token>/launches.ics", calendar_feed, name="calendar"),
    path("demo/prometheus/api/v1/query", demo_prometheus_query, name="demo-prometheus"),
    path("", include("apps.reports.urls")),
    path("audit/", include("apps.audit.urls")),  # /audit/checkpoints/, public
    path("launches/", include((launch_pages, "launches"))),
    path("api/v1/", include("apps.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("accounts/", include("apps.accounts.urls")),  # invitations
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "apps.accounts.views.permission_denied"
