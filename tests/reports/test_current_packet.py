"""The export carries the packet as issued; a packet stays current until what it shows moves."""

import hashlib
import zipfile

import pytest

from apps.audit.models import AuditEvent
from apps.reports.exports.archive import export_evidence
from apps.reports.models import Packet
from apps.reports.packets.store import build_packet, current_packet
from tests.reports.conftest import approve_all
from tests.signoffs.conftest import read

pytestmark = pytest.mark.django_db


def test_a_packet_is_current_until_a_gate_moves(atlas):
    packet = build_packet(launch=atlas, actor="test")
    assert current_packet(atlas) == packet
    read("coverage", "91")  # a new reading, same status: the packet still shows the launch
    assert current_packet(atlas) is None  # ...but its digest names the newest measurement ids
    fresh = build_packet(launch=atlas, actor="test")
    assert current_packet(atlas) == fresh
    read("coverage", "50")
    assert current_packet(atlas) is None


def test_a_signature_after_the_packet_makes_it_out_of_date(atlas):
    interim = build_packet(launch=atlas, actor="test")
    approve_all(atlas)  # the launch becomes ready: a FINAL packet is built on its own
    assert current_packet(atlas) != interim
    if current_packet(atlas) is not None:
        assert current_packet(atlas).status == "FINAL"


def test_exports_reuse_the_current_packet_and_build_one_when_none_is(atlas, tmp_path):
    def packet_in(path):
        with zipfile.ZipFile(path) as zf:
            return hashlib.sha256(zf.read("packet.pdf")).hexdigest()

    for name in ("a.zip", "b.zip"):
        with open(tmp_path / name, "wb") as out:
            export_evidence(atlas, out)
    built = Packet.objects.get()  # the first export built it (audited), the second reused it
    assert packet_in(tmp_path / "a.zip") == packet_in(tmp_path / "b.zip") == built.sha256
    assert AuditEvent.objects.filter(action="packet.built").count() == 1
