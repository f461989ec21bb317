from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo of `make run`: its launch, people and readings (load_demo), and the labelled demo
    metrics source; no models."""

    name = "apps.demo"
    label = "demo"
