"""Fill the column 0007 added: each gate's newest 20 measurements (newest evaluated_at, then
highest id) as [value as a float, status], oldest first (frozen copies of
apps.gates.models.spark_point and apps.gates.services._newest_points)."""

from django.db import migrations
from django.db.models import F, Window
from django.db.models.functions import RowNumber


def fill(apps, schema_editor):
    Gate = apps.get_model("gates", "Gate")
    Measurement = apps.get_model("gates", "Measurement")
    rank = Window(RowNumber(), partition_by=F("gate_id"), order_by=["-evaluated_at", "-id"])
    newest = Measurement.objects.annotate(rank=rank).filter(rank__lte=20)
    newest = newest.order_by("gate_id", "evaluated_at", "id").only("gate_id", "value", "status")
    points = {}
    for m in newest.iterator(chunk_size=5000):
        value = None if m.value is None else float(m.value)
        points.setdefault(m.gate_id, []).append([value, m.status])
    gates = [Gate(pk=pk, spark_points=kept) for pk, kept in points.items()]
    Gate.objects.bulk_update(gates, ["spark_points"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("gates", "0007_gate_keeps_sparkline_points_exact_values"),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
