"""The export's memory does not grow with its evidence: files are copied through in chunks.

`manage.py export_evidence` runs in a subprocess, once with 1 MB of evidence (so the baseline
already copies evidence through the same buffers) and once with 50 MB more. The subprocess reports
its own peak RSS as VmHWM from /proc/self/status: getrusage's ru_maxrss (and so RUSAGE_CHILDREN
in the parent) would not do, because Linux carries the forking parent's resident size across
exec into the child's ru_maxrss, and the test process itself grows when it writes the evidence.
"""

import os
import subprocess
import sys
import zipfile
from decimal import Decimal

import pytest

from apps.gates.evidence import store_evidence
from apps.gates.models import Gate
from apps.gates.services import Reading, record_reading
from tests.celery_worker import ROOT, database_url

pytestmark = pytest.mark.django_db(transaction=True)
MB = 1024 * 1024
FILES, FILE_SIZE = 5, 10 * MB
MEASURE = (
    "import re, runpy, sys\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    "status = open('/proc/self/status').read()\n"
    "print('peak_kb', re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1), file=sys.stderr)\n"
)


def export_peak_kb(slug: str, out, media) -> int:
    env = {**os.environ, "DATABASE_URL": database_url(), "EVIDENCE_ROOT": str(media), "DEBUG": "1"}
    done = subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-c", MEASURE, "manage.py", "export_evidence", slug, "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stderr.rsplit("peak_kb", 1)[1].split()[0])


def read(gate, data: bytes, name: str) -> None:
    evidence = store_evidence(data=data, name=name)
    record_reading(gate=gate, reading=Reading(value=Decimal("90"), evidence=evidence), actor="test")


def test_exporting_50_mb_more_evidence_takes_no_more_memory(atlas, media, tmp_path):
    gate = Gate.objects.get(launch=atlas, key="coverage")
    read(gate, os.urandom(MB), "baseline.xml")
    small = export_peak_kb(atlas.slug, tmp_path / "small.zip", media)
    for i in range(FILES):
        read(gate, os.urandom(FILE_SIZE), f"coverage-{i}.xml")
    large = export_peak_kb(atlas.slug, tmp_path / "large.zip", media)
    with zipfile.ZipFile(tmp_path / "large.zip") as zf:
        carried = sum(i.file_size for i in zf.infolist() if i.filename.startswith("evidence/"))
    assert carried >= FILES * FILE_SIZE
    growth = (large - small) * 1024
    print(f"peak RSS {small // 1024} MB with 1 MB of evidence, {large // 1024} MB with "
          f"{carried // MB} MB: growth {growth / MB:.1f} MB")  # fmt: skip
    assert growth < 5 * MB, f"peak RSS grew {growth / MB:.1f} MB for {carried / MB:.0f} MB more"
