"""The portal's URLs plus /bench/floor: a constant answer through the same middleware."""

from django.http import HttpResponse
from django.urls import path

from portal.urls import handler403
from portal.urls import urlpatterns as portal_urlpatterns


def floor(request):
    """The floor of every page: the middleware stack and nothing else."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/floor", floor, name="bench-floor"), *portal_urlpatterns]

__all__ = ["handler403", "urlpatterns"]
