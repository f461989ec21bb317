"""Signed exports, as an auditor checks them and as a forger tries to beat them.

otto the auditor unzips an export and runs its verify.py with the venv's Python, pinning the
portal's fingerprint. mallory the forger turns a failing gate into a passing one in gates.csv and
recomputes every hash she can; then she re-signs the manifest with a key of her own.
"""

import base64
import csv
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.audit.checkpoints import checkpoint_payload
from apps.gates.models import Gate
from apps.gates.services import Reading, record_reading
from apps.reports.exports.archive import export_evidence
from apps.reports.exports.jobs import export_audited, request_export, run_export_job
from apps.reports.models import IssuedExport
from portal import signing

pytestmark = pytest.mark.django_db


def export_folder(launch, tmp_path, name="export"):
    """The export as otto unzips it, and its ZIP."""
    archive = tmp_path / f"{name}.zip"
    with open(archive, "wb") as out:
        export_evidence(launch, out)
    folder = tmp_path / name
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)
    return folder, archive


def run_verify(folder, *args) -> subprocess.CompletedProcess:
    """verify.py run as an auditor would: the venv's Python, in the unzipped folder."""
    return subprocess.run(  # noqa: S603 - the export's own script
        [sys.executable, "verify.py", *args], cwd=folder, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def ours() -> str:
    return signing.identity().fingerprint


@pytest.fixture
def failing(atlas):
    """Atlas with its coverage gate failing (70 % against 85 %)."""
    gate = Gate.objects.get(launch=atlas, key="coverage")
    record_reading(gate=gate, reading=Reading(value=Decimal("70")), actor="test")
    return atlas


def forge_gates_csv(folder) -> None:
    """mallory's edit: the failing coverage gate reads passing; its hash and size re-computed."""
    path = folder / "gates.csv"
    rows = list(csv.reader(io.StringIO(path.read_text())))
    status = rows[0].index("status")
    coverage = next(r for r in rows if r[0] == "coverage")
    assert coverage[status] == "failing"
    coverage[status] = "passing"
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode())
    rewrite_manifest(folder, lambda m: m["files"]["gates.csv"].update(file_entry(path)))


def file_entry(path) -> dict:
    data = path.read_bytes()
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def rewrite_manifest(folder, change) -> bytes:
    """The manifest changed and written back in its canonical form, as the portal writes it."""
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    data = (text + "\n").encode()
    (folder / "manifest.json").write_bytes(data)
    return data


