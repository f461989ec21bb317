from django.db import migrations, models


class Migration(migrations.Migration):
    """Sequences become per chain. Every event recorded so far joins the portal chain as it is:
    the column comes with a constant default, which PostgreSQL stores once in the catalogue
    instead of updating each row (the append-only trigger refuses UPDATE, and hashes stay)."""

    dependencies = [("audit", "0006_checkpoint")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="chain",
            field=models.CharField(default="portal", max_length=80),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                fields=("chain", "sequence"), name="audit_event_chain_sequence"
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="sequence",
            field=models.PositiveBigIntegerField(),
        ),
        migrations.AlterModelOptions(
            name="auditevent",
            options={"ordering": ["chain", "sequence"]},
        ),
    ]
