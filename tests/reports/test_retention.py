"""Kept files under S3 Object Lock retention, and downloads through short-lived presigned URLs,
against moto's S3 server: what S3 refuses, what the portal never tries, what people are given."""

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from botocore.exceptions import ClientError
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone

from apps.gates.models import Evidence
from apps.reports.packets.store import build_packet
from portal import storage
from portal.settings import kept_files_downloads, kept_files_storage
from tests.s3 import free_port

pytestmark = pytest.mark.django_db


def lock_of(client, bucket: str, name: str) -> dict:
    return client.head_object(Bucket=bucket, Key=f"portal/{name}")


def test_evidence_and_a_packet_are_written_under_retention(locked_bucket, atlas, auditor):
    client, bucket = locked_bucket
    packet = build_packet(launch=atlas, actor=auditor)
    evidence = Evidence.objects.get()
    in_30_days = timezone.now() + timedelta(days=30)

    for name in (evidence.path, packet.path):
        head = lock_of(client, bucket, name)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert abs(head["ObjectLockRetainUntilDate"] - in_30_days) < timedelta(minutes=5)


def test_governance_mode_is_taken_from_the_setting(monkeypatch, locked_bucket, settings):
    client, bucket = locked_bucket
    monkeypatch.setenv("EVIDENCE_OBJECT_LOCK_MODE", "GOVERNANCE")
    settings.STORAGES = {**settings.STORAGES, storage.EXPORTS: kept_files_storage()}

    name = storage.save_once(storage.EXPORTS, "exports/governed.zip", b"zip")

    assert lock_of(client, bucket, name)["ObjectLockMode"] == "GOVERNANCE"


def test_s3_refuses_to_delete_a_retained_version(locked_bucket, atlas):
    client, bucket = locked_bucket
    key = f"portal/{Evidence.objects.get().path}"
    version = client.head_object(Bucket=bucket, Key=key)["VersionId"]

    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=bucket, Key=key, VersionId=version)

    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"<testsuite tests='3'/>"


def test_an_unclaimed_export_under_retention_is_left_in_place(locked_bucket):
    client, bucket = locked_bucket
    name = storage.save_once(storage.EXPORTS, "exports/7-orphan.zip", b"zip")

    storage.delete_unclaimed(storage.EXPORTS, name)

    versions = client.list_object_versions(Bucket=bucket, Prefix=f"portal/{name}")
    assert "DeleteMarkers" not in versions  # not even hidden behind a delete marker
    assert storage.read_stored(storage.EXPORTS, name) == b"zip"


def test_without_retention_an_unclaimed_export_is_deleted(s3_bucket):
    name = storage.save_once(storage.EXPORTS, "exports/7-orphan.zip", b"zip")

    storage.delete_unclaimed(storage.EXPORTS, name)

    assert not storage.storage(storage.EXPORTS).exists(name)


def storage_warnings() -> list[str]:
    return [f"{m.id}: {m.msg}" for m in run_checks(tags=["storage"])]


def test_the_check_is_silent_on_a_bucket_with_object_lock(locked_bucket):
    assert storage_warnings() == []


def test_the_check_is_silent_without_retention(s3_bucket):
    assert storage_warnings() == []


def test_the_check_warns_of_a_bucket_without_object_lock(s3_bucket, monkeypatch, settings):
    _, bucket = s3_bucket
    retain_in(monkeypatch, settings)

    (warning,) = storage_warnings()

    assert warning.startswith("storage.W001: EVIDENCE_OBJECT_LOCK_DAYS is set")
    assert bucket in warning


