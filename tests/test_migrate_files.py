"""Moving the files kept on the local disk into S3 (`manage.py migrate_files`). Atlas has lived on
the embedded default: its evidence, a packet, a summary report, a built export and two spec texts
sit under MEDIA_ROOT. The operator sets STORAGE_BACKEND=s3 (moto's server) and runs the command,
then runs it again, interrupts it, and meets a changed and a missing file on the way."""

import hashlib
import shutil
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.gates.evidence import store_evidence
from apps.gates.models import Evidence, Gate
from apps.gates.services import Reading, record_reading
from apps.launches.models import Launch
from apps.reports import tasks
from apps.reports.exports.jobs import request_export
from apps.reports.models import ExportJob, Packet
from apps.reports.packets.store import build_packet, store_pdf
from apps.signoffs.models import Assignment, Duty
from apps.specs.services import spec_name
from apps.specs.spec_editing import apply_spec, preview_spec
from portal import storage
from tests.helpers import import_report_only_launch, to_yaml

pytestmark = pytest.mark.django_db

SUMMARY = b"%PDF-1.7 a metrics summary report"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def local_files(spec, media) -> dict[str, str]:
    """Atlas's kept files, written through the normal paths on the local disk: {name: kind}."""
    atlas = import_report_only_launch(spec)
    evidence = store_evidence(data=b"<testsuite tests='3'/>", name="junit.xml")
    coverage = Gate.objects.get(launch=atlas, key="coverage")
    record_reading(
        gate=coverage, reading=Reading(value=Decimal("91"), evidence=evidence), actor="test"
    )
    auditor = get_user_model().objects.create_user("otto", "otto@example.com", "pw-12345")
    Assignment.objects.create(launch=atlas, user=auditor, duty=Duty.AUDITOR)
    build_packet(launch=atlas, actor=auditor)
    tasks.build_export(request_export(launch=atlas, user=auditor).pk)
    digest = hashlib.sha256(SUMMARY).hexdigest()  # close_launch records its report like this
    Launch.objects.filter(pk=atlas.pk).update(summary_sha256=digest,
                                              summary_path=store_pdf(SUMMARY, digest))  # fmt: skip
    spec["launch"]["name"] = "Atlas, renamed in the browser"
    preview = preview_spec(raw=to_yaml(spec), launch=atlas)
    apply_spec(raw=preview.text, sha256=preview.sha256, base_sha256=preview.base_sha256,
               launch=atlas, actor=auditor)  # fmt: skip
    return kept_names()


def kept_names() -> dict[str, str]:
    names = {e.path: "evidence" for e in Evidence.objects.all()}
    names |= {p.path: "packets" for p in Packet.objects.all()}
    names |= {launch.summary_path: "summaries" for launch in Launch.objects.all()}
    names |= {j.path: "exports" for j in ExportJob.objects.all()}
    for event in AuditEvent.objects.filter(action="launch.imported"):
        names[spec_name(event.data["sha256"])] = "specs"
    return names


@pytest.fixture
def bucket(local_files, request):
    """Then the operator switches to S3; the local files stay where they were."""
    return request.getfixturevalue("s3_bucket")


def keys(bucket) -> set[str]:
    client, name = bucket
    found = client.list_objects_v2(Bucket=name).get("Contents", [])
    return {o["Key"].removeprefix("portal/") for o in found}


def migrate(*args) -> str:
    out = StringIO()
    call_command("migrate_files", *args, stdout=out)
    return out.getvalue()


def failing(*args) -> tuple[str, str]:
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("migrate_files", *args, stdout=out)
    return out.getvalue(), str(refused.value)


def test_every_kept_file_lands_in_the_bucket_with_the_same_bytes(bucket, local_files, media):
    assert sorted(local_files.values()) == [
        "evidence", "exports", "packets", "specs", "specs", "summaries"
    ]  # fmt: skip

    out = migrate()

    assert keys(bucket) == set(local_files)
    client, name = bucket
    for stored in local_files:
        body = client.get_object(Bucket=name, Key=f"portal/{stored}")["Body"].read()
        if not stored.startswith("specs/"):
            assert body == (media / stored).read_bytes(), stored
        assert hashlib.sha256(body).hexdigest() in stored  # every name carries its SHA-256
    assert "evidence: 1 copied, 0 already there, 0 missing locally, 0 mismatched" in out
    assert "specs: 2 copied, 0 already there" in out
    assert all(
        (media / stored).exists() for stored in local_files if local_files[stored] != "specs"
    )


