from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The project itself as an app: its system checks and its `signing_identity` command."""

    name = "portal"
    label = "portal"
    verbose_name = "Launch Portal"

    def ready(self) -> None:
        from portal import checks  # noqa: F401 - registers the signing checks
