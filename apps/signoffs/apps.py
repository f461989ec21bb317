from django.apps import AppConfig


class SignoffsConfig(AppConfig):
    name = "apps.signoffs"
    label = "signoffs"

    def ready(self) -> None:
        from apps.gates import signals
        from apps.signoffs import receivers

        signals.status_left_passing.connect(
            receivers.invalidate_when_status_left_passing,
            dispatch_uid="signoffs.invalidate_when_status_left_passing",
        )
        signals.evidence_produced.connect(
            receivers.invalidate_when_evidence_produced,
            dispatch_uid="signoffs.invalidate_when_evidence_produced",
        )
