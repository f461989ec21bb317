"""A new canary revision mid-run: Flagger restarts its analysis for a new checksum and calls
confirm-rollout again. The run of the old revision ends `superseded` (audited with both
checksums, its readings kept) and a run of the new one starts, if a Go still stands in the T-0
window. Flagger's own bodies, sent as Flagger sends them (no header but Content-Type)."""

import pytest
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.rollouts.models import AnalysisReading, HookCall, RolloutRun
from apps.rollouts.services import RolloutRefused, analyse_run, start_run, supersede_run
from tests.rollouts.conftest import decide, flagger, hook

pytestmark = pytest.mark.django_db
OLD, NEW = "6d8f4b9c5", "7b5f9d2e1"


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def under_way(client, launch, go, token, settings):
    """Flagger's revision OLD started a run, its first stage is analysed once (no Prometheus
    configured here: the readings are unknown, which is what they are)."""
    settings.PROMETHEUS_URL = ""
    assert (
        hook(client, "confirm-rollout", token=token, body=flagger("Waiting", OLD)).status_code
        == 200
    )
    assert hook(client, "confirm-traffic-increase", token=token,
                body=flagger("Progressing", OLD)).status_code == 200  # fmt: skip
    run = RolloutRun.objects.get()
    analyse_run(run_id=run.pk, now=timezone.now())
    return run


def test_a_new_checksum_supersedes_the_run_and_starts_one_for_the_new_revision(
    client, launch, token, under_way
):
    readings = AnalysisReading.objects.filter(run=under_way).count()
    assert readings > 0

    response = hook(client, "confirm-rollout", token=token, body=flagger("Progressing", NEW))
    assert response.status_code == 200
    old, new = RolloutRun.objects.order_by("pk")
    assert response.json()["run"] == new.pk
    assert response.json()["detail"] == (
        f"run {old.pk} of revision {OLD} is superseded; run {new.pk} of revision {NEW} started"
    )
    assert (old.status, old.reason) == ("superseded", f"superseded by canary revision {NEW}")
    assert old.finished_at is not None and old.stages.get(order=1).finished_at is not None
    assert (new.status, new.checksum, new.driver) == ("running", NEW, "deploy_tool")
    assert new.current_order is None  # Flagger's next traffic increase starts its first stage
    assert AnalysisReading.objects.filter(run=old).count() == readings  # the old readings stay

    event = AuditEvent.objects.get(action="rollout.superseded")
    assert (event.data["old_checksum"], event.data["new_checksum"]) == (OLD, NEW)
    assert (event.data["run"], event.data["stage"], event.actor_name) == (
        old.pk, "canary-5", "token:flagger")  # fmt: skip
    assert HookCall.objects.filter(hook="confirm-rollout").first().run == new

    # Flagger keeps asking with the new revision: the same run, nothing new
    again = hook(client, "confirm-rollout", token=token, body=flagger("Progressing", NEW))
    assert (again.status_code, again.json()["run"]) == (200, new.pk)
    assert RolloutRun.objects.count() == 2
    # the old revision is no run of the portal any more: its rollback is not confirmed
    assert (
        hook(client, "rollback", token=token, body=flagger("Progressing", OLD)).status_code == 409
    )
    assert hook(client, "confirm-traffic-increase", token=token,
                body=flagger("Progressing", NEW)).status_code == 200  # fmt: skip


def test_without_a_go_the_new_revision_is_refused_and_nothing_changes(
    client, launch, people, token, under_way
):
    decide(launch, people, "no-go")
    refused = hook(client, "confirm-rollout", token=token, body=flagger("Progressing", NEW))
    assert refused.status_code == 403
    assert "No-Go" in refused.json()["detail"]
    assert RolloutRun.objects.count() == 1
    assert not AuditEvent.objects.filter(action="rollout.superseded").exists()


def test_the_same_checksum_again_keeps_the_run(client, token, under_way):
    again = hook(client, "confirm-rollout", token=token, body=flagger("Progressing", OLD))
    assert (again.status_code, again.json()["run"]) == (200, under_way.pk)
    under_way.refresh_from_db()
    assert under_way.status == "running" and RolloutRun.objects.count() == 1


def test_a_run_a_launch_admin_started_is_not_superseded_by_a_deploy_tool(
    client, launch, people, go, token
):
    run = start_run(launch=launch, actor=people["ada"])  # no checksum: the portal drives it
    response = hook(client, "confirm-rollout", token=token, body=flagger("Progressing", NEW))
    assert (response.status_code, response.json()["run"]) == (200, run.pk)
    run.refresh_from_db()
    assert run.status == "running" and RolloutRun.objects.count() == 1


def test_superseding_an_ended_run_is_refused(launch, people, under_way):
    under_way.status = "rollback"
    under_way.save(update_fields=["status"])
    with pytest.raises(RolloutRefused) as refused:
        supersede_run(run=under_way, checksum=NEW, actor="test")
    assert refused.value.status == 409
    assert RolloutRun.objects.count() == 1
