from django.db import migrations

PORTAL_CHAIN = "portal"  # as in apps.audit.services, frozen here


def fill(apps, schema_editor):
    """The head of a chain recorded before heads were kept: its newest event, if any."""
    AuditEvent = apps.get_model("audit", "AuditEvent")
    ChainHead = apps.get_model("audit", "ChainHead")
    newest = AuditEvent.objects.order_by("-sequence").only("sequence", "hash").first()
    if newest is None:
        return
    first = AuditEvent.objects.filter(sequence=1).values_list("hash", flat=True).first()
    ChainHead.objects.get_or_create(
        chain=PORTAL_CHAIN,
        defaults={"sequence": newest.sequence, "hash": newest.hash, "first_hash": first or ""},
    )


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_chain_head")]
    # Backwards: 0004 drops the table, head and all.
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
