"""Two web replicas and a worker on "other hosts" sharing nothing but the engines (issue 20).

Replica A and replica B are two gunicorn servers, and W a Celery worker, each with folders of its
own (EVIDENCE_ROOT, PORTAL_VAR_DIR), all on the test database, the test Redis and one bucket of
the moto S3 server (STORAGE_BACKEND=s3). CI uploads a report through A; otto, an auditor, then
reads the evidence, the packet W rendered and the export W built through B. No folder is written.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from apps.api.services import create_api_token
from apps.gates.models import Evidence
from apps.reports.exports.jobs import request_export
from apps.reports.models import ExportJob, JobStatus, Packet, PacketJob
from apps.reports.packets.jobs import request_packet
from tests.celery_worker import Worker, broker_url, database_url, wait_for
from tests.helpers import ROOT, import_report_only_launch
from tests.s3 import CREDENTIALS, free_port

pytestmark = pytest.mark.django_db(transaction=True)
COBERTURA = ROOT / "tests" / "fixtures" / "reports" / "cobertura" / "coveragepy-7.17.4-branch.xml"


def host_env(folder: Path, bucket: str, endpoint: str) -> dict:
    """The environment of one host: its own folders, the shared engines and bucket."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker_url(),
        "CACHE_URL": broker_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "SIGNING_KEY_FILE": settings.SIGNING_KEY_FILE,
        "SIGNING_CERT_FILE": settings.SIGNING_CERT_FILE,
        "EVIDENCE_ROOT": str(folder / "evidence"),
        "PORTAL_VAR_DIR": str(folder / "var"),
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": bucket,
        "S3_PREFIX": "portal/",
        "S3_REGION": "us-east-1",
        "S3_ENDPOINT_URL": endpoint,
        "METRICS_DB_INTERVAL": "15",
        "WEB_CONCURRENCY": "1",
        **CREDENTIALS,
    }


