"""The admin is a superuser's door around the pages' services: whatever it saves or deletes for
a launch (a gate's rule, a launch's settings, a phase edited inline) is an event of the
launch's audit chain with the fields changed, old and new, and the pages' cached gate rows show
the change at once (portal/admin.py AuditedLaunchObjects)."""

import re
from decimal import Decimal
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.audit.models import AuditEvent
from apps.gates.models import Gate
from apps.launches.models import Launch, Phase
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml

pytestmark = pytest.mark.django_db


@pytest.fixture
def launch(spec):
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


@pytest.fixture
def root(client):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    return root


def _form(client, url: str) -> dict:
    """The admin form's fields as the page fills them in (what a browser would send back)."""
    html = client.get(url).content.decode()
    data: dict = {}
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or name[1] in ("csrfmiddlewaretoken",):
            continue
        kind = re.search(r'type="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if kind and kind[1] == "submit":
            continue
        if kind and kind[1] == "checkbox":
            if "checked" in tag:
                data[name[1]] = "on"
        elif tag.startswith("<select"):
            start = html.index(tag)
            chosen = re.search(
                r'<option value="([^"]*)"[^>]*selected',
                html[start : html.index("</select>", start)],
            )
            data[name[1]] = unescape(chosen[1]) if chosen else ""
        elif tag.startswith("<textarea"):
            start = html.index(tag) + len(tag)
            data[name[1]] = unescape(html[start : html.index("</textarea>", start)])
        else:
            data[name[1]] = unescape(value[1]) if value else ""
    return data


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("sequence"))


def test_a_gate_changed_in_the_admin_is_audited_and_its_row_shows_it_at_once(client, root, launch):
    gate = Gate.objects.get(launch=launch, key="coverage")
    rows = client.get("/launches/atlas/gates/", headers={"HX-Request": "true"}).content.decode()
    assert ">Coverage<" in rows  # drawn, and now in the cache
    url = f"/admin/gates/gate/{gate.pk}/change/"
    form = _form(client, url)
    form.update(name="Line coverage", threshold="80")

    response = client.post(url, form)
    assert response.status_code == 302, response.context["adminform"].form.errors

    gate.refresh_from_db()
    assert gate.threshold == Decimal(80)
    [event] = _events("admin.gate.changed")
    assert (event.launch_slug, event.actor_name, event.object_key) == (
        "atlas",
        "root",
        str(gate.pk),
    )
    assert event.data["fields"]["threshold"][1] == "80"
    assert event.data["fields"]["name"] == ["Coverage", "Line coverage"]
    rows = client.get("/launches/atlas/gates/", headers={"HX-Request": "true"}).content.decode()
    assert "Line coverage" in rows and ">Coverage<" not in rows


def test_a_launchs_settings_and_inline_phases_changed_in_the_admin_are_audited(
    client, root, launch
):
    url = f"/admin/launches/launch/{launch.pk}/change/"
    form = _form(client, url)
    form["waiver_max_days"] = "90"
    form["phases-0-name"] = "Build and harden"

    response = client.post(url, form)
    assert response.status_code == 302, response.context["adminform"].form.errors

    launch.refresh_from_db()
    assert launch.waiver_max_days == 90
    [changed] = _events("admin.launch.changed")
    assert changed.data["fields"]["waiver_max_days"][1] == 90
    [phase] = _events("admin.phase.changed")
    assert phase.data["fields"]["name"][1] == "Build and harden"
    assert Phase.objects.filter(launch=launch, name="Build and harden").exists()
    call_command("verify_audit")  # the chain holds with the admin's events in it


def test_gates_deleted_in_the_admin_leave_an_event_each(client, root, launch):
    keys = dict(Gate.objects.filter(launch=launch).values_list("pk", "key")[:2])
    response = client.post("/admin/gates/gate/", {
        "action": "delete_selected", "_selected_action": list(keys), "post": "yes"})  # fmt: skip

    assert response.status_code == 302
    deleted = _events("admin.gate.deleted")
    assert sorted(int(e.object_key) for e in deleted) == sorted(keys)
    assert {e.launch_slug for e in deleted} == {"atlas"}


def test_a_refused_admin_form_records_nothing(client, root, launch):
    gate = Gate.objects.get(launch=launch, key="coverage")
    url = f"/admin/gates/gate/{gate.pk}/change/"
    form = _form(client, url)
    before = AuditEvent.objects.count()
    form["threshold"] = "not a number"

    assert client.post(url, form).status_code == 200  # the form again, with its error
    assert AuditEvent.objects.count() == before
    assert Launch.objects.get(pk=launch.pk).gates.get(key="coverage").threshold == gate.threshold
