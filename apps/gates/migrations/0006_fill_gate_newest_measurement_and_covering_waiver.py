"""Fill the columns 0005 added: each gate's newest measurement (newest evaluated_at, then
highest id) and the waiver covering it (granted, unrevoked, the latest expiry)."""

from django.db import migrations
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce


def fill(apps, schema_editor):
    Gate = apps.get_model("gates", "Gate")
    Measurement = apps.get_model("gates", "Measurement")
    Waiver = apps.get_model("gates", "Waiver")
    newest = Measurement.objects.filter(gate=OuterRef("pk")).order_by("-evaluated_at", "-id")
    Gate.objects.update(latest_measurement=Subquery(newest.values("pk")[:1]))
    kept = Measurement.objects.filter(pk=OuterRef("latest_measurement"))
    Gate.objects.filter(latest_measurement__isnull=False).update(
        latest_evaluated_at=Subquery(kept.values("evaluated_at")),
        latest_value=Subquery(kept.values("value")),
        latest_reason=Subquery(kept.values("reason")),
        latest_evidence=Coalesce(Subquery(kept.values("evidence_id")), Value("")),
    )
    covering = Waiver.objects.filter(
        gate=OuterRef("pk"), granted_at__isnull=False, revoked_at__isnull=True
    ).order_by("-expires_at", "-id")
    Gate.objects.update(covering_waiver=Subquery(covering.values("pk")[:1]))


class Migration(migrations.Migration):
    dependencies = [
        ("gates", "0005_gate_keeps_newest_measurement_and_covering_waiver"),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
