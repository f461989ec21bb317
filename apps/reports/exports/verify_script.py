#!/usr/bin/env python3
"""Check a Launch Portal evidence export without trusting the portal.

Needs Python 3.10+ and the `cryptography` package:   pip install cryptography

Usage: python verify.py [EXPORT] [--fingerprint HEX]
  EXPORT           the unpacked folder (default: this script's folder) or the .zip itself
  --fingerprint    the SHA-256 of the portal's certificate as you pinned it (hex, colons allowed):
                   makes the fingerprint a hard check

Each check is reported PASS or FAIL by name:
  signature    manifest.json.jws is a valid signature (RS256 or ES256, a detached JWS) over the
               exact bytes of manifest.json, by the certificate in signing-certificate.pem, which
               the manifest and the signature's header both name by SHA-256. Whoever edits a file
               and re-hashes the manifest fails here: they cannot sign without the portal's key.
  fingerprint  the certificate's SHA-256 is printed: compare it with the one the portal publishes
               (its /verify/ page, README, every packet). Whoever re-signs with their own key
               brings their own certificate, with another fingerprint; with --fingerprint a
               mismatch fails.
  files        every file listed in manifest.json is present with exactly the listed SHA-256 and
               size, and no other file is present.
  audit        every event in audit_log.jsonl hashes to its recorded hash (SHA-256 of prev_hash +
               canonical JSON of its other fields), consecutive events link, and the log meets the
               audit checkpoint in the manifest (when the checkpoint carries its own signature,
               that is checked against the same certificate). On a launch's own chain no event
               may be missing; on the older portal-wide chain the log holds this launch's events
               only: `manage.py verify_audit` on the portal checks the rest.
Exit status 0 only when every check passes; 1 otherwise.
The printed SHA-256 of manifest.json (or of the ZIP) can be pasted into the portal's /verify/.
"""

import argparse
import base64
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

MANIFEST, SIGNATURE, CERTIFICATE = "manifest.json", "manifest.json.jws", "signing-certificate.pem"
AUDIT_LOG = "audit_log.jsonl"
UNLISTED = {MANIFEST, SIGNATURE}  # the manifest cannot list itself nor its signature
GENESIS = "0" * 64
UNHASHED = ("chain", "prev_hash", "hash")  # the rest of an event's fields is what its hash covers
B64URL = re.compile(r"[A-Za-z0-9_-]+")
CHECKPOINT_FIELDS = ("chain", "sequence", "head", "at")