class Replica:
    """gunicorn with docker/gunicorn.conf.py on a free loopback port."""

    def __init__(self, env: dict, log: Path):
        self.base = f"http://127.0.0.1:{free_port()}"
        self.log = log
        self.process = subprocess.Popen(  # noqa: S603 - our own server
            [sys.executable, "-m", "gunicorn", "-c", "docker/gunicorn.conf.py",
             "--bind", self.base.removeprefix("http://")],
            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"gunicorn not up in {timeout}s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def hosts(tmp_path, s3_bucket, moto_server):
    """Replicas A and B and worker W, each with its folder; stopped at the end."""
    _, bucket = s3_bucket
    folders = {name: tmp_path / name for name in ("a", "b", "w")}
    for folder in folders.values():
        folder.mkdir()
    started = []
    try:
        worker = Worker(concurrency=1, env=host_env(folders["w"], bucket, moto_server),
                        log=tmp_path / "w.log")  # fmt: skip
        started.append(worker)
        replicas = [Replica(host_env(folders[n], bucket, moto_server), tmp_path / f"{n}.log")
                    for n in ("a", "b")]  # fmt: skip
        started.extend(replicas)
        for replica in replicas:
            replica.wait_until_up()
        yield {"a": replicas[0], "b": replicas[1], "folders": folders}
    finally:
        for process in started:
            process.stop()


@pytest.fixture
def launch(spec):
    return import_report_only_launch(spec)


@pytest.fixture
def otto(launch):
    """An admin who may export; his session cookie works on any replica (sessions in the DB)."""
    user = get_user_model().objects.create_superuser("otto", "otto@example.com", "pw-otto-123")
    client = Client()
    client.force_login(user)
    return user, {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


def _files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def _stored(s3_bucket, name: str) -> bytes:
    client, bucket = s3_bucket
    return client.get_object(Bucket=bucket, Key=f"portal/{name}")["Body"].read()


def test_upload_through_a_download_through_b_render_on_w(hosts, launch, otto, s3_bucket):
    user, cookies = otto
    a, b = hosts["a"], hosts["b"]
    token = create_api_token(launch=launch, name="ci", scopes=["ingest"], actor="test")[1]
    body = COBERTURA.read_bytes()
    upload = requests.post(f"{a.base}/api/v1/launches/{launch.slug}/reports/",
                           headers={"Authorization": f"Bearer {token}"},
                           files={"file": ("coverage.xml", body)}, timeout=30)  # fmt: skip
    assert upload.status_code == 201, upload.text
    evidence = Evidence.objects.get(sha256=hashlib.sha256(body).hexdigest())

    url = f"{b.base}/launches/{launch.slug}/evidence/{evidence.sha256}/"
    download = requests.get(url, cookies=cookies, timeout=30)
    assert download.status_code == 200, download.text[:500]
    assert download.content == body == _stored(s3_bucket, evidence.path)

    job, _ = request_packet(launch=launch, user=user)  # queued on commit: W renders it
    wait_for(lambda: PacketJob.objects.filter(pk=job.pk, status=JobStatus.DONE).exists(),
             timeout=120, what="worker W to render the packet")  # fmt: skip
    packet = Packet.objects.get(pk=PacketJob.objects.get(pk=job.pk).packet_id)
    pdf = requests.get(f"{b.base}/launches/{launch.slug}/packets/{packet.sha256}.pdf",
                       cookies=cookies, timeout=30)  # fmt: skip
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert hashlib.sha256(pdf.content).hexdigest() == packet.sha256
    assert pdf.content == _stored(s3_bucket, packet.path)

    export = request_export(launch=launch, user=user)
    wait_for(lambda: ExportJob.objects.filter(pk=export.pk, status=JobStatus.DONE).exists(),
             timeout=120, what="worker W to build the export")  # fmt: skip
    export.refresh_from_db()
    archive = requests.get(f"{b.base}/launches/{launch.slug}/export/{export.pk}.zip",
                           cookies=cookies, timeout=30)  # fmt: skip
    assert archive.status_code == 200, archive.text[:500]
    assert archive.headers["X-Export-SHA256"] == export.sha256
    assert hashlib.sha256(archive.content).hexdigest() == export.sha256
    assert archive.content == _stored(s3_bucket, export.path)

    # The same figures from both replicas, read once: one computed-at time.
    with ThreadPoolExecutor(2) as pool:
        scraped = list(pool.map(lambda r: requests.get(f"{r.base}/metrics", timeout=30), (a, b)))
    times = set()
    for response in scraped:
        families = text_string_to_metric_families(response.text)
        times |= {s.value for f in families for s in f.samples
                  if s.name == "launch_portal_metrics_computed_timestamp_seconds"}  # fmt: skip
    assert len(times) == 1, times

    for name, folder in hosts["folders"].items():
        assert _files(folder) == [], f"host {name} wrote to its own folder"


def test_an_object_missing_from_the_bucket_is_a_404(hosts, launch, otto, s3_bucket):
    _, cookies = otto
    token = create_api_token(launch=launch, name="ci", scopes=["ingest"], actor="test")[1]
    body = COBERTURA.read_bytes()
    upload = requests.post(f"{hosts['a'].base}/api/v1/launches/{launch.slug}/reports/",
                           headers={"Authorization": f"Bearer {token}"},
                           files={"file": ("coverage.xml", body)}, timeout=30)  # fmt: skip
    assert upload.status_code == 201, upload.text
    evidence = Evidence.objects.get(sha256=hashlib.sha256(body).hexdigest())
    client, bucket = s3_bucket
    client.delete_object(Bucket=bucket, Key=f"portal/{evidence.path}")
    url = f"{hosts['b'].base}/launches/{launch.slug}/evidence/{evidence.sha256}/"
    response = requests.get(url, cookies=cookies, timeout=30)
    assert response.status_code == 404, response.text[:500]
