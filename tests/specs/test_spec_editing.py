"""The plan edited as code from the browser. ada administers Atlas: she downloads its spec,
uploads a changed one, reads the preview and applies it or walks away. pat, its program manager,
may not; nora sees nothing of it; sam (staff) imports a new launch and runs it until he hands it
on."""

import copy
import hashlib
from decimal import Decimal

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.gates.models import Gate
from apps.launches.models import Launch
from apps.signoffs.models import Assignment, Duty, Role
from apps.specs.services import export_launch_spec, import_launch_spec
from apps.specs.spec import MAX_SPEC_BYTES, parse_spec
from apps.specs.spec_changes import ADDED, CHANGED, RETIRED, FieldChange, diff_specs
from tests.helpers import MINIMAL_SPEC, to_yaml

pytestmark = pytest.mark.django_db

LATENCY = {
    "key": "latency", "name": "p99 latency", "category": "slo", "dimension": "technical",
    "blocking": True, "source": "prometheus", "prometheus": "prod", "comparator": "<=",
    "query": "histogram_quantile(0.99, rate(http_seconds_bucket[5m]))", "threshold": 0.3,
    "unit": "s",
}  # fmt: skip


def _person(username: str, launch=None, duty=None, **extra):
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw", **extra)
    if duty:
        Assignment.objects.create(launch=launch, user=user, duty=duty)
    return user


@pytest.fixture
def launch(spec):
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


@pytest.fixture
def ada(client, launch):
    client.force_login(_person("ada", launch, Duty.ADMIN))
    return client


@pytest.fixture
def changed(spec) -> str:
    """Atlas with a stricter availability target, a latency gate, and no SRE Lead sign-off."""
    spec["gates"][0]["threshold"] = 99.95
    spec["gates"].append(LATENCY)
    spec["roles"] = spec["roles"][:1]
    return to_yaml(spec)


def _preview(client, text: str, url="/launches/atlas/spec/"):
    return client.post(url, {"spec": text, "preview": "yes"})


def _apply(client, preview, url="/launches/atlas/spec/"):
    p = preview.context["preview"]
    data = {"spec": p.text, "sha256": p.sha256, "base_sha256": p.base_sha256, "apply": "yes"}
    return client.post(url, data)


def _threshold() -> Decimal:
    return Gate.objects.get(key="availability").threshold


def test_the_preview_lists_exactly_what_changes_and_writes_nothing(ada, changed):
    events = AuditEvent.objects.count()
    response = _preview(ada, changed)
    assert response.status_code == 200
    changes = response.context["preview"].changes
    assert [(c.kind, c.key, c.change) for c in changes.changes] == [
        ("gates", "availability", CHANGED), ("gates", "latency", ADDED),
        ("roles", "sre-lead", RETIRED),
    ]  # fmt: skip
    assert changes.find("gates", "availability").fields == (
        FieldChange("threshold", "99.9", "99.95"),
    )
    assert "99.9 → 99.95" in response.content.decode()
    # Walking away (Cancel is a link back): nothing was written.
    assert _threshold() == Decimal("99.9")
    assert not Gate.objects.filter(key="latency").exists()
    assert Role.objects.get(key="sre-lead").retired_at is None
    assert AuditEvent.objects.count() == events


def test_applying_changes_the_launch_and_audits_the_spec_and_its_sha256(ada, changed):
    response = _apply(ada, _preview(ada, changed))
    assert response.status_code == 302
    assert response.url == "/launches/atlas/"
    assert _threshold() == Decimal("99.95")
    assert Gate.objects.filter(key="latency", retired_at__isnull=True).exists()
    assert Role.objects.get(key="sre-lead").retired_at is not None
    event = AuditEvent.objects.filter(action="launch.imported").latest("sequence")
    assert event.actor_name == "ada"
    assert event.data["sha256"] == hashlib.sha256(changed.encode()).hexdigest()
    assert event.data["spec"] == changed


def test_a_program_manager_is_refused_and_an_outsider_sees_nothing(client, launch, changed):
    client.force_login(_person("pat", launch, Duty.PROGRAM_MANAGER))
    for url in ("/launches/atlas/spec/", "/launches/atlas/spec.yaml"):
        assert client.get(url).status_code == 403
    assert _preview(client, changed).status_code == 403
    assert client.get("/launches/import/").status_code == 403
    client.force_login(_person("nora"))
    for url in ("/launches/atlas/spec/", "/launches/atlas/spec.yaml"):
        assert client.get(url).status_code == 404
    assert _preview(client, changed).status_code == 404
    assert _threshold() == Decimal("99.9")


def test_a_bad_spec_shows_every_error_with_its_place_and_changes_nothing(ada, spec):
    spec["gates"][0]["comparator"] = "=>"
    spec["roles"][1]["scope"] = ""
    spec["gates"][1]["threshold"] = 70
    response = _preview(ada, to_yaml(spec))
    assert response.status_code == 400
    page = response.content.decode()
    assert "gates[0].comparator:" in page
    assert "roles[1].scope: must not be empty" in page
    assert len(response.context["errors"]) == 2
    assert Gate.objects.get(key="coverage").threshold == Decimal("85")