class Failed(Exception):
    """A check failed; its problems in words."""

    def __init__(self, *problems: str) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    """Strict base64url: only its alphabet, and only the one spelling of the bytes."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if not B64URL.fullmatch(text) or b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


class Folder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self) -> set[str]:
        return {
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }

    def open(self, name: str):
        return open(self.root / name, "rb")


class Zip:
    def __init__(self, path: Path) -> None:
        self.zf = zipfile.ZipFile(path)

    def names(self) -> set[str]:
        return {n for n in self.zf.namelist() if not n.endswith("/")}

    def open(self, name: str):
        return self.zf.open(name)


def read(source, name: str) -> bytes:
    try:
        with source.open(name) as stream:
            return stream.read()
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise Failed(f"{name}: missing or unreadable ({exc})") from None


def file_digest(source, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with source.open(name) as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def read_manifest(source) -> tuple[bytes, dict]:
    raw = read(source, MANIFEST)
    try:
        manifest = json.loads(raw.decode("utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Failed(f"{MANIFEST}: unreadable ({exc})") from None
    if not isinstance(files, dict):
        raise Failed(f"{MANIFEST}: 'files' is not a mapping")
    return raw, manifest


def load_certificate(source):
    """The signing certificate (the first of signing-certificate.pem's chain), or Failed."""
    try:
        from cryptography import x509
    except ImportError:
        raise Failed("the `cryptography` package is missing: pip install cryptography") from None
    try:
        return x509.load_pem_x509_certificates(read(source, CERTIFICATE))[0]
    except ValueError as exc:
        raise Failed(f"{CERTIFICATE}: not a PEM certificate ({exc})") from None


def fingerprint(certificate) -> str:
    from cryptography.hazmat.primitives import hashes

    return certificate.fingerprint(hashes.SHA256()).hex()


def grouped(hex_digest: str) -> str:
    upper = hex_digest.upper()
    return ":".join(upper[i : i + 2] for i in range(0, len(upper), 2))


def verify_jws(data: bytes, jws: str, certificate, what: str, subject: str) -> str:
    """The algorithm of `jws`, a detached compact JWS over `data` by `certificate`; or Failed."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    try:
        header_b64, payload, signature_b64 = jws.split(".")
        header, signature = json.loads(unb64(header_b64)), unb64(signature_b64)
        alg, thumbprint = header.get("alg"), header.get("x5t#S256")
    except (ValueError, AttributeError) as exc:
        raise Failed(f"{what} is not a detached compact JWS ({exc})") from None
    if payload:
        raise Failed(f"{what} carries its payload: a detached signature was expected")
    if thumbprint != b64(bytes.fromhex(fingerprint(certificate))):
        raise Failed(f"{what} names another certificate than {CERTIFICATE} (x5t#S256)")
    signing_input = header_b64.encode() + b"." + b64(data).encode()
    key = certificate.public_key()
    try:
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif (
            alg == "ES256"
            and isinstance(key, ec.EllipticCurvePublicKey)
            and key.curve.name == "secp256r1"
            and len(signature) == 64
        ):
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
        else:
            raise Failed(f"{what}: algorithm {alg!r} does not fit the certificate's key")
    except InvalidSignature:
        raise Failed(
            f"{what} does not verify against {CERTIFICATE}: {subject} was changed after it was "
            "signed, or it was signed with another key"
        ) from None
    return alg


def check_signature(source, raw: bytes, manifest: dict, certificate) -> str:
    named = (manifest.get("signing") or {}).get("certificate_sha256")
    if named != fingerprint(certificate):
        raise Failed(f"{MANIFEST} names certificate {named}, not the one in {CERTIFICATE}")
    try:
        jws = read(source, SIGNATURE).decode("ascii")
    except UnicodeDecodeError:
        raise Failed(f"{SIGNATURE} is not a compact JWS (not ASCII)") from None
    alg = verify_jws(raw, jws, certificate, SIGNATURE, MANIFEST)
    return f"{SIGNATURE} is a valid {alg} signature of {MANIFEST} by {CERTIFICATE}"


def check_fingerprint(certificate, pinned: str) -> str:
    found, wanted = fingerprint(certificate), re.sub(r"[\s:]", "", pinned).lower()
    if found != wanted:
        raise Failed(f"the certificate's SHA-256 {grouped(found)} is not the pinned {pinned}")
    return "the certificate is the pinned one"


def check_files(source, manifest: dict) -> str:
    problems, listed = [], manifest["files"]
    present = source.names() - UNLISTED
    for name in sorted(present - set(listed)):
        problems.append(f"{name}: not in the manifest")
    for name in sorted(listed):
        if name not in present:
            problems.append(f"{name}: missing")
            continue
        try:
            sha, size = file_digest(source, name)
        except (OSError, zipfile.BadZipFile) as exc:
            problems.append(f"{name}: unreadable ({exc})")
            continue
        expected = listed[name]
        if not isinstance(expected, dict) or sha != expected.get("sha256"):
            problems.append(f"{name}: SHA-256 {sha} differs from the manifest")
        elif size != expected.get("size"):
            problems.append(f"{name}: size {size} differs from the manifest")
    if problems:
        raise Failed(*problems)
    return f"{len(listed)} files match {MANIFEST}"


class AuditWalk:
    """One pass over audit_log.jsonl: hashes, links within each chain, the checkpoint's event.

    The launch's events recorded before chains were per launch are in the portal chain, among
    other launches' events (gaps are expected there); its own chain, named by its slug, has none.
    """

    def __init__(self, launch: str, checkpoint: dict) -> None:
        self.launch, self.checkpoint = launch, checkpoint
        self.problems: list[str] = []
        self.count, self.last, self.met = 0, None, None
        self.chains: dict[str, dict] = {}  # each chain's last event so far

    def line(self, number: int, line: bytes) -> None:
        try:
            event = json.loads(line)
            body = {k: v for k, v in event.items() if k not in UNHASHED}
            prev_hash, claimed, sequence = event["prev_hash"], event["hash"], event["sequence"]
            chain = str(event["chain"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.problems.append(f"{AUDIT_LOG} line {number}: unreadable ({exc})")
            return
        if hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest() != claimed:
            self.problems.append(f"{chain} #{sequence}: its hash does not match its fields")
        if event.get("launch") != self.launch:
            self.problems.append(f"{chain} #{sequence}: belongs to launch {event.get('launch')!r}")
        self.link(event, chain, sequence, prev_hash)
        if (chain, sequence) == (self.checkpoint.get("chain"), self.checkpoint.get("sequence")):
            self.met = event
        self.count, self.last, self.chains[chain] = self.count + 1, event, event

    def link(self, event: dict, chain: str, sequence, prev_hash: str) -> None:
        previous, own = self.chains.get(chain), chain == self.launch
        if previous is None:
            if own and sequence == 1 and prev_hash != GENESIS:
                self.problems.append(f"{chain} #1 does not start from the zero hash")
            return
        if sequence <= previous["sequence"]:
            self.problems.append(f"{chain} #{sequence}: sequence does not increase")
        elif sequence == previous["sequence"] + 1 and prev_hash != previous["hash"]:
            self.problems.append(f"{chain} #{sequence}: prev_hash does not link to #{sequence - 1}")
        elif sequence > previous["sequence"] + 1 and own:
            self.problems.append(f"{chain} #{previous['sequence'] + 1} to #{sequence - 1} missing")


def check_audit(source, manifest: dict, certificate) -> str:
    checkpoint = manifest.get("audit") or {}
    walk = AuditWalk((manifest.get("launch") or {}).get("slug"), checkpoint)
    with source.open(AUDIT_LOG) as stream:
        for number, line in enumerate(stream, 1):
            walk.line(number, line)
    problems = walk.problems + meet_checkpoint(walk, manifest)
    signed = "signature" in checkpoint
    if signed:
        problems += checkpoint_signature(checkpoint, certificate)
    if problems:
        raise Failed(*problems)
    where = f"checkpoint #{checkpoint.get('sequence')} of chain {checkpoint.get('chain')!r}"
    kind = "signed " if signed else ""
    if walk.met is not None:
        return f"{walk.count} events recompute and link, up to the {kind}{where}"
    return f"{walk.count} events recompute and link; the {kind}{where} is past them"


def meet_checkpoint(walk: AuditWalk, manifest: dict) -> list[str]:
    checkpoint, summary = walk.checkpoint, manifest.get("audit_log") or {}
    sequence, head, problems = checkpoint.get("sequence"), checkpoint.get("head"), []
    if (walk.last or {}).get("hash", "") != summary.get("last_hash", ""):
        problems.append(f"{AUDIT_LOG}: the last event is not the manifest's last_hash")
    if walk.met is not None and walk.met["hash"] != head:
        problems.append(f"event #{sequence} is not the checkpoint's head: the chain was rewritten")
    full = not (manifest.get("range") or {}).get("until")
    own = checkpoint.get("chain") == walk.launch
    if own and full and sequence and walk.met is None:
        problems.append(f"{AUDIT_LOG} does not reach the checkpoint #{sequence}: events missing")
    return problems


def checkpoint_payload(checkpoint: dict) -> bytes:
    """The bytes a checkpoint's signature covers: canonical JSON of its chain state."""
    return canonical_json({k: checkpoint.get(k) for k in CHECKPOINT_FIELDS}).encode()


def checkpoint_signature(checkpoint: dict, certificate) -> list[str]:
    if checkpoint.get("certificate_sha256") != fingerprint(certificate):
        return [f"the audit checkpoint names another certificate than {CERTIFICATE}"]
    try:
        verify_jws(checkpoint_payload(checkpoint), str(checkpoint["signature"]), certificate,
                   "the audit checkpoint's signature", "the checkpoint")  # fmt: skip
    except Failed as failed:
        return failed.problems
    return []


def run(target: Path, pinned: str | None) -> list[str]:
    """Print what the export is and each check's result; the names of the failed checks."""
    source = Zip(target) if target.is_file() else Folder(target)
    try:
        raw, manifest = read_manifest(source)
    except Failed as failed:
        print(f"FAIL manifest: {failed}")
        return ["manifest"]
    describe(target, raw, manifest)
    try:
        certificate = load_certificate(source)
        print(f"Signing certificate SHA-256: {grouped(fingerprint(certificate))}")
    except Failed as failed:
        print(f"FAIL signature: {failed}")
        return ["signature", *check("files", lambda: check_files(source, manifest))]
    print("  compare it with the fingerprint the portal publishes, or pass --fingerprint")
    failed = check("signature", lambda: check_signature(source, raw, manifest, certificate))
    if pinned:
        failed += check("fingerprint", lambda: check_fingerprint(certificate, pinned))
    else:
        print("NOTE fingerprint: not pinned (pass --fingerprint HEX to make it a hard check)")
    failed += check("files", lambda: check_files(source, manifest))
    if AUDIT_LOG in manifest["files"] and AUDIT_LOG in source.names():
        failed += check("audit", lambda: check_audit(source, manifest, certificate))
    return failed


def describe(target: Path, raw: bytes, manifest: dict) -> None:
    launch = manifest.get("launch") or {}
    print(f"Evidence export of {launch.get('name')} {launch.get('version')} "
          f"({launch.get('slug')}), generated {manifest.get('generated_at')}")  # fmt: skip
    print(f"{MANIFEST} SHA-256: {hashlib.sha256(raw).hexdigest()}")
    if target.is_file():
        print(f"{target.name} SHA-256: {file_digest(Folder(target.parent), target.name)[0]}")


def check(name: str, run_check) -> list[str]:
    try:
        print(f"PASS {name}: {run_check()}")
    except Failed as failed:
        for problem in failed.problems:
            print(f"FAIL {name}: {problem}")
        return [name]
    except (OSError, zipfile.BadZipFile) as exc:
        print(f"FAIL {name}: unreadable ({exc})")
        return [name]
    return []


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Check a Launch Portal evidence export.")
    parser.add_argument("export", nargs="?", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--fingerprint", help="the portal certificate's SHA-256 you pinned")
    args = parser.parse_args(argv[1:])
    try:
        failed = run(args.export, args.fingerprint)
    except (OSError, zipfile.BadZipFile) as exc:
        print(f"FAIL export: {args.export} is unreadable ({exc})")
        failed = ["export"]
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    print("OK: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
