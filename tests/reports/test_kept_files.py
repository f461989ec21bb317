"""Evidence, packets and exports kept in the configured storage and served from it: the local
folder (the embedded default) or an S3 bucket (moto's server), read back through the portal."""

import hashlib

import pytest
import requests
from django.conf import settings
from django.urls import reverse

from apps.gates.models import Evidence
from apps.reports import tasks
from apps.reports.exports.jobs import request_export
from apps.reports.models import JobStatus
from apps.reports.packets.store import build_packet

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["local", "s3", "s3-presigned"], autouse=True)
def backend(request, settings):
    """Each story three times (S3 once with downloads by presigned URL); autouse, so the
    storage is chosen before any fixture stores a file."""
    if request.param != "local":
        request.getfixturevalue("s3_bucket")
    settings.DOWNLOADS = "presigned" if request.param == "s3-presigned" else "stream"
    return request.param.removesuffix("-presigned")


@pytest.fixture
def stored(backend, atlas, auditor):
    """Atlas with its evidence, a packet and a built export, all in `backend`."""
    packet = build_packet(launch=atlas, actor=auditor)
    job = request_export(launch=atlas, user=auditor)  # the task is queued on commit: run it here
    tasks.build_export(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    return Evidence.objects.get(), packet, job


def download(client, url: str) -> bytes:
    """The bytes a browser saves: streamed, or fetched from the bucket the portal redirects to."""
    response = client.get(url)
    if settings.DOWNLOADS == "presigned":
        assert response.status_code == 302, response
        fetched = requests.get(response["Location"], timeout=10)
        assert fetched.status_code == 200, fetched
        return fetched.content
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


def test_evidence_a_packet_and_an_export_are_read_back_through_the_portal(
    client, atlas, auditor, stored, backend, media
):
    evidence, packet, job = stored
    client.force_login(auditor)

    raw = download(client, reverse("launches:evidence", args=[atlas.slug, evidence.sha256]))
    pdf = download(client, reverse("launches:packet", args=[atlas.slug, packet.sha256]))
    zipped = download(client, reverse("launches:export-download", args=[atlas.slug, job.pk]))

    assert raw == b"<testsuite tests='3'/>"
    assert hashlib.sha256(pdf).hexdigest() == packet.sha256
    assert hashlib.sha256(zipped).hexdigest() == job.sha256
    assert media.exists() == (backend == "local")  # nothing kept on a local disk with S3


def test_in_s3_the_objects_sit_in_the_bucket_under_the_prefix(request, backend, stored):
    if backend != "s3":
        return
    client, bucket = request.getfixturevalue("s3_bucket")
    evidence, packet, job = stored
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {f"portal/{evidence.path}", f"portal/{packet.path}", f"portal/{job.path}"} <= keys


def test_a_file_missing_from_its_storage_answers_404_not_500(client, atlas, auditor, stored):
    evidence, packet, job = stored
    from portal import storage

    for kind, name in ((storage.EVIDENCE, evidence.path), (storage.PACKETS, packet.path),
                       (storage.EXPORTS, job.path)):  # fmt: skip
        storage.storage(kind).delete(name)
    client.force_login(auditor)

    for url in (reverse("launches:evidence", args=[atlas.slug, evidence.sha256]),
                reverse("launches:packet", args=[atlas.slug, packet.sha256]),
                reverse("launches:export-download", args=[atlas.slug, job.pk])):  # fmt: skip
        assert client.get(url).status_code == 404, url


def test_storing_the_same_evidence_twice_writes_it_once(backend, atlas):
    from apps.gates.evidence import store_evidence
    from portal import storage

    again = store_evidence(data=b"<testsuite tests='3'/>", name="junit.xml")

    kept = storage.storage(storage.EVIDENCE)
    folder = again.path.rsplit("/", 1)[0]
    assert kept.listdir(folder)[1] == [again.sha256]
