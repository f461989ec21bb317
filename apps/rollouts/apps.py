from django.apps import AppConfig


class RolloutsConfig(AppConfig):
    name = "apps.rollouts"
    label = "rollouts"
    verbose_name = "Rollouts"

    def ready(self) -> None:
        from apps.rollouts import schema  # noqa: F401 - registers the secret URL with drf-spectacular
