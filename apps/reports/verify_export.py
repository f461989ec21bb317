#!/usr/bin/env python3
"""Check a Launch Portal evidence export without trusting the portal (standard library only).

Usage: python verify.py [EXPORT]   EXPORT: the unpacked folder (default: this script's folder)
                                   or the .zip itself.

What a pass proves:
  1. Every file listed in manifest.json is present with exactly the listed SHA-256 and size, no
     other file is present, and manifest.json is byte-for-byte its own canonical form with a
     matching self-digest (so no byte of any file can change unnoticed).
  2. Every event in audit_log.jsonl hashes to its recorded hash from its own fields and its
     prev_hash (the portal's rule: SHA-256 of prev_hash + canonical JSON of the fields).
  3. Wherever two exported events have consecutive sequence numbers, the later one's prev_hash
     is the earlier one's hash; sequences strictly increase; all events belong to the launch.
What it cannot prove alone: that no event was left out between non-consecutive sequences (the
audit chain is global, shared with other launches), nor that the export is the portal's. For
those, compare manifest_sha256 and the chain head with the packet, the portal's /verify/ page,
or the `evidence.exported` audit event, and run `manage.py verify_audit` on the portal.
Exit status 0 when everything holds; 1 otherwise, naming each failure.
"""

import hashlib
import json
import sys
import zipfile
from pathlib import Path

MANIFEST = "manifest.json"
HASHED = ("sequence", "at", "actor", "action", "launch", "object_type", "object_key", "data")


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


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


def file_digest(source, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with source.open(name) as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def check_manifest(raw: bytes) -> tuple[dict | None, list[str]]:
    try:
        manifest = json.loads(raw.decode("utf-8"))
        body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
        claimed = manifest["manifest_sha256"]
        files = manifest["files"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, [f"{MANIFEST}: unreadable ({exc})"]
    errors = []
    if hashlib.sha256(canonical_json(body).encode()).hexdigest() != claimed:
        errors.append(f"{MANIFEST}: content does not match its manifest_sha256")
    if (canonical_json(manifest) + "\n").encode() != raw:
        errors.append(f"{MANIFEST}: bytes differ from its canonical form")
    if not isinstance(files, dict):
        return None, [*errors, f"{MANIFEST}: 'files' is not a mapping"]
    return manifest, errors


def check_files(source, manifest: dict) -> list[str]:
    errors = []
    listed = manifest["files"]
    present = source.names() - {MANIFEST}
    for name in sorted(present - set(listed)):
        errors.append(f"{name}: not in the manifest")
    for name in sorted(listed):
        if name not in present:
            errors.append(f"{name}: missing")
            continue
        try:
            sha, size = file_digest(source, name)
        except (OSError, zipfile.BadZipFile) as exc:
            errors.append(f"{name}: unreadable ({exc})")
            continue
        expected = listed[name]
        if not isinstance(expected, dict) or sha != expected.get("sha256"):
            errors.append(f"{name}: SHA-256 {sha} differs from the manifest")
        elif size != expected.get("size"):
            errors.append(f"{name}: size {size} differs from the manifest")
    return errors


def check_audit(source, manifest: dict) -> list[str]:
    errors, previous = [], None
    launch = manifest.get("launch", {}).get("slug")
    with source.open("audit_log.jsonl") as stream:
        for number, line in enumerate(stream, 1):
            try:
                event = json.loads(line)
                body = {key: event[key] for key in HASHED}
                prev_hash, claimed, sequence = event["prev_hash"], event["hash"], event["sequence"]
            except (ValueError, KeyError, TypeError) as exc:
                errors.append(f"audit_log.jsonl line {number}: unreadable ({exc})")
                continue
            recomputed = hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()
            if recomputed != claimed:
                errors.append(f"audit event #{sequence}: hash does not match its fields")
            if event["launch"] != launch:
                errors.append(f"audit event #{sequence}: belongs to launch {event['launch']!r}")
            if previous is not None:
                if sequence <= previous["sequence"]:
                    errors.append(f"audit event #{sequence}: sequence does not increase")
                elif sequence == previous["sequence"] + 1 and prev_hash != previous["hash"]:
                    errors.append(
                        f"audit event #{sequence}: prev_hash does not link to #{sequence - 1}"
                    )
            previous = event
    audit = manifest.get("audit", {})
    if (previous or {}).get("hash", "") != audit.get("last_hash", ""):
        errors.append("audit_log.jsonl: the last event is not the manifest's last_hash")
    return errors


def verify(target: Path) -> list[str]:
    source = Zip(target) if target.is_file() else Folder(target)
    try:
        with source.open(MANIFEST) as stream:
            raw = stream.read()
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        return [f"{MANIFEST}: missing ({exc})"]
    manifest, errors = check_manifest(raw)
    if manifest is None:
        return errors
    errors += check_files(source, manifest)
    if "audit_log.jsonl" in manifest["files"] and not any(
        e.startswith("audit_log") for e in errors
    ):
        errors += check_audit(source, manifest)
    return errors


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    try:
        errors = verify(target)
    except (OSError, zipfile.BadZipFile) as exc:
        errors = [f"{target}: unreadable ({exc})"]
    for error in errors:
        print(f"FAIL {error}")
    if not errors:
        print(f"OK: every file matches {MANIFEST} and the audit events' hashes hold")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
