"""The sign-off packet: what an executive reads, signs and files."""

import time

import pytest
from django.utils import timezone

from apps.reports.packets.render import launch_digest, render_packet
from tests.reports.conftest import approve_all
from tests.reports.pdftext import pdf_pages, pdf_text

pytestmark = pytest.mark.django_db


def test_demo_packet_names_every_gate_and_role_and_carries_the_digest(demo, tmp_path):
    now = timezone.now()
    started = time.monotonic()
    pdf = render_packet(demo, now=now)
    assert time.monotonic() - started < 60
    (tmp_path / "demo.pdf").write_bytes(pdf)
    text = pdf_text(pdf)
    for gate in demo.gates.active():
        assert gate.name in text, gate.key
    for role in demo.roles.all():
        assert role.name in text, role.key
    assert launch_digest(demo, now).digest in text
    for heading in (
        "Contents",
        "Executive summary",
        "Certification gates",
        "Sign-off matrix",
        "Timeline",
        "Audit trail",
    ):
        assert heading in text


def test_packet_without_every_approval_is_interim_on_every_page(atlas):
    pages = pdf_pages(render_packet(atlas, now=timezone.now()))
    assert len(pages) > 3
    for number, page in enumerate(pages, 1):
        assert "INTERIM" in page, f"page {number} lacks the watermark"
        assert f"Page {number} of {len(pages)}" in page


def test_packet_with_every_required_approval_is_final(atlas):
    approve_all(atlas, printed_name="Vera Example")
    now = timezone.now()
    text = pdf_text(render_packet(atlas, now=now))
    assert "FINAL" in text
    assert "INTERIM" not in text
    assert "Vera Example" in text and "VALID" in text
    assert launch_digest(atlas, now).digest in text


def test_running_header_carries_the_launch_and_digest_after_the_cover(atlas):
    now = timezone.now()
    digest = launch_digest(atlas, now).digest
    pages = pdf_pages(render_packet(atlas, now=now))
    for page in pages[1:]:
        assert "Atlas 2.0.0" in page and digest in page.replace("\n", "")


def test_an_invalidated_signature_shows_why(atlas):
    approve_all(atlas)
    signoff = atlas.signoffs.first()
    signoff.invalidated_at, signoff.invalidated_reason = timezone.now(), "coverage went failing"
    signoff.save(update_fields=["invalidated_at", "invalidated_reason"])
    text = pdf_text(render_packet(atlas, now=timezone.now()))
    assert "INVALIDATED" in text and "coverage went failing" in text
    assert "INTERIM" in text


def test_the_summary_lists_the_success_criteria_with_their_measured_values(atlas):
    from apps.gates.models import Gate

    Gate.objects.filter(launch=atlas, key="coverage").update(success_criterion="Quality")
    pages = pdf_pages(render_packet(atlas, now=timezone.now()))
    summary = next(p for p in pages if "Executive summary" in p and "Definition of Done" in p)
    flat = " ".join(summary.split())
    assert "Success criteria" in flat
    assert "Quality: Coverage coverage >= 85 % 91 % passing" in flat.replace("PASSING", "passing")
    assert "Availability" not in flat.split("Success criteria")[1].split("Gate status")[0]


def test_a_spec_marking_no_success_criterion_says_so(atlas):
    text = pdf_text(render_packet(atlas, now=timezone.now()))
    assert "The launch spec marks no gate as a success criterion." in text


def test_the_summary_carries_the_readiness_forecast(atlas):
    from apps.signoffs.forecast import launch_forecast

    now = timezone.now()
    expected = " ".join(launch_forecast(atlas, now).sentence().split())
    pages = pdf_pages(render_packet(atlas, now=now))
    summary = next(p for p in pages if "Executive summary" in p and "Definition of Done" in p)
    summary = " ".join(summary.split())
    assert f"Readiness forecast: {expected}" in summary
