"""The one door to a launch (portal/launch_access.py), told with a signer, an admin, staff and an
outsider: who gets the launch, who gets 404 or 403, and that each answer costs one query."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.http import Http404
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.services import record
from apps.launches.models import Launch
from apps.signoffs.models import Assignment, Duty, Role
from apps.signoffs.permissions import permissions_for
from apps.specs.services import import_launch_spec
from portal.launch_access import get_launch_for_admin, get_launch_for_user
from tests.helpers import to_yaml

pytestmark = pytest.mark.django_db


@pytest.fixture
def launch(spec):
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


def _person(name, launch=None, **assignment):
    user = get_user_model().objects.create_user(name, f"{name}@example.com", "pw")
    if launch is not None:
        Assignment.objects.create(launch=launch, user=user, **assignment)
    return user


@pytest.fixture
def signer(launch):
    return _person("sam", launch, duty=Duty.SIGNER, role=Role.objects.get(key="sre-lead"))


@pytest.fixture
def admin(launch):
    return _person("ada", launch, duty=Duty.ADMIN)


@pytest.fixture
def staff():
    user = _person("stella")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def outsider():
    return _person("olga")


def _request(user):
    request = RequestFactory().get("/")
    request.user = get_user_model().objects.get(pk=user.pk)  # loaded, as the auth middleware has it
    return request


def _one_query(door, *args, **kwargs):
    """What `door` answers, asserting it asked the database once."""
    with CaptureQueriesContext(connection) as ctx:
        try:
            answer = door(*args, **kwargs)
        except (Http404, PermissionDenied) as refusal:
            answer = type(refusal)
    assert len(ctx.captured_queries) == 1, [q["sql"] for q in ctx.captured_queries]
    return answer


def _as_admin(user, launch):
    return _one_query(get_launch_for_admin, _request(user), launch.slug, managing="webhooks")


def test_a_signer_gets_the_launch_in_one_query(launch, signer):
    assert _one_query(get_launch_for_user, _request(signer), launch.slug) == launch


def test_an_outsider_is_told_the_launch_does_not_exist(launch, outsider):
    assert _one_query(get_launch_for_user, _request(outsider), launch.slug) is Http404
    assert _as_admin(outsider, launch) is Http404


def test_only_admins_and_staff_get_the_launch_as_its_admin(launch, signer, admin, staff):
    # The launch, its visibility and whether the person administers it: one query.
    assert _as_admin(admin, launch) == launch
    assert _as_admin(staff, launch) == launch
    assert _as_admin(signer, launch) is PermissionDenied


def test_a_revoked_admin_no_longer_administers(launch, admin):
    Assignment.objects.filter(user=admin).update(revoked_at="2000-01-01T00:00Z")

    assert _as_admin(admin, launch) is Http404


def test_a_launch_page_loads_the_person_and_the_launch_once(client, launch, signer):
    """The gates page of a signed-in person: the session comes from the cache, the user is
    loaded once, and the launch with its visibility check is one query."""
    client.force_login(signer)
    client.get(f"/launches/{launch.slug}/gates/")
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/launches/{launch.slug}/gates/")

    assert response.status_code == 200
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not [q for q in sql if "django_session" in q]  # cached_db: read from the cache
    assert len([q for q in sql if 'FROM "auth_user"' in q]) == 1
    launches = [q for q in sql if 'FROM "launches_launch"' in q]
    assert len(launches) == 1 and "signoffs_assignment" in launches[0]


def _get(user, method: str = "get"):
    """A request of `user`, to a page that decides what they may do."""
    request = getattr(RequestFactory(), method)("/")
    request.user = get_user_model().objects.get(pk=user.pk)
    return request


def test_what_a_person_may_do_is_decided_from_the_holdings_read_with_the_launch(
    launch, signer, admin, staff
):
    """A page being read gets the launch and the person's holdings in one query, and
    permissions_for() decides from them as it does from its own query; not for anyone else,
    not at another moment, and not on a write (which asks again)."""
    for person in (signer, admin, staff):
        door = get_launch_for_user(_get(person), launch.slug, deciding=True)
        with CaptureQueriesContext(connection) as ctx:
            carried = permissions_for(person, door)
        assert carried == permissions_for(person, Launch.objects.get(pk=launch.pk))
        assert len(ctx.captured_queries) == (1 if person is staff else 0), person

    door = get_launch_for_user(_get(signer), launch.slug, deciding=True)
    with CaptureQueriesContext(connection) as ctx:
        assert permissions_for(admin, door).admin  # another person's: asked
        assert permissions_for(signer, door, now=timezone.now()).waivable  # another moment
    assert len(ctx.captured_queries) == 2

    shown = get_launch_for_user(_get(signer), launch.slug)  # a page that decides nothing
    with CaptureQueriesContext(connection) as ctx:
        assert permissions_for(signer, shown) == permissions_for(signer, door)
    assert len(ctx.captured_queries) == 1

    written = get_launch_for_user(_get(signer, "post"), launch.slug, deciding=True)
    Assignment.objects.filter(user=signer).update(revoked_at=timezone.now())
    assert permissions_for(signer, written).waivable == set()  # asked again: none held now


def test_the_launch_comes_with_its_record_version_for_staff_and_holders(launch, signer, staff):
    """The overview's launch carries the head of its record (with_record_version()) in the same
    one query, and it moves with the record."""
    before = Launch.objects.with_record_version().get(pk=launch.pk).record_version
    for person in (signer, staff):
        for deciding in (True, False):
            door = _one_query(get_launch_for_user, _get(person), launch.slug,
                              record_version=True, deciding=deciding)  # fmt: skip
            assert door.record_version == before

    with transaction.atomic():
        record(actor="test", action="role.assigned", launch_slug=launch.slug)

    moved = get_launch_for_user(
        _get(signer), launch.slug, record_version=True, deciding=True
    ).record_version
    assert moved != before
    assert moved == Launch.objects.with_record_version().get(pk=launch.pk).record_version
