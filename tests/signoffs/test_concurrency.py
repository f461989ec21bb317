"""Concurrent signing on PostgreSQL, with threads (RELIABILITY case 11)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import verify
from apps.signoffs.models import Role, SignOff
from apps.signoffs.services import SigningRefused, sign_off, update_readiness
from apps.signoffs.snapshot import take_snapshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("needs_postgresql")]


def _in_threads(count: int, work) -> list:
    """Run work(i) in `count` threads released together; return results or exceptions."""
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait()
        try:
            return work(i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def _sign(role_key: str, user, digest: str):
    role = Role.objects.select_related("launch").get(key=role_key)
    return sign_off(role=role, user=user, decision="approve", comment="", conditions=[],
                    digest_seen=digest, previous_id=None)  # fmt: skip


def test_20_concurrent_submissions_for_one_role_leave_one_active_signoff(people, all_passing):
    role = Role.objects.get(key="vp-engineering")
    digest = take_snapshot(role, timezone.now()).digest
    results = _in_threads(20, lambda i: _sign("vp-engineering", people["vera"], digest))
    signed = [r for r in results if isinstance(r, SignOff)]
    refused = [r for r in results if isinstance(r, SigningRefused)]
    assert len(signed) == 1 and len(refused) == 19, results
    assert {r.status for r in refused} == {409}
    assert SignOff.objects.filter(role=role, superseded_at__isnull=True).count() == 1
    assert verify() is None


def test_the_last_two_roles_sign_at_once_and_the_launch_becomes_ready_once(
    people, all_passing, launch
):
    digests = {k: take_snapshot(Role.objects.get(key=k), timezone.now()).digest
               for k in ("vp-engineering", "sre-lead")}  # fmt: skip
    signers = [("vp-engineering", people["vera"]), ("sre-lead", people["sam"])]
    results = _in_threads(2, lambda i: _sign(signers[i][0], signers[i][1], digests[signers[i][0]]))
    assert all(isinstance(r, SignOff) for r in results), results
    # on_commit ran readiness in each thread; once more, as a late worker would, changes nothing.
    update_readiness(launch_id=launch.pk)
    assert AuditEvent.objects.filter(action="launch.ready").count() == 1
    assert verify() is None


def test_20_parallel_signers_of_different_roles_keep_the_chain_whole(people, all_passing, launch):
    from django.contrib.auth import get_user_model

    from apps.signoffs.models import Assignment, Duty

    roles = [Role.objects.create(launch=launch, key=f"r{i}", name=f"Role {i}", scope="Scope",
                                 categories=["quality"]) for i in range(20)]  # fmt: skip
    users = []
    for i, role in enumerate(roles):
        user = get_user_model().objects.create_user(f"signer{i}", password="pw")
        Assignment.objects.create(launch=launch, user=user, duty=Duty.SIGNER, role=role)
        users.append(user)
    digests = [take_snapshot(role, timezone.now()).digest for role in roles]
    results = _in_threads(20, lambda i: _sign(f"r{i}", users[i], digests[i]))
    assert all(isinstance(r, SignOff) for r in results), results
    assert AuditEvent.objects.filter(action="signoff.signed").count() == 20
    assert verify() is None
