from django.db import migrations, models


class Migration(migrations.Migration):
    """Audit sequences are per chain now (audit 0007): a delivery is once per (chain, sequence).
    The deliveries so far were of the one chain there was, which became the portal chain."""

    dependencies = [("webhooks", "0003_admin_names")]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="event_chain",
            field=models.CharField(
                default="portal", help_text="The audit event's chain.", max_length=80
            ),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="event_sequence",
            field=models.PositiveBigIntegerField(help_text="The audit event's sequence in it."),
        ),
        migrations.RemoveConstraint(
            model_name="webhookdelivery",
            name="webhook_delivery_once_per_event",
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.UniqueConstraint(
                fields=("subscription", "event_chain", "event_sequence"),
                name="webhook_delivery_once_per_event",
            ),
        ),
    ]
