"""The overview's and the sign page's parts drawn from every gate come from the cache
(apps/gates/rows.py) until something they show changes: a status change, an ingest, a waiver, an
attestation. What is person-specific (the links a role may follow, who produced the evidence, the
form) is never taken from another person's page."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.gates.models import Gate
from apps.gates.services import Reading, attest, ingest_report, record_reading
from apps.signoffs.models import Duty, Role
from apps.signoffs.waivers import request_waiver
from tests.gates.test_cached_rows import COBERTURA, _person, launch  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db
OVERVIEW = "/launches/atlas/"
SIGN_VP = "/launches/atlas/signoffs/vp-engineering/sign/"
SIGN_SRE = "/launches/atlas/signoffs/sre-lead/sign/"


@pytest.fixture
def vp(launch):  # noqa: F811
    return _person(launch, "vera", duty=Duty.SIGNER, role=Role.objects.get(key="vp-engineering"))


@pytest.fixture
def sre(launch):  # noqa: F811
    return _person(launch, "sam", duty=Duty.SIGNER, role=Role.objects.get(key="sre-lead"))


def _page(client, user, url) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _attention_row(page: str, key: str) -> str:
    part = page[page.index("Gates needing attention") :]
    start = part.index(f'/gates/{key}/"')
    return part[part.rindex("<tr>", 0, start) : part.index("</tr>", start)]


def _evidence_row(page: str, name: str) -> str:
    part = page[page.index("The evidence in your scope") :]
    start = part.index(name)
    return part[part.rindex("<tr>", 0, start) : part.index("</tr>", start)]


def _gate(launch, key: str) -> Gate:  # noqa: F811
    return Gate.objects.get(launch=launch, key=key)


def test_a_status_change_shows_at_once_on_the_overview_and_the_sign_page(client, vp, launch):  # noqa: F811
    assert "status-pending" in _attention_row(_page(client, vp, OVERVIEW), "coverage")
    assert "status-pending" in _evidence_row(_page(client, vp, SIGN_VP), "Coverage")
    record_reading(gate=_gate(launch, "coverage"), reading=Reading(value=Decimal(50)), actor="t")
    overview = _page(client, vp, OVERVIEW)
    assert "status-failing" in _attention_row(overview, "coverage")
    start = overview.index('class="blockers"')
    blockers = overview[start : overview.index("</ul>", start)]
    assert 'status-failing">failing</span> <a href="/launches/atlas/gates/coverage/"' in blockers
    assert "status-failing" in _evidence_row(_page(client, vp, SIGN_VP), "Coverage")


def test_an_ingested_report_shows_at_once(client, vp, launch):  # noqa: F811
    before = (_page(client, vp, OVERVIEW), _page(client, vp, SIGN_VP))
    data = sorted(COBERTURA.glob("*.xml"))[0].read_bytes()
    ingest_report(launch=launch, data=data, format="cobertura", gate_key="coverage",
                  name="coverage.xml", actor="test")  # fmt: skip
    overview, sign = _page(client, vp, OVERVIEW), _page(client, vp, SIGN_VP)
    assert "status-pending" in _evidence_row(before[1], "Coverage")
    assert "status-pending" not in _evidence_row(sign, "Coverage")
    assert _gate(launch, "coverage").latest_evidence[:12] in sign
    assert overview.count("status-pending") < before[0].count("status-pending")


def test_an_attestation_shows_at_once(client, sre, launch):  # noqa: F811
    assert "runbooks" in _page(client, sre, OVERVIEW).split("Gates needing attention")[1]
    assert "status-pending" in _evidence_row(_page(client, sre, SIGN_SRE), "Runbooks")
    attest(gate=_gate(launch, "runbooks"), user=sre, comment="done")
    # Passing: out of the gates needing attention, and passing in the signer's scope.
    assert (
        "/gates/runbooks/" not in _page(client, sre, OVERVIEW).split("Gates needing attention")[1]
    )
    assert "status-passing" in _evidence_row(_page(client, sre, SIGN_SRE), "Runbooks")


def test_a_waiver_shows_at_once(client, vp, sre, launch):  # noqa: F811
    gate = _gate(launch, "runbooks")
    record_reading(gate=gate, reading=Reading(value=Decimal(0)), actor="test")
    assert "status-failing" in _attention_row(_page(client, sre, OVERVIEW), "runbooks")
    assert "status-failing" in _evidence_row(_page(client, sre, SIGN_SRE), "Runbooks")
    request_waiver(gate=gate, user=sre, reason="drill next week",
                   expires_at=timezone.now() + timedelta(days=2))  # fmt: skip
    overview = _page(client, sre, OVERVIEW)
    assert "status-waived" in _attention_row(overview, "runbooks")
    assert 'id="waivers"' in overview
    assert "status-waived" in _evidence_row(_page(client, sre, SIGN_SRE), "Runbooks")


def test_people_of_other_roles_see_only_their_own_links_on_the_overview(client, vp, sre):
    # Each first after the other: what one may follow is never served from the other's page.
    for _ in range(2):
        as_vp, as_sre = _page(client, vp, OVERVIEW), _page(client, sre, OVERVIEW)
        assert "/gates/coverage/waive/" in as_vp and "/gates/coverage/waive/" not in as_sre
        assert "/gates/runbooks/attest/" in as_sre and "/gates/runbooks/attest/" not in as_vp
        assert "Sign out vera@example.com" in as_vp and "sam@example.com" not in as_vp
        assert "Sign out sam@example.com" in as_sre and "vera@example.com" not in as_sre


def test_the_program_manager_is_offered_to_waive_every_blocking_gate(client, vp, sre, launch):  # noqa: F811
    """may_waive: a holder of a role covering the gate, or the program manager; the link on the
    overview follows it, and the program manager's is served to nobody else."""
    pat = _person(launch, "pat", duty=Duty.PROGRAM_MANAGER)

    def blocking(page: str) -> tuple[list[str], list[str]]:
        """(the blocking gates listed, those with a waive link)."""
        listed = page.split("What blocks the launch")[1].split("</ul>")[0]
        return (re.findall(r'/gates/([\w-]+)/">', listed),
                re.findall(r"/gates/([\w-]+)/waive/", listed))  # fmt: skip

    for _ in range(2):
        gates, waivable = blocking(_page(client, pat, OVERVIEW))
        assert "coverage" in gates and waivable == gates
        gates, waivable = blocking(_page(client, sre, OVERVIEW))
        assert "coverage" in gates and "coverage" not in waivable


def test_who_produced_the_evidence_is_judged_per_person_on_the_sign_page(client, sre, launch):  # noqa: F811
    other = _person(launch, "sid", duty=Duty.SIGNER, role=Role.objects.get(key="sre-lead"))
    attest(gate=_gate(launch, "runbooks"), user=sre, comment="done")
    for _ in range(2):
        as_sre, as_other = _page(client, sre, SIGN_SRE), _page(client, other, SIGN_SRE)
        assert 'id="separation-of-duties"' in as_sre
        assert 'id="separation-of-duties"' not in as_other
        scope = as_sre[as_sre.index("The evidence in your scope") : as_sre.index("<form")]
        assert (
            scope
            == as_other[as_other.index("The evidence in your scope") : as_other.index("<form")]
        )
