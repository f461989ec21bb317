from django.apps import AppConfig


class SpecsConfig(AppConfig):
    """YAML launch specs in and out: validating, importing, exporting, editing (no models)."""

    name = "apps.specs"
    label = "specs"