def test_an_exports_verify_py_passes_for_the_auditor_pinning_our_fingerprint(failing, tmp_path):
    folder, _ = export_folder(failing, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["signing"]["certificate_sha256"] == ours()
    assert "packet" in manifest and manifest["packet"]["launch_digest"]
    assert set(manifest["audit"]) >= {"chain", "sequence", "head", "at"}
    signature = (folder / "manifest.json.jws").read_text()
    assert signing.verify((folder / "manifest.json").read_bytes(), signature)
    assert (folder / "signing-certificate.pem").read_bytes() == signing.identity().certificate_pem()

    result = run_verify(folder, "--fingerprint", signing.grouped(ours()))
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("signature", "fingerprint", "files", "audit"):
        assert f"PASS {check}:" in result.stdout
    assert signing.grouped(ours()) in result.stdout
    assert hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest() in result.stdout
    assert result.stdout.rstrip().endswith("OK: every check passed")


def test_a_rehashed_forgery_fails_on_the_manifest_signature(failing, tmp_path):
    folder, _ = export_folder(failing, tmp_path)
    forge_gates_csv(folder)
    result = run_verify(folder, "--fingerprint", ours())
    assert result.returncode == 1
    assert "PASS files:" in result.stdout  # every hash was recomputed...
    assert "FAIL signature: manifest.json.jws does not verify" in result.stdout  # ...but not this
    assert "FAILED: signature" in result.stdout


def test_a_forgery_without_the_signature_file_fails_on_the_signature(failing, tmp_path):
    folder, _ = export_folder(failing, tmp_path)
    forge_gates_csv(folder)
    (folder / "manifest.json.jws").unlink()
    result = run_verify(folder)
    assert result.returncode == 1 and "FAIL signature: manifest.json.jws: missing" in result.stdout


def mallorys_identity(common_name="Launch Portal") -> signing.Identity:
    key, certificate = signing.make_self_signed(common_name)
    return signing.Identity(key, certificate, (), "mallory")


def test_a_swapped_certificate_passes_only_with_another_fingerprint(failing, tmp_path, monkeypatch):
    folder, _ = export_folder(failing, tmp_path)
    forge_gates_csv(folder)
    mallory = mallorys_identity()
    pem = folder / "signing-certificate.pem"
    pem.write_bytes(mallory.certificate_pem())

    monkeypatch.setattr(signing, "identity", lambda: mallory)

    def name_her_certificate(manifest):
        manifest["files"][pem.name] = file_entry(pem)
        manifest["signing"]["certificate_sha256"] = mallory.fingerprint
        checkpoint = manifest["audit"]  # she signs the checkpoint again too
        checkpoint["certificate_sha256"] = mallory.fingerprint
        checkpoint["signature"] = signing.sign(checkpoint_payload(checkpoint))

    data = rewrite_manifest(folder, name_her_certificate)
    (folder / "manifest.json.jws").write_text(signing.sign(data))
    monkeypatch.undo()

    unpinned = run_verify(folder)
    assert unpinned.returncode == 0, unpinned.stdout  # a valid signature, by her certificate
    assert "PASS signature" in unpinned.stdout and "NOTE fingerprint: not pinned" in unpinned.stdout
    assert signing.grouped(mallory.fingerprint) in unpinned.stdout
    assert signing.grouped(ours()) not in unpinned.stdout
    pinned = run_verify(folder, "--fingerprint", signing.grouped(ours()))
    assert pinned.returncode == 1
    assert "FAIL fingerprint: the certificate's SHA-256" in pinned.stdout
    assert "FAILED: fingerprint" in pinned.stdout


def test_our_signature_under_her_certificate_fails_naming_the_certificate(failing, tmp_path):
    folder, _ = export_folder(failing, tmp_path)
    mallory = mallorys_identity()
    pem = folder / "signing-certificate.pem"
    pem.write_bytes(mallory.certificate_pem())
    rewrite_manifest(folder, lambda m: m["files"][pem.name].update(file_entry(pem)))
    result = run_verify(folder)
    assert result.returncode == 1
    assert "FAIL signature: manifest.json names certificate" in result.stdout


def test_an_audit_log_cut_short_of_its_signed_checkpoint_fails_on_audit(failing, tmp_path):
    """Even under a valid manifest signature (here: the portal's own key, as an insider would
    use it), the log must reach the checkpoint, which was signed before the export was."""
    folder, _ = export_folder(failing, tmp_path)
    log = folder / "audit_log.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-1]))
    last = json.loads(lines[-2])

    def cut(manifest):
        manifest["files"][log.name] = file_entry(log)
        manifest["audit_log"].update(events=len(lines) - 1, last_hash=last["hash"],
                                     last_sequence=last["sequence"])  # fmt: skip

    (folder / "manifest.json.jws").write_text(signing.sign(rewrite_manifest(folder, cut)))
    result = run_verify(folder, "--fingerprint", ours())
    assert result.returncode == 1
    assert "PASS signature" in result.stdout
    sequence = json.loads((folder / "manifest.json").read_text())["audit"]["sequence"]
    assert f"FAIL audit: audit_log.jsonl does not reach the checkpoint #{sequence}" in result.stdout


def es256_identity() -> signing.Identity:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Launch Portal (ES256)")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return signing.Identity(key, certificate, (), "es256")


def test_an_es256_signed_export_verifies_too(atlas, tmp_path, monkeypatch):
    ecdsa = es256_identity()
    monkeypatch.setattr(signing, "identity", lambda: ecdsa)
    folder, _ = export_folder(atlas, tmp_path)
    header = (folder / "manifest.json.jws").read_text().split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["alg"] == "ES256"
    result = run_verify(folder, "--fingerprint", ecdsa.fingerprint)
    assert result.returncode == 0, result.stdout
    edited = folder / "decisions.csv"
    edited.write_bytes(edited.read_bytes() + b"x,y\n")
    rewrite_manifest(folder, lambda m: m["files"]["decisions.csv"].update(file_entry(edited)))
    assert "FAIL signature" in run_verify(folder).stdout


def test_verify_py_checks_the_zip_itself_and_prints_its_sha256(atlas, tmp_path):
    folder, archive = export_folder(atlas, tmp_path)
    result = subprocess.run(  # noqa: S603 - the export's own script
        [sys.executable, str(folder / "verify.py"), str(archive), "--fingerprint", ours()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    assert hashlib.sha256(archive.read_bytes()).hexdigest() in result.stdout


def test_every_export_is_recorded_by_its_zip_and_manifest_sha256(atlas, auditor, tmp_path):
    archive, data = export_audited(launch=atlas, actor=auditor)
    with archive:
        zip_bytes = archive.read()
        manifest = zipfile.ZipFile(io.BytesIO(zip_bytes)).read("manifest.json")
    issued = IssuedExport.objects.get(sha256=hashlib.sha256(zip_bytes).hexdigest())
    assert issued.manifest_sha256 == hashlib.sha256(manifest).hexdigest() == data["manifest_sha256"]
    assert issued.launch == atlas and issued.size == len(zip_bytes) and issued.job is None

    job = run_export_job(job_id=request_export(launch=atlas, user=auditor).pk)
    built = IssuedExport.objects.get(job=job)
    assert built.sha256 == job.sha256 and built.size == job.size
