import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.gates.models import Gate, format_decimal
from apps.gates.services import evaluate_gate


class Command(BaseCommand):
    help = "Evaluate every polled gate once, now, and print every gate's status."

    def add_arguments(self, parser):
        parser.add_argument("--launch", help="only this launch's gates")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print a JSON list")

    def handle(self, *args, launch: str | None, as_json: bool, **options):
        gates = Gate.objects.active().select_related("launch", "prometheus")
        if launch:
            gates = gates.filter(launch__slug=launch)
            if not gates.exists():
                raise CommandError(f"no gates for launch {launch!r}")
        for gate in gates:
            if gate.is_polled:
                evaluate_gate(gate=gate, actor="evaluate_gates")
        rows = [_row(gate) for gate in Gate.objects.filter(pk__in=gates).for_dashboard(
            timezone.now()).select_related("launch")]  # fmt: skip
        if as_json:
            self.stdout.write(_dumps(rows))
            return
        for row in rows:
            self.stdout.write(f"{row['status']:8} {row['key']:40} {row['value'] or '-':>12}  "
                              f"{row['reason']}")  # fmt: skip


def _row(gate: Gate) -> dict:
    status, reason = gate.current_status()
    value = gate.latest_value
    return {
        "launch": gate.launch.slug,
        "key": gate.key,
        "status": status,
        "value": None if value is None else format_decimal(value),
        "reason": reason,
    }


def _dumps(rows: list[dict]) -> str:
    return json.dumps(rows, indent=2)
