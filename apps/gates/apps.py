from django.apps import AppConfig


class GatesConfig(AppConfig):
    name = "apps.gates"
    label = "gates"

    def ready(self) -> None:
        from portal import db

        db.connect()  # the gate pages read thousands of timestamps: psycopg's C-speed path
