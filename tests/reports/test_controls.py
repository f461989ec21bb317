"""The SOC2 controls page and /verify/'s discretion: what each person may see."""

import io

import pytest
from django.urls import reverse

from apps.gates.models import Gate
from apps.reports.exports.controls import control_map, criterion_order
from apps.reports.packets.store import build_packet
from tests.reports.conftest import approve_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def mapped(atlas):
    Gate.objects.filter(launch=atlas, key="coverage").update(controls=["CC8.1", "CC7.2"])
    Gate.objects.filter(launch=atlas, key="availability").update(controls=["A1.2", "CC7.2"])
    return atlas


def test_criteria_sort_by_letters_then_numbers():
    codes = ["CC10.1", "A1.2", "CC7.2", "CC2.1", "A1.10", "P4.3"]
    assert sorted(codes, key=criterion_order) == [
        "A1.2",
        "A1.10",
        "CC2.1",
        "CC7.2",
        "CC10.1",
        "P4.3",
    ]


def test_control_map_groups_gates_per_criterion_with_their_cover(mapped):
    from django.utils import timezone

    approve_all(mapped, printed_name="Vera Example")
    mapping = control_map(mapped, timezone.now())
    codes = [c.code for c in mapping.criteria]
    assert codes == ["A1.2", "CC7.2", "CC8.1"]
    cc72 = mapping.criteria[1]
    assert [e.gate.key for e in cc72.gates] == ["availability", "coverage"]
    coverage = next(e for e in cc72.gates if e.gate.key == "coverage")
    assert coverage.measurements == 1 and coverage.gate.status == "passing"
    assert [c.text for c in coverage.coverage] == [
        f"{r.name}: approve by Vera Example (valid)"
        for r in mapped.roles.all()
        if "quality" in r.categories
    ]
    assert [g.key for g in mapping.unmapped] == ["runbooks"]
    assert cc72.title == "System components monitored for anomalies"


def test_a_signer_sees_the_controls_page_with_status_and_signoffs(client, mapped, signer):
    approve_all(mapped, printed_name="Vera Example")
    client.force_login(signer)
    page = client.get(reverse("launches:controls", args=[mapped.slug])).content.decode()
    for text in ("CC8.1", "Change management", "A1.2", "Coverage", "Availability", "Vera Example",
                 "passing", "Gates mapped to no criterion", "Runbooks tested"):  # fmt: skip
        assert text in page, text
    overview = client.get(reverse("launches:packets", args=[mapped.slug])).content.decode()
    assert reverse("launches:controls", args=[mapped.slug]) in overview


def test_the_controls_page_is_hidden_from_an_outsider(client, mapped, django_user_model):
    client.force_login(django_user_model.objects.create_user("nora", password="pw-nora-123"))
    assert client.get(reverse("launches:controls", args=[mapped.slug])).status_code == 404


def test_the_controls_page_takes_the_same_queries_for_100_more_gates(
    client, mapped, signer, django_assert_num_queries
):
    approve_all(mapped)
    client.force_login(signer)
    url = reverse("launches:controls", args=[mapped.slug])
    # session, user, launch (access), gates with newest measurement and waiver, measurement
    # counts, roles, current sign-offs
    with django_assert_num_queries(7):
        assert client.get(url).status_code == 200
    template = Gate.objects.get(launch=mapped, key="coverage")
    for i in range(100):
        template.pk, template.key, template.controls = None, f"extra-{i}", [f"CC{i % 9 + 1}.1"]
        template.save()
    with django_assert_num_queries(7):
        page = client.get(url).content.decode()
    assert "extra-99" in page and "CC9.1" in page


# --- /verify/ answers whoever holds the document; the way in only to who may see it -------------


def test_verify_links_the_launch_only_to_someone_who_may_see_it(client, atlas, signer, media):
    packet = build_packet(launch=atlas, actor=signer)
    url = reverse("verify")
    packets_page = reverse("launches:packets", args=[atlas.slug])
    client.force_login(signer)
    page = client.post(url, {"sha256": packet.sha256}).content.decode()
    assert "Issued by this portal" in page and "Atlas" in page and "latest packet" in page
    assert packets_page in page

    from django.contrib.auth import get_user_model

    nora = get_user_model().objects.create_user("nora", password="pw-nora-123")
    client.force_login(nora)
    pdf = (media / packet.path).read_bytes()
    for answer in (
        client.post(url, {"sha256": packet.sha256}),
        client.post(url, {"file": io.BytesIO(pdf)}, format="multipart"),
    ):
        page = answer.content.decode()
        # What the packet itself carries (launch, version, kind), never who asked for it.
        assert "Issued by this portal" in page and "Atlas" in page and packet.status in page
        assert packets_page not in page and "vera" not in page.lower()
