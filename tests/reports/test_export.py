"""The evidence export: complete, CSV-safe, and checkable by its own verify.py."""

import csv
import io
import json
import subprocess
import sys
import zipfile
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.gates.models import Gate, Waiver
from apps.reports.exports.archive import export_evidence
from tests.reports.conftest import approve_all

pytestmark = pytest.mark.django_db
FORMULA = ("=", "+", "-", "@")


def export_to(launch, path, **filters) -> dict:
    with open(path, "wb") as out:
        return export_evidence(launch, out, **filters)


def unpack(zip_path, folder):
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(folder)
    return folder


def run_verify(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_export_holds_every_promised_file_with_its_hash(atlas, tmp_path):
    manifest = export_to(atlas, tmp_path / "e.zip")
    names = set(zipfile.ZipFile(tmp_path / "e.zip").namelist())
    expected = {
        "manifest.json",
        "manifest.json.jws",
        "signing-certificate.pem",
        "packet.pdf",
        "gates.csv",
        "measurements.csv",
        "signoffs.csv",
        "waivers.csv",
        "decisions.csv",
        "controls.csv",
        "audit_log.jsonl",
        "verify.py",
    }
    assert expected <= names
    assert any(name.startswith("evidence/") for name in names)
    assert set(manifest["files"]) == names - {"manifest.json", "manifest.json.jws"}
    assert manifest["launch"]["slug"] == atlas.slug
    head = AuditEvent.objects.order_by("-sequence").first()
    assert (manifest["audit"]["sequence"], manifest["audit"]["head"]) == (head.sequence, head.hash)


def test_verify_passes_on_a_fresh_export_folder_and_zip(atlas, tmp_path):
    approve_all(atlas)
    export_to(atlas, tmp_path / "e.zip")
    folder = unpack(tmp_path / "e.zip", tmp_path / "x")
    result = run_verify(folder / "verify.py")
    assert result.returncode == 0, result.stdout
    assert run_verify(folder / "verify.py", tmp_path / "e.zip").returncode == 0


def test_verify_fails_naming_the_file_once_any_byte_of_any_file_changes(atlas, tmp_path):
    export_to(atlas, tmp_path / "e.zip")
    folder = unpack(tmp_path / "e.zip", tmp_path / "x")
    checker = tmp_path / "verify_copy.py"
    checker.write_bytes((folder / "verify.py").read_bytes())
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    for path in files:
        original = path.read_bytes()
        for offset in {0, len(original) // 2, len(original) - 1}:
            changed = bytearray(original)
            changed[offset] ^= 0x01
            path.write_bytes(bytes(changed))
            result = run_verify(checker, folder)
            assert result.returncode != 0, f"{path.name}@{offset} went unnoticed"
            assert "FAIL" in result.stdout
        path.write_bytes(original)
    assert run_verify(checker, folder).returncode == 0


def test_verify_recomputes_the_audit_chain_of_the_exported_events(atlas, tmp_path):
    export_to(atlas, tmp_path / "e.zip")
    folder = unpack(tmp_path / "e.zip", tmp_path / "x")
    log = folder / "audit_log.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(events) >= 3
    assert all(e["launch"] == atlas.slug and len(e["hash"]) == 64 for e in events)
    events[1]["action"] = "nothing.happened"
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    result = run_verify(folder / "verify.py", folder)
    assert result.returncode != 0
    assert "audit_log.jsonl" in result.stdout


def test_every_csv_cell_that_looks_like_a_formula_is_neutralised(atlas, tmp_path):
    """RELIABILITY case 19."""
    attack = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)"]
    approve_all(atlas, comment=attack[0], printed_name=attack[3])
    gate = Gate.objects.get(launch=atlas, key="coverage")
    Gate.objects.filter(pk=gate.pk).update(name=attack[1], controls=[attack[2], "CC8.1"])
    Waiver.objects.create(
        gate=gate,
        reason=attack[2],
        granted_by_name=attack[1],
        expires_at=timezone.now() + timedelta(days=1),
    )
    export_to(atlas, tmp_path / "e.zip")
    seen = set()
    with zipfile.ZipFile(tmp_path / "e.zip") as zf:
        for name in (n for n in zf.namelist() if n.endswith(".csv")):
            for row in csv.reader(io.StringIO(zf.read(name).decode())):
                for cell in row:
                    assert not cell.startswith(FORMULA), f"{name}: {cell!r}"
                    seen.update(a for a in attack if cell == "'" + a)
    assert seen == set(attack)


def test_controls_csv_groups_gates_measurements_and_signoffs_by_criterion(atlas, tmp_path):
    approve_all(atlas)
    Gate.objects.filter(launch=atlas, key="coverage").update(controls=["CC8.1"])
    Gate.objects.filter(launch=atlas, key="availability").update(controls=["A1.2", "CC7.2"])
    export_to(atlas, tmp_path / "e.zip")
    rows = list(
        csv.DictReader(
            io.StringIO(zipfile.ZipFile(tmp_path / "e.zip").read("controls.csv").decode())
        )
    )
    by = {(r["criterion"], r["gate"]): r for r in rows}
    assert set(by) >= {("CC8.1", "coverage"), ("A1.2", "availability"), ("CC7.2", "availability")}
    assert by[("CC8.1", "coverage")]["measurements"] == "1"
    assert "approve" in by[("CC8.1", "coverage")]["signoffs"]


def test_category_and_time_filters_narrow_the_export(atlas, tmp_path):
    manifest = export_to(
        atlas, tmp_path / "e.zip", categories=["quality"], since=timezone.now() + timedelta(hours=1)
    )
    zf = zipfile.ZipFile(tmp_path / "e.zip")
    gates = list(csv.DictReader(io.StringIO(zf.read("gates.csv").decode())))
    assert {g["key"] for g in gates} == {"coverage"}
    assert zf.read("measurements.csv").decode().count("\n") == 1  # the header only
    assert manifest["categories"] == ["quality"] and manifest["audit_log"]["events"] == 0


def test_export_command_writes_a_verifiable_zip_and_audits_it(atlas, tmp_path):
    out = tmp_path / "cmd.zip"
    call_command("export_evidence", atlas.slug, "--out", str(out), stdout=io.StringIO())
    folder = unpack(out, tmp_path / "x")
    assert run_verify(folder / "verify.py").returncode == 0
    event = AuditEvent.objects.filter(action="evidence.exported").get()
    assert event.launch_slug == atlas.slug and event.data["files"] >= 10


def test_build_packet_command_writes_the_stored_pdf(atlas, tmp_path):
    out = tmp_path / "p.pdf"
    call_command("build_packet", atlas.slug, "--out", str(out), stdout=io.StringIO())
    assert out.read_bytes().startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="packet.built", launch_slug=atlas.slug).exists()
