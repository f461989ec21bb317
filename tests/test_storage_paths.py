"""Every kept file goes through portal/storage.py: no module builds a path under MEDIA_ROOT or
opens a stored file itself, so web and worker replicas on other hosts can read each other's files.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The storage wiring: where MEDIA_ROOT is set, and the one module that reads and writes files.
ALLOWED = {"portal/settings.py", "portal/storage.py"}
FORBIDDEN = {
    "a path under MEDIA_ROOT": re.compile(r"settings\.MEDIA_ROOT|\bEVIDENCE_ROOT\b\s*[\])]"),
    "a local file system storage": re.compile(r"\bFileSystemStorage\("),
    # A row's stored name (evidence.path, packet.path, job.path, launch.summary_path) opened
    # or turned into a local path.
    "a stored file opened directly": re.compile(
        r"\b(?:open|Path)\([^)]*\b\w+\.(?:summary_)?path\b"
        r"|\b\w+\.(?:summary_)?path\)?\.(?:open|read_bytes|read_text|write_bytes|unlink|stat)\("
    ),
}


def offences(root: Path = ROOT) -> list[str]:
    found = []
    for folder in ("apps", "portal"):
        for path in sorted((root / folder).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative in ALLOWED or "/migrations/" in relative:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for what, pattern in FORBIDDEN.items():
                    if pattern.search(line):
                        found.append(f"{relative}:{number}: {what}: {line.strip()}")
                        break  # one report per line
    return found


def test_no_module_reads_or_writes_kept_files_around_the_storage_api():
    assert offences() == [], "use portal.storage (save_once, open_stored, chunks):\n" + "\n".join(
        offences()
    )


def test_the_check_names_the_place_of_an_old_style_read(tmp_path):
    module = tmp_path / "apps" / "gates" / "evidence.py"
    module.parent.mkdir(parents=True)
    (tmp_path / "portal").mkdir()
    module.write_text(
        "def read(evidence):\n"
        "    return (Path(settings.MEDIA_ROOT) / evidence.path).read_bytes()\n"
        "def serve(packet):\n"
        "    return open(packet_root / packet.path, 'rb')\n"
    )

    assert offences(tmp_path) == [
        "apps/gates/evidence.py:2: a path under MEDIA_ROOT: "
        "return (Path(settings.MEDIA_ROOT) / evidence.path).read_bytes()",
        "apps/gates/evidence.py:4: a stored file opened directly: "
        "return open(packet_root / packet.path, 'rb')",
    ]
