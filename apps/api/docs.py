"""The API's reference page: Swagger UI from our own static files, under the portal's CSP.

The stock page loads its assets from a CDN and carries an inline style and script; ours links the
sidecar's copies ('self') and gives the one inline script the request's CSP nonce.
"""

from django.contrib.auth.decorators import login_required
from drf_spectacular.views import SpectacularSwaggerView


class ApiDocsView(SpectacularSwaggerView):
    template_name = "api/swagger_ui.html"


api_docs = login_required(ApiDocsView.as_view(url_name="api-schema"))
