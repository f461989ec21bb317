"""Data and helpers shared by the tests."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent
DEMO_SPEC = ROOT / "specs" / "llm-research-lab.yaml"
# The one source host:port the tests allow (SOURCE_ALLOWED_HOSTS); nothing listens there.
ALLOWED_SOURCE = "127.0.0.1:19090"

# A small launch spec that passes validation; tests copy it and break one thing at a time.
MINIMAL_SPEC = {
    "launch": {
        "slug": "atlas",
        "name": "Atlas",
        "version": "2.0.0",
        "target_t0": "2027-03-02T15:00:00Z",
        "start_date": "2026-12-28",
        "status": "planning",
        "decision": {"role": "vp-engineering"},  # vera in tests/signoffs records the Go/No-Go
    },
    "sources": [{"key": "prod", "url": f"http://{ALLOWED_SOURCE}"}],
    "phases": [
        {
            "code": "1",
            "name": "Build",
            "start_week": 1,
            "end_week": 2,
            "activities": [
                {"name": "Cluster", "owner": "SRE Lead", "week": 1, "status": "done"},
                {"name": "Pipelines", "owner": "Platform", "week": 2},
            ],
        },
        {"code": "2", "name": "Certify", "start_week": 3, "end_week": 4, "activities": []},
    ],
    "gates": [
        {
            "key": "availability",
            "name": "Availability",
            "category": "slo",
            "dimension": "technical",
            "blocking": True,
            "source": "prometheus",
            "query": "avg_over_time(up[1h]) * 100",
            "prometheus": "prod",
            "comparator": ">=",
            "threshold": 99.9,
            "unit": "%",
        },
        {
            "key": "coverage",
            "name": "Coverage",
            "category": "quality",
            "dimension": "technical",
            "blocking": True,
            "source": "report",
            "format": "cobertura",
            "metric": "coverage.line_percent",
            "comparator": ">=",
            "threshold": 85,
            "unit": "%",
            "interval": "1h",
            "max_age": "1d",
            "controls": ["CC8.1"],
        },
        {
            "key": "runbooks",
            "name": "Runbooks tested",
            "category": "operations",
            "dimension": "operational",
            "blocking": False,
            "source": "manual",
            "comparator": "==",
            "threshold": 1,
            "unit": "attested",
            "max_age": "30d",
        },
    ],
    "roles": [
        {
            "key": "vp-engineering",
            "name": "VP Engineering",
            "scope": "Technical readiness",
            "required": True,
            "categories": ["slo", "quality"],
        },
        {
            "key": "sre-lead",
            "name": "SRE Lead",
            "scope": "Operational readiness",
            "required": True,
            "categories": ["operations"],
        },
    ],
    "sequence": [
        {"offset": "-24h", "name": "Final staging validation"},
        {"offset": "0h", "name": "Deployment"},
        {"offset": "+24h", "name": "Stability check"},
    ],
}


def to_yaml(data) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def report_only(spec: dict) -> dict:
    """Atlas without its Prometheus source: every gate is fed by reports or people, so nothing
    reaches out to a metrics server during the test. Changes `spec` in place and returns it."""
    spec["sources"] = []
    del spec["gates"][0]["prometheus"]
    return spec


def import_report_only_launch(spec: dict):
    """The report-only launch (`report_only`), imported."""
    from apps.specs.services import import_launch_spec

    return import_launch_spec(raw=to_yaml(report_only(spec)), actor="test").launch


def probe_gates(launch, count: int, *, guarded_first: bool = False) -> list:
    """`count` Prometheus gates probe-0..probe-N added to a report-only launch, polled like its
    "availability" gate; `guarded_first`: probe-0 waits for 2 agreeing readings (for: 2)."""
    from apps.gates.models import Gate

    template = Gate.objects.get(launch=launch, key="availability")
    return Gate.objects.bulk_create(
        Gate(launch=launch, key=f"probe-{i}", name=f"Probe {i}", category="slo",
             dimension="technical", source="prometheus", query=f'probe_success{{i="{i}"}}',
             comparator=">=", threshold=1, unit="count", interval=template.interval,
             max_age=template.max_age, for_count=2 if guarded_first and i == 0 else 1)
        for i in range(count)
    )  # fmt: skip


def manual_gates(launch, count: int, *, key: str = "extra", name: str = "Extra") -> list:
    """`count` manual quality gates `<key>-0..` added to a launch, kept as long as its
    "coverage" gate."""
    from apps.gates.models import Gate

    template = Gate.objects.get(launch=launch, key="coverage")
    return Gate.objects.bulk_create(
        Gate(launch=launch, key=f"{key}-{i}", name=f"{name} {i}", category="quality",
             dimension="technical", source="manual", comparator="==", threshold=1,
             unit="attested", interval=template.interval, max_age=template.max_age)
        for i in range(count)
    )  # fmt: skip


# --- signing identities (portal/signing.py) ------------------------------------------------------


def certificate_for(
    key, *, issuer_key=None, issuer: x509.Name | None = None, days: int = 365, cn: str = "Portal"
) -> x509.Certificate:
    """A certificate for `key`: self-signed, or issued by `issuer_key` (named `issuer`)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=days))
        .sign(issuer_key or key, hashes.SHA256())
    )  # fmt: skip


def write_identity(folder: Path, key, certificate, passphrase: bytes | None = None) -> dict:
    """PEM files for the pair in `folder`; the SIGNING_* variables that name them."""
    folder.mkdir(parents=True, exist_ok=True)
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = serialization.Encoding.PEM
    key_file, cert_file = folder / "key.pem", folder / "cert.pem"
    key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, encryption))
    cert_file.write_bytes(certificate.public_bytes(pem))
    return {"SIGNING_KEY_FILE": str(key_file), "SIGNING_CERT_FILE": str(cert_file)}


def ca_issued_identity(folder: Path, *, days: int = 365) -> dict:
    """A portal identity a (throwaway) CA issued, valid `days`: as production should have."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate_for(ca_key, cn="Example Root CA", days=3650)
    leaf = certificate_for(key, issuer_key=ca_key, issuer=ca.subject, days=days)
    return write_identity(folder, key, leaf)


def listed_launches(page) -> dict[str, dict[str, str]]:
    """The launch list's rows as a person reads them: {slug: {column label: text}}, from a
    response or markup."""
    found = {}
    body = page if isinstance(page, str) else page.content.decode()
    for row in re.findall(r"<tr>\s*(<td data-label=.*?)</tr>", body, re.S):
        cells = dict(re.findall(r'<td data-label="([^"]+)"[^>]*>(.*?)</td>', row, re.S))
        slug = re.search(r'href="/launches/([\w-]+)/"', cells["Launch"]).group(1)
        found[slug] = {label: re.sub(r"<[^>]+>", "", text).strip() for label, text in cells.items()}
    return found