def test_the_applied_spec_texts_are_the_audit_record_s_texts(bucket, local_files):
    migrate()

    events = AuditEvent.objects.filter(action="launch.imported")
    assert events.count() == 2
    for event in events:
        kept = storage.read_stored(storage.SPECS, spec_name(event.data["sha256"]))
        assert kept == event.data["spec"].encode()
        assert hashlib.sha256(kept).hexdigest() == event.data["sha256"]


def test_the_browser_keeps_the_applied_text_as_a_file_named_by_its_audit_hash(local_files, media):
    applied = AuditEvent.objects.filter(action="launch.imported").latest("pk")
    kept = (media / spec_name(applied.data["sha256"])).read_bytes()
    assert kept.decode() == applied.data["spec"]
    assert "Atlas, renamed in the browser" in applied.data["spec"]  # the record keeps its text


def test_a_second_run_copies_nothing_and_finds_everything_there(bucket, local_files):
    migrate()

    out = migrate()

    for kind, count in (("evidence", 1), ("packets", 1), ("summaries", 1), ("exports", 1),
                        ("specs", 2)):  # fmt: skip
        assert f"{kind}: 0 copied, {count} already there, 0 missing" in out


def test_an_interrupted_run_goes_on_where_it_stopped(bucket, local_files, media):
    migrate("--limit", "2")
    first = keys(bucket)
    assert len(first) == 2
    for name in first:  # copied: the operator may remove them; the next run needs them no more
        (media / name).unlink(missing_ok=True)

    out = migrate()

    assert keys(bucket) == set(local_files)
    assert out.count("already there") == 5
    copied = [int(line.split(": ")[1].split()[0]) for line in out.splitlines()
              if line.split(":")[0] in set(local_files.values())]  # fmt: skip
    assert len(copied) == 5 and sum(copied) == len(local_files) - 2


def test_a_changed_local_file_is_refused_named_and_not_uploaded(bucket, local_files, media):
    packet = Packet.objects.get()
    changed = media / packet.path
    changed.chmod(0o644)
    changed.write_bytes(changed.read_bytes() + b"%% edited")

    out, error = failing()

    assert f"mismatched: packets {packet.path}" in out
    assert "packets: 0 copied, 0 already there, 0 missing locally, 1 mismatched" in out
    assert "1 file(s) missing or mismatched" in error
    assert keys(bucket) == set(local_files) - {packet.path}


def test_a_missing_local_file_is_named_and_the_rest_still_copied(bucket, local_files, media):
    evidence = Evidence.objects.get()
    (media / evidence.path).unlink()

    out, error = failing()

    assert f"missing locally: evidence {evidence.path}" in out
    assert "evidence: 0 copied, 0 already there, 1 missing locally" in out
    assert "1 file(s)" in error
    assert keys(bucket) == set(local_files) - {evidence.path}


def test_a_dry_run_lists_what_it_would_copy_and_uploads_nothing(bucket, local_files):
    out = migrate("--dry-run")

    assert keys(bucket) == set()
    for name, kind in local_files.items():
        assert f"would copy: {kind} {name}" in out
    assert "exports: 1 would copy, 0 already there" in out


def test_from_names_another_folder(bucket, local_files, media, tmp_path):
    moved = shutil.move(media, tmp_path / "old-media")

    assert "1 missing locally" in failing()[0]  # MEDIA_ROOT is empty now
    migrate("--from", str(moved))

    assert keys(bucket) == set(local_files)


def test_into_a_bucket_under_object_lock_every_copy_is_retained(local_files, request):
    client, name = request.getfixturevalue("locked_bucket")

    migrate()

    for stored in local_files:
        head = client.head_object(Bucket=name, Key=f"portal/{stored}")
        assert head["ObjectLockMode"] == "COMPLIANCE", stored


def test_after_moving_the_portal_serves_the_original_bytes_from_s3(bucket, local_files, media,
                                                                   client):  # fmt: skip
    evidence, packet, job = Evidence.objects.get(), Packet.objects.get(), ExportJob.objects.get()
    original = {name: (media / name).read_bytes() for name in (evidence.path, packet.path,
                                                                job.path)}  # fmt: skip
    migrate()
    shutil.rmtree(media)  # the operator removed the local copies after checking
    client.force_login(get_user_model().objects.get(username="otto"))
    atlas = packet.launch

    urls = {
        evidence.path: reverse("launches:evidence", args=[atlas.slug, evidence.sha256]),
        packet.path: reverse("launches:packet", args=[atlas.slug, packet.sha256]),
        job.path: reverse("launches:export-download", args=[atlas.slug, job.pk]),
    }
    for name, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"".join(response.streaming_content) == original[name]
