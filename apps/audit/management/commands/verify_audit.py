import json
from pathlib import Path

from cryptography import x509
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from apps.audit.checkpoints import hold, latest_checkpoint
from apps.audit.models import AuditEvent, chain_name
from apps.audit.services import check_chains
from portal import signing
from portal.outbound import OutboundError, fetch

MAX_CHECKPOINT_BYTES = 5 * 2**20


class Command(BaseCommand):
    help = (
        "Recompute the audit hash chains (one per launch, and the portal's) and hold each against "
        "its head and its newest checkpoint, and against the checkpoints and head given; exit "
        "non-zero naming the problem: an edited event, missing events, or a chain emptied, "
        "restarted, cut back or rewritten."
    )

    def add_arguments(self, parser):
        parser.add_argument("--launch", metavar="SLUG", help="check this launch's chain only")
        parser.add_argument(
            "--head",
            help="a chain head hash printed earlier (in a packet or an export): it must still be "
            "in the chain (--launch's, or any), so a deleted tail is caught",
        )
        parser.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            metavar="FILE_OR_URL",
            help="a signed checkpoint kept earlier (a JSON file or URL of one checkpoint or of "
            "/audit/checkpoints/): the chain must extend it; repeatable",
        )

    def handle(self, *args, launch=None, head=None, checkpoint=(), **options):
        chain = chain_name(launch) if launch else None
        checks = check_chains(chain)
        problems = [
            f"audit chain broken at event #{c.event.sequence} of chain {c.chain}: {c.problem}"
            for c in checks
            if not c.ok
        ]
        problems += _head_problems(head, chain, checks)
        held, signers = [], set()
        for source in checkpoint:
            found, fingerprint = _held(source, chain)
            held, signers = held + found, signers | {fingerprint}
        problems += [h.problem for h in held if h.problem]
        problems += _stored_checkpoint_problems(checks)
        if problems:
            raise CommandError("\n".join(problems))
        self._report(checks)
        if held:  # the fingerprint, for the auditor to compare with the one pinned
            self.stdout.write(f"it extends every checkpoint given ({len(held)}), signed by the "
                              f"certificate SHA-256 {', '.join(sorted(signers))}")  # fmt: skip

    def _report(self, checks) -> None:
        total = sum(c.events for c in checks)
        if not checks:
            self.stdout.write("audit chain holds: 0 events, head -")
        elif len(checks) == 1:
            head = checks[0].newest.hash if checks[0].newest else "-"
            self.stdout.write(f"audit chain holds: {total} events, head {head} "
                              f"(chain {checks[0].chain})")  # fmt: skip
        else:
            for c in checks:
                self.stdout.write(f"  chain {c.chain}: {c.events} events, head {c.newest.hash}")
            self.stdout.write(f"audit chain holds: {total} events in {len(checks)} chains")


def _head_problems(head: str | None, chain: str | None, checks) -> list[str]:
    if not head:
        return []
    events = AuditEvent.objects.filter(hash=head)
    if chain:
        events = events.filter(chain=chain)
    if events.exists():
        return []
    ends = ", ".join(f"{c.chain} at #{c.newest.sequence if c.newest else 0}" for c in checks)
    return [f"the chain head {head} printed earlier is missing: events were deleted "
            f"(the chain{'s end' if len(checks) > 1 else ' now ends'}: {ends})"]  # fmt: skip


def _held(source: str, chain: str | None) -> tuple[list, str]:
    """Each checkpoint of `source` (of `chain` only, when given) held against the chain, checked
    with the certificate the document carries, or else ours; and that certificate's SHA-256."""
    try:
        document = json.loads(_read(source))
        pem = document.get("certificate", {}).get("pem") if isinstance(document, dict) else None
        certificate = x509.load_pem_x509_certificate(pem.encode()) if pem else _ours()
    except (OSError, ValueError, AttributeError, OutboundError) as exc:
        raise CommandError(f"cannot read the checkpoint {source}: {exc}") from None
    items = document.get("checkpoints", [document]) if isinstance(document, dict) else document
    held = [hold(d, certificate) for d in items if isinstance(d, dict)]
    held = [h for h in held if chain is None or h.chain in (chain, "?")]
    if not held:
        raise CommandError(f"{source} holds no checkpoint{f' of chain {chain}' if chain else ''}")
    return held, signing.fingerprint(certificate) if certificate else "-"


def _read(source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        return fetch(source, allowed_hosts=None, max_bytes=MAX_CHECKPOINT_BYTES).body
    return Path(source).read_bytes()


def _stored_checkpoint_problems(checks) -> list[str]:
    """The newest checkpoint kept here of each chain that holds: the event it records, and its
    signature when it is by our current certificate (one by an earlier key stays unchecked)."""
    problems = []
    for check in checks:
        stored = latest_checkpoint(check.chain) if check.ok else None
        if stored is not None:
            signed = stored.certificate_sha256 == _our_fingerprint()
            problems += [p for p in [hold(stored.as_dict(), signed=signed).problem] if p]
    return problems


def _our_fingerprint() -> str:
    ours = _ours()
    return signing.fingerprint(ours) if ours else ""


def _ours() -> x509.Certificate | None:
    try:
        return signing.identity().certificate
    except ImproperlyConfigured:
        return None
