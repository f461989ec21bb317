from django.apps import AppConfig


class PagesConfig(AppConfig):
    """The launch pages (list, overview, timeline, the gate pages) and the URL conf of the
    namespace "launches", above the apps whose views it routes to; no models."""

    name = "apps.pages"
    label = "pages"
