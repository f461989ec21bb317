"""A launch's slug names its audit chain: `portal` (the chain of events without a launch) is
reserved, and a launch's slug never changes once it has events."""

import pytest

from apps.launches.models import Launch
from apps.specs.services import import_launch_spec
from apps.specs.spec import SpecError, parse_spec
from tests.helpers import to_yaml

pytestmark = pytest.mark.django_db


def test_a_spec_cannot_take_the_portal_chain(spec):
    spec["launch"]["slug"] = "portal"
    with pytest.raises(SpecError) as refused:
        parse_spec(to_yaml(spec))
    assert refused.value.errors == [
        "launch.slug: 'portal' is reserved (the audit chain of events without a launch)"
    ]
    with pytest.raises(SpecError):
        import_launch_spec(raw=to_yaml(spec), actor="alice")
    assert not Launch.objects.filter(slug="portal").exists()
    spec["launch"]["slug"] = "import"
    with pytest.raises(SpecError, match="/launches/import/"):
        parse_spec(to_yaml(spec))


def test_the_admin_cannot_add_it_or_rename_a_launch(admin_client, spec):
    form = {"slug": "portal", "name": "P", "version": "1", "status": "planning",
            "target_t0_0": "2027-01-01", "target_t0_1": "09:00:00", "start_date": "2026-10-01",
            "phases-TOTAL_FORMS": "0", "phases-INITIAL_FORMS": "0",
            "sequence-TOTAL_FORMS": "0", "sequence-INITIAL_FORMS": "0"}  # fmt: skip
    page = admin_client.post("/admin/launches/launch/add/", form)
    assert page.status_code == 200 and "is reserved" in page.content.decode()
    assert not Launch.objects.filter(slug="portal").exists()

    launch = import_launch_spec(raw=to_yaml(spec), actor="alice").launch
    change = admin_client.get(f"/admin/launches/launch/{launch.pk}/change/").content.decode()
    assert 'name="slug"' not in change  # shown, not editable
