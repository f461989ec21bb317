from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from apps.api.docs import api_docs
from apps.launches.views import calendar_feed, demo_prometheus_query, healthz, readyz
from portal.metrics import metrics

# The admin's own login form would bypass allauth's rate limits: sign in through allauth.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="launches:list", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("calendar/<str:token>/launches.ics", calendar_feed, name="calendar"),
    path("demo/prometheus/api/v1/query", demo_prometheus_query, name="demo-prometheus"),
    path("", include("apps.reports.urls")),
    path("audit/", include("apps.audit.urls")),  # /audit/checkpoints/, public
    path("launches/", include("apps.launches.urls")),
    path("api/v1/", include("apps.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("accounts/", include("apps.accounts.urls")),  # invitations
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "apps.accounts.views.permission_denied"
