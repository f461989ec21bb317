"""A closed launch is read-only in /admin/ too: root, a superuser, sees Atlas (closed) and its
gates, phases, roles, assignments and tokens, and may change or delete none of them; Zephyr, still
open, stays editable, and nothing new can be put into Atlas through an add form."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.api.models import ApiToken
from apps.api.services import create_api_token
from apps.audit.models import AuditEvent
from apps.gates.models import Gate, PrometheusSource
from apps.launches.models import Activity, Launch, Phase, SequenceStep
from apps.signoffs.models import Assignment, Duty, Role
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    return root


def _launch(spec, slug: str) -> Launch:
    spec["launch"]["slug"] = slug
    launch = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    user = get_user_model().objects.create_user(f"vera-{slug}")
    role = launch.roles.get(key="vp-engineering")
    Assignment.objects.create(launch=launch, user=user, duty=Duty.SIGNER, role=role)
    create_api_token(launch=launch, name="flagger", scopes=["rollout"], actor="test")
    return launch


@pytest.fixture
def atlas(spec):
    launch = _launch(spec, "atlas")
    # closed as close_launch leaves it (the closing itself is tested in test_closure.py)
    Launch.objects.filter(pk=launch.pk).update(closed_at=timezone.now(), closed_by_name="Ada")
    launch.refresh_from_db()
    return launch


@pytest.fixture
def zephyr(spec):
    return _launch(spec, "zephyr")


def _objects(launch: Launch) -> dict[str, object]:
    """One object of each kind the admin lists, by its admin URL's model part."""
    return {
        "launches/launch": launch,
        "launches/phase": Phase.objects.filter(launch=launch).first(),
        "launches/activity": Activity.objects.filter(phase__launch=launch).first(),
        "launches/sequencestep": SequenceStep.objects.filter(launch=launch).first(),
        "gates/gate": Gate.objects.filter(launch=launch).first(),
        "gates/prometheussource": PrometheusSource.objects.filter(launch=launch).first(),
        "signoffs/role": Role.objects.filter(launch=launch).first(),
        "signoffs/assignment": Assignment.objects.filter(launch=launch).first(),
        "api/apitoken": ApiToken.objects.filter(launch=launch).first(),
    }


def _snapshot(launch: Launch) -> dict:
    rows = {kind: obj.__class__.objects.filter(pk=obj.pk).values().get()
            for kind, obj in _objects(launch).items()}  # fmt: skip
    rows["events"] = AuditEvent.objects.count()
    return rows


def test_every_object_of_a_closed_launch_refuses_a_change_or_a_delete_with_403(client, root, atlas):
    before = _snapshot(atlas)
    for kind, obj in _objects(atlas).items():
        url = f"/admin/{kind}/{obj.pk}/"
        page = client.get(f"{url}change/")
        assert page.status_code == 200, kind  # still shown
        assert 'type="submit" value="Save"' not in page.content.decode(), kind
        assert client.post(f"{url}change/", {"name": "Changed", "status": "go"}).status_code == 403
        assert client.get(f"{url}delete/").status_code == 403, kind
        assert client.post(f"{url}delete/", {"post": "yes"}).status_code == 403, kind
    assert _snapshot(atlas) == before


def test_the_bulk_delete_of_a_closed_launchs_gates_is_refused(client, root, atlas):
    gates = list(Gate.objects.filter(launch=atlas).values_list("pk", flat=True))
    response = client.post("/admin/gates/gate/", {
        "action": "delete_selected", "_selected_action": gates, "post": "yes"})  # fmt: skip
    assert response.status_code == 403
    assert Gate.objects.filter(launch=atlas).count() == len(gates)


def test_the_closed_launchs_page_offers_no_inline_row_to_add_or_change(client, root, atlas, zephyr):
    html = client.get(f"/admin/launches/launch/{atlas.pk}/change/").content.decode()
    assert "Build" in html  # its phases are listed
    assert 'name="phases-0-name"' not in html
    assert 'name="phases-MAX_NUM_FORMS" value="0"' in html  # no row may be added
    html = client.get(f"/admin/launches/launch/{zephyr.pk}/change/").content.decode()
    assert 'name="phases-0-name"' in html
    assert 'name="phases-MAX_NUM_FORMS" value="1000"' in html


def test_an_open_launch_stays_editable_and_add_forms_offer_only_open_launches(
    client, root, atlas, zephyr
):
    phase = Phase.objects.get(launch=zephyr, code="1")
    html = client.get(f"/admin/launches/phase/{phase.pk}/change/").content.decode()
    assert f'<option value="{zephyr.pk}" selected>' in html
    assert f'<option value="{atlas.pk}"' not in html  # nothing is moved into a closed launch
    form = {"launch": zephyr.pk, "code": "1", "name": "Build and harden", "start_week": 1,
            "end_week": 2, "order": 0}  # fmt: skip
    assert client.post(f"/admin/launches/phase/{phase.pk}/change/", form).status_code == 302
    phase.refresh_from_db()
    assert phase.name == "Build and harden"

    form["launch"] = atlas.pk  # posting a closed launch's key anyway
    response = client.post("/admin/launches/phase/add/", {**form, "code": "9"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not Phase.objects.filter(launch=atlas, code="9").exists()

    assert client.post(f"/admin/launches/phase/{phase.pk}/delete/", {"post": "yes"}).status_code \
        == 302  # fmt: skip
    assert not Phase.objects.filter(pk=phase.pk).exists()
