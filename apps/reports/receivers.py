"""Signal receivers of the reports app, connected in ReportsConfig.ready()."""

from django.db import transaction

from apps.reports.packets.jobs import request_ready_packet


def build_packet_when_ready(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """A `launch.ready` audit event queues the launch's packet once, after its commit.

    robust: a broker that does not answer must not fail the sign-off that made the launch ready.
    """
    if not created or raw or instance.action != "launch.ready":
        return
    # Its id, not its sequence: sequences are per chain, two launches' events share them.
    slug, event_id = instance.launch_slug, instance.pk
    transaction.on_commit(
        lambda: request_ready_packet(launch_slug=slug, ready_event=event_id), robust=True
    )