def test_the_check_says_when_it_cannot_reach_the_bucket(s3_bucket, monkeypatch, settings):
    monkeypatch.setenv("S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nobody listens
    retain_in(monkeypatch, settings)

    (warning,) = storage_warnings()

    assert warning.startswith("storage.W002: could not reach S3 bucket")


def retain_in(monkeypatch, settings) -> None:
    """Ask for retention in the bucket the environment names, whatever that bucket allows."""
    monkeypatch.setenv("EVIDENCE_OBJECT_LOCK_DAYS", "30")
    kept = {kind: kept_files_storage() for kind in ("evidence", "packets", "exports", "specs")}
    settings.STORAGES = {**settings.STORAGES, **kept}


DAYS, MODE = "EVIDENCE_OBJECT_LOCK_DAYS", "EVIDENCE_OBJECT_LOCK_MODE"


@pytest.mark.parametrize(
    "env, named",
    [
        ({"STORAGE_BACKEND": "local", DAYS: "30"}, DAYS),  # a folder cannot refuse a delete
        ({DAYS: "0"}, DAYS),
        ({DAYS: "30", MODE: "strict"}, MODE),
    ],
)
def test_a_bad_retention_setting_is_refused_by_name(monkeypatch, env, named):
    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    monkeypatch.setenv("S3_BUCKET", "kept")
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    with pytest.raises(ImproperlyConfigured, match=f"^{named}:"):
        kept_files_storage()


@pytest.mark.parametrize("backend, downloads", [("local", "presigned"), ("s3", "links")])
def test_a_bad_downloads_setting_is_refused_by_name(monkeypatch, backend, downloads):
    monkeypatch.setenv("STORAGE_BACKEND", backend)
    monkeypatch.setenv("DOWNLOADS", downloads)

    with pytest.raises(ImproperlyConfigured, match="^DOWNLOADS:"):
        kept_files_downloads()


@pytest.fixture
def presigned(locked_bucket, settings):
    """Downloads by presigned URL, from a bucket under retention (the production pairing)."""
    settings.DOWNLOADS = "presigned"
    settings.PRESIGNED_URL_SECONDS = 120
    return locked_bucket


def test_a_download_is_a_short_lived_link_to_the_same_bytes(
    presigned, moto_server, client, atlas, auditor
):
    evidence = Evidence.objects.get()
    client.force_login(auditor)

    answer = client.get(reverse("launches:evidence", args=[atlas.slug, evidence.sha256]))

    assert answer.status_code == 302
    assert answer["Cache-Control"] == "no-store"
    link = answer["Location"]
    assert link.startswith(f"{moto_server}/")
    assert parse_qs(urlsplit(link).query)["X-Amz-Expires"] == ["120"]
    fetched = requests.get(link, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == b"<testsuite tests='3'/>"
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="junit.xml"'
    assert fetched.headers["Content-Type"] == "application/octet-stream"


def test_a_person_who_may_not_see_the_file_gets_the_same_refusal_and_no_link(
    presigned, settings, client, atlas, auditor
):
    from apps.signoffs.models import Duty
    from tests.reports.conftest import user_with

    evidence = Evidence.objects.get()
    packet = build_packet(launch=atlas, actor=auditor)
    outsider = get_user_model().objects.create_user("nora", "nora@example.com", "pw-nora-123")
    signer = user_with(atlas, "vera", Duty.SIGNER)  # sees the launch, may not export
    export = reverse("launches:export-download", args=[atlas.slug, 1])
    asks = [
        (outsider, reverse("launches:evidence", args=[atlas.slug, evidence.sha256])),
        (outsider, reverse("launches:packet", args=[atlas.slug, packet.sha256])),
        (outsider, export),
        (signer, export),
    ]

    def refusals() -> list[int]:
        statuses = []
        for person, url in asks:
            client.force_login(person)
            answer = client.get(url)
            assert "Location" not in answer, url
            statuses.append(answer.status_code)
        return statuses

    presigned_refusals = refusals()
    settings.DOWNLOADS = "stream"
    assert presigned_refusals == refusals() == [404, 404, 404, 403]


def test_a_large_export_asks_for_retention_on_its_multipart_upload(locked_bucket):
    """Past 8 MB boto3 uploads in parts; S3 takes the lock from CreateMultipartUpload. (moto
    5.2 does not keep it on the completed object, so the request itself is what is checked.)"""
    asked = []
    client = storage.storage(storage.EXPORTS).connection.meta.client
    client.meta.events.register(
        "before-send.s3.CreateMultipartUpload", lambda request, **_: asked.append(request.headers)
    )

    storage.save_once(storage.EXPORTS, "exports/8-large.zip", b"z" * (9 * 1024 * 1024))

    (headers,) = asked
    assert headers["x-amz-object-lock-mode"] == b"COMPLIANCE"
    until = datetime.fromisoformat(headers["x-amz-object-lock-retain-until-date"].decode())
    assert abs(until - (timezone.now() + timedelta(days=30))) < timedelta(minutes=5)