def test_an_oversized_upload_is_refused_before_it_is_read(ada):
    big = SimpleUploadedFile("atlas.yaml", b"#" * (MAX_SPEC_BYTES + 1))
    response = ada.post("/launches/atlas/spec/", {"file": big, "preview": "yes"})
    assert response.status_code == 400
    assert f"over the limit of {MAX_SPEC_BYTES:,}" in response.content.decode()
    assert _threshold() == Decimal("99.9")


def test_a_preview_of_a_launch_that_changed_since_is_refused(ada, changed):
    preview = _preview(ada, changed)
    other = copy.deepcopy(MINIMAL_SPEC)
    other["gates"][1]["threshold"] = 80  # someone else's import in between
    import_launch_spec(raw=to_yaml(other), actor="test")
    response = _apply(ada, preview)
    assert response.status_code == 409
    assert "changed since the preview" in response.content.decode()
    assert _threshold() == Decimal("99.9")
    assert Gate.objects.get(key="coverage").threshold == Decimal("80")


def test_applying_another_text_than_the_previewed_one_is_refused(ada, changed):
    preview = _preview(ada, changed)
    p = preview.context["preview"]
    tampered = p.text.replace("99.95", "90")
    response = ada.post(
        "/launches/atlas/spec/",
        {"spec": tampered, "sha256": p.sha256, "base_sha256": p.base_sha256, "apply": "yes"},
    )
    assert response.status_code == 409
    assert _threshold() == Decimal("99.9")


def test_line_ends_a_browser_posts_back_do_not_make_the_spec_another(ada, changed):
    preview = _preview(ada, changed)
    p = preview.context["preview"]
    response = ada.post(
        "/launches/atlas/spec/",
        {
            "spec": p.text.replace("\n", "\r\n"),
            "sha256": p.sha256,
            "base_sha256": p.base_sha256,
            "apply": "yes",
        },
    )
    assert response.status_code == 302
    assert _threshold() == Decimal("99.95")


def test_a_closed_launch_cannot_be_updated(ada, launch, changed):
    Launch.objects.filter(pk=launch.pk).update(closed_at=timezone.now(), closed_by_name="ada")
    assert _preview(ada, changed).status_code == 409
    assert _threshold() == Decimal("99.9")


def test_staff_import_a_new_launch_and_become_its_admin_and_program_manager(client, spec):
    sam = _person("sam", is_staff=True)
    client.force_login(sam)
    spec["launch"]["slug"], spec["launch"]["name"] = "borealis", "Borealis"
    preview = _preview(client, to_yaml(spec), url="/launches/import/")
    assert preview.status_code == 200
    assert preview.context["preview"].changes.find("gates", "availability").change == ADDED
    assert not Launch.objects.filter(slug="borealis").exists()
    response = _apply(client, preview, url="/launches/import/")
    assert response.url == "/launches/borealis/"
    duties = Assignment.objects.current().filter(user=sam, launch__slug="borealis")
    assert sorted(duties.values_list("duty", flat=True)) == [Duty.ADMIN, Duty.PROGRAM_MANAGER]


def test_the_new_launch_page_does_not_update_an_existing_launch(client, launch, changed):
    client.force_login(_person("sam", is_staff=True))
    response = _preview(client, changed, url="/launches/import/")
    assert response.status_code == 400
    assert "exists already" in response.content.decode()


def test_the_downloaded_spec_uploads_back_without_changes(ada):
    download = ada.get("/launches/atlas/spec.yaml")
    assert download["Content-Disposition"] == 'attachment; filename="atlas.yaml"'
    upload = SimpleUploadedFile("atlas.yaml", download.content)
    response = ada.post("/launches/atlas/spec/", {"file": upload, "preview": "yes"})
    assert response.status_code == 200
    assert not response.context["preview"].changes
    assert "No changes" in response.content.decode()


def test_the_overview_links_admins_to_the_plan_as_code(ada):
    assert b"/launches/atlas/spec/" in ada.get("/launches/atlas/").content


# --- the export: block style, in the spec's order, long strings folded, stable ----------------


def test_the_export_is_block_style_in_the_spec_order_and_stable(launch, spec):
    spec["gates"][0]["description"] = "Availability of the public API over the last hour, " * 4
    import_launch_spec(raw=to_yaml(spec), actor="test")
    text = export_launch_spec(Launch.objects.get(slug="atlas"))
    assert text == export_launch_spec(Launch.objects.get(slug="atlas"))
    assert "\ngates:\n- key: availability\n  name: Availability\n" in text
    assert "{" not in text  # no flow-style mappings
    sections = ["launch", "sources", "phases", "gates", "roles", "sequence"]
    assert list(yaml.safe_load(text)) == sections
    assert "description: >-" in text
    exported = yaml.safe_load(text)["gates"][0]["description"]
    assert exported == spec["gates"][0]["description"].strip()


def test_omitted_defaults_compare_equal_to_the_export(launch, spec):
    current = parse_spec(export_launch_spec(launch))
    assert not diff_specs(parse_spec(to_yaml(spec)), current)
