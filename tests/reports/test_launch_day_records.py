"""Launch day in the records: otto the auditor finds the rollout runs, their stages, readings and
Flagger's hook calls in the packet ("Launch day") and in the export (three CSVs, signed)."""

import copy
import csv
import io
import zipfile
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.api.services import create_api_token
from apps.reports.packets.launch_day import packet_runs
from apps.reports.packets.render import render_packet
from apps.rollouts.services import analyse_run, roll_back, start_run
from apps.specs.services import import_launch_spec
from tests.helpers import report_only, to_yaml
from tests.reports.pdftext import pdf_text
from tests.reports.test_export import export_to, run_verify, unpack
from tests.rollouts.conftest import ROLLOUT, decide, flagger, hook
from tests.signoffs.conftest import make_user

pytestmark = pytest.mark.django_db
REASON = "rollback trigger fired: error-rate-above-5 fired: 7 > 5"


@pytest.fixture
def launch(spec, media, settings):
    settings.PROMETHEUS_URL = ""  # every reading is unknown: "no Prometheus configured"
    report_only(spec)
    spec["launch"]["target_t0"] = (timezone.now() + timedelta(minutes=30)).isoformat()
    spec["rollout"] = copy.deepcopy(ROLLOUT)
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


@pytest.fixture
def people(launch):
    from apps.signoffs.models import Assignment, Duty, Role

    vera, ada = make_user("vera"), make_user("ada")
    role = Role.objects.get(launch=launch, key="vp-engineering")
    Assignment.objects.create(launch=launch, user=vera, duty=Duty.SIGNER, role=role)
    Assignment.objects.create(launch=launch, user=ada, duty=Duty.ADMIN)
    return {"vera": vera, "ada": ada}


@pytest.fixture
def rolled_back(launch, people):
    """Flagger starts a run (confirm-rollout, then a traffic increase); one analysis; a trigger
    fires and the run rolls back."""
    decide(launch, people, "go")
    token = create_api_token(launch=launch, name="flagger", scopes=["rollout"], actor="test")[1]
    client = Client()
    body = flagger(checksum="7f3c2a", release="v2.1")
    assert hook(client, "confirm-rollout", token=token, body=body).status_code == 200
    assert hook(client, "confirm-traffic-increase", token=token, body=body).status_code == 200
    run = launch.rollout_runs.get()
    analyse_run(run_id=run.pk, now=timezone.now() + timedelta(seconds=10))
    return roll_back(run=run, actor="worker", reason=REASON)


def test_the_packet_tells_the_run_its_stages_and_its_readings(rolled_back, launch):
    text = pdf_text(render_packet(launch, now=timezone.now(), signed=False))
    assert "Launch day" in text
    assert f"Run {rolled_back.pk}: Rollback" in text
    assert "the deploy tool confirms each traffic increase" in text
    assert f"Rollback: {REASON}" in text
    assert "canary revision 7f3c2a" in text
    assert "canary-5 5%" in text and "full 100%" in text
    # the per-criterion summary: one unknown reading of each of the stage's criteria
    assert "error-rate-above-5" in text and "> 5 %" in text
    assert "latency-p99" in text and "1 0 / 0 / 1" in text


def test_a_launch_without_runs_says_so(launch):
    text = pdf_text(render_packet(launch, now=timezone.now(), signed=False))
    assert "No rollout run yet." in text


def test_the_packet_reads_runs_in_three_queries_however_many(
    launch, people, django_assert_num_queries
):
    decide(launch, people, "go")
    for n in range(3):
        run = start_run(launch=launch, actor=people["ada"])
        analyse_run(run_id=run.pk, now=timezone.now() + timedelta(seconds=10 + n))
        roll_back(run=run, actor="test", reason=f"rehearsal {n}")
    with django_assert_num_queries(3):  # runs, their stages, the readings' summaries
        runs, total = packet_runs(launch)
    assert total == 3 and [r.reason for r in runs] == ["rehearsal 2", "rehearsal 1", "rehearsal 0"]
    assert {c.name for c in runs[0].criteria_summary} >= {"error-rate", "error-rate-above-5"}


def test_the_export_carries_runs_readings_and_hooks_signed_and_verifiable(rolled_back, launch,
                                                                         tmp_path):  # fmt: skip
    manifest = export_to(launch, tmp_path / "e.zip")
    zf = zipfile.ZipFile(tmp_path / "e.zip")
    for name in ("rollout_runs.csv", "rollout_readings.csv", "rollout_hooks.csv"):
        assert name in zf.namelist() and name in manifest["files"]

    def rows(name):
        return list(csv.DictReader(io.StringIO(zf.read(name).decode())))

    runs = rows("rollout_runs.csv")
    assert [(r["stage"], r["traffic"]) for r in runs] == [("canary-5", "5"), ("full", "100")]
    assert {r["status"] for r in runs} == {"rollback"} and runs[0]["reason"] == REASON
    assert runs[0]["stage_status"] == "analysing" and runs[0]["checksum"] == "7f3c2a"
    readings = rows("rollout_readings.csv")
    assert {r["name"] for r in readings} == {"error-rate", "latency-p99", "error-rate-above-5"}
    assert {r["status"] for r in readings} == {"unknown"}
    hooks = rows("rollout_hooks.csv")
    assert [(h["hook"], h["status_code"]) for h in hooks] == [
        ("confirm-rollout", "200"), ("confirm-traffic-increase", "200")]  # fmt: skip
    assert hooks[0]["name"] == "atlas-api" and hooks[0]["namespace"] == "atlas"
    assert hooks[0]["checksum"] == "7f3c2a" and hooks[0]["metadata"] == '{"release":"v2.1"}'

    folder = unpack(tmp_path / "e.zip", tmp_path / "x")
    result = run_verify(folder / "verify.py")
    assert result.returncode == 0, result.stdout
    (folder / "rollout_readings.csv").write_text("id\n")  # a reading removed after the fact
    failed = run_verify(folder / "verify.py")
    assert failed.returncode != 0 and "rollout_readings.csv" in failed.stdout


def test_flagger_metadata_cannot_inject_a_formula_into_the_csv(launch, people, tmp_path):
    decide(launch, people, "go")
    token = create_api_token(launch=launch, name="flagger", scopes=["rollout"], actor="test")[1]
    hook(Client(), "confirm-rollout", token=token, body=flagger(checksum="=HYPERLINK(1)"))
    export_to(launch, tmp_path / "e.zip")
    text = zipfile.ZipFile(tmp_path / "e.zip").read("rollout_hooks.csv").decode()
    assert ",'=HYPERLINK(1)," in text
