"""Reading a launch through the API with a `read` token: lists, filters, pages, query counts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.gates.models import Gate, Measurement
from apps.gates.services import Reading, record_reading
from apps.signoffs.models import Role, SignOff
from apps.signoffs.services import record_decision, sign_off
from apps.signoffs.snapshot import take_snapshot
from tests.api.conftest import API, bearer
from tests.waivers import standing_waiver

pytestmark = pytest.mark.django_db
ATLAS = f"{API}atlas/"


@pytest.fixture
def reader(make_token):
    return bearer(make_token("read"))


def read(key: str, value, at=None) -> None:
    gate = Gate.objects.get(launch__slug="atlas", key=key)
    record_reading(gate=gate, reading=Reading(value=Decimal(value)), actor="test", at=at)


def get(client, url, headers, **params):
    response = client.get(url, params, headers=headers)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_launch_list_holds_only_the_tokens_launch(client, launch, other, reader):
    body = get(client, API, reader)
    assert body["count"] == 1
    assert [row["slug"] for row in body["results"]] == ["atlas"]
    one = get(client, ATLAS, reader)
    assert (one["name"], one["version"], one["status"]) == ("Atlas", "2.0.0", "planning")


def test_launches_filter_by_status(client, launch, reader):
    assert get(client, API, reader, status="planning")["count"] == 1
    assert get(client, API, reader, status="launched")["count"] == 0
    response = client.get(API, {"status": "sideways"}, headers=reader)
    assert response.status_code == 400
    assert "status" in response.json()


def test_phases_carry_their_activities(client, launch, reader):
    body = get(client, f"{ATLAS}phases/", reader)
    assert [(p["code"], [a["name"] for a in p["activities"]]) for p in body["results"]] == [
        ("1", ["Cluster", "Pipelines"]),
        ("2", []),
    ]


def test_activities_filter_by_phase_status_and_owner(client, launch, reader):
    url = f"{ATLAS}activities/"
    assert [a["name"] for a in get(client, url, reader, status="done")["results"]] == ["Cluster"]
    assert [a["name"] for a in get(client, url, reader, owner="platf")["results"]] == ["Pipelines"]
    assert get(client, url, reader, phase="2")["count"] == 0
    activity = get(client, url, reader, status="todo")["results"][0]
    assert get(client, f"{url}{activity['id']}/", reader)["name"] == "Pipelines"


def test_gates_show_their_current_status_and_filter_by_it(client, launch, reader):
    read("coverage", "91")
    read("availability", "98")
    body = get(client, f"{ATLAS}gates/", reader)
    statuses = {g["key"]: (g["status"], g["value"]) for g in body["results"]}
    assert statuses == {
        "availability": ("failing", "98.000000"),
        "coverage": ("passing", "91.000000"),
        "runbooks": ("pending", None),
    }
    passing = get(client, f"{ATLAS}gates/", reader, status="passing")
    assert [g["key"] for g in passing["results"]] == ["coverage"]
    assert get(client, f"{ATLAS}gates/", reader, category="slo")["count"] == 1
    assert client.get(f"{ATLAS}gates/", {"status": "green"}, headers=reader).status_code == 400


def test_stale_evidence_reads_unknown_never_passing(client, launch, reader):
    read("coverage", "95", at=timezone.now() - timedelta(days=2))  # max_age is 1d
    gate = get(client, f"{ATLAS}gates/coverage/", reader)
    assert gate["status"] == "unknown"
    assert "stale" in gate["status_reason"]


def _listed(client, headers, **params) -> dict:
    return {g["key"]: g for g in get(client, f"{ATLAS}gates/", headers, **params)["results"]}


def test_the_gate_list_is_cached_yet_a_reading_shows_at_once(client, launch, reader):
    read("coverage", "95")
    assert _listed(client, reader)["coverage"]["status"] == "passing"
    with CaptureQueriesContext(connection) as ctx:
        _listed(client, reader)
    assert not any("gates_gate" in q["sql"] for q in ctx.captured_queries)  # from the cache

    read("coverage", "50")  # below the threshold

    assert _listed(client, reader)["coverage"]["status"] == "failing"
    assert list(_listed(client, reader, status="failing")) == ["coverage"]  # filters: own entry


def test_cached_gates_go_unknown_when_their_evidence_ages_without_any_write(
    client, launch, reader, monkeypatch
):
    read("coverage", "95")
    assert _listed(client, reader)["coverage"]["status"] == "passing"
    later = timezone.now() + timedelta(days=2)  # max_age is 1d
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert _listed(client, reader)["coverage"]["status"] == "unknown"


def test_the_cached_list_is_paged_per_request(client, launch, reader):
    keys = list(_listed(client, reader))
    first = get(client, f"{ATLAS}gates/", reader, page_size=1)
    second = get(client, f"{ATLAS}gates/", reader, page_size=1, page=2)
    assert first["count"] == len(keys)
    assert [first["results"][0]["key"], second["results"][0]["key"]] == keys[:2]
    assert "page=2" in first["next"]


def test_a_waived_gate_says_until_when(client, launch, people, reader):
    read("coverage", "60")
    gate = Gate.objects.get(launch=launch, key="coverage")
    until = timezone.now() + timedelta(days=3)
    standing_waiver(gate, requested_by=people["vera"], approved_by=people["ada"],
                    reason="flaky suite", expires_at=until)  # fmt: skip
    body = get(client, f"{ATLAS}gates/coverage/", reader)
    assert body["status"] == "waived"
    assert body["waiver"]["reason"] == "flaky suite"
    waivers = get(client, f"{ATLAS}waivers/", reader, active="true")
    assert [(w["gate"], w["active"]) for w in waivers["results"]] == [("coverage", True)]
    assert get(client, f"{ATLAS}waivers/", reader, active="false")["count"] == 0


def test_measurements_of_a_gate_in_a_time_range(client, launch, reader):
    now = timezone.now()
    for hours, value in ((30, "70"), (20, "80"), (10, "90")):
        read("coverage", value, at=now - timedelta(hours=hours))
    url = f"{ATLAS}gates/coverage/measurements/"
    assert [m["value"] for m in get(client, url, reader)["results"]] == [
        "90.000000",
        "80.000000",
        "70.000000",
    ]
    window = {"since": (now - timedelta(hours=25)).isoformat(),
              "until": (now - timedelta(hours=15)).isoformat()}  # fmt: skip
    assert [m["value"] for m in get(client, url, reader, **window)["results"]] == ["80.000000"]
    bad = client.get(url, {"since": "yesterday"}, headers=reader)
    assert bad.status_code == 400 and "since" in bad.json()
    assert client.get(f"{ATLAS}gates/nope/measurements/", headers=reader).status_code == 404


def test_pages_are_bounded_and_numbered(client, launch, reader):
    gate = Gate.objects.get(launch=launch, key="coverage")
    now = timezone.now()
    Measurement.objects.bulk_create(
        Measurement(gate=gate, status="passing", value=90, evaluated_at=now - timedelta(minutes=i))
        for i in range(230)
    )
    url = f"{ATLAS}gates/coverage/measurements/"
    first = get(client, url, reader)
    assert (first["count"], len(first["results"])) == (230, 50)
    assert "page=2" in first["next"]
    big = get(client, url, reader, page_size=1000)
    assert len(big["results"]) == 200  # the most one page holds
    last = get(client, url, reader, page_size=200, page=2)
    assert (len(last["results"]), last["next"]) == (30, None)
    assert client.get(url, {"page": 9}, headers=reader).status_code == 404


def test_roles_with_their_current_signoff_and_the_signoff_history(client, launch, people, reader):
    role = Role.objects.select_related("launch").get(launch=launch, key="vp-engineering")
    digest = take_snapshot(role, timezone.now()).digest
    sign_off(role=role, user=people["vera"], decision="reject", comment="coverage too low",
             conditions=[], digest_seen=digest, previous_id=None)  # fmt: skip
    roles = {r["key"]: r for r in get(client, f"{ATLAS}roles/", reader)["results"]}
    assert roles["vp-engineering"]["signoff"]["decision"] == "reject"
    assert roles["sre-lead"]["signoff"] is None
    signoffs = get(client, f"{ATLAS}signoffs/", reader, role="vp-engineering", valid="true")
    assert [(s["printed_name"], s["digest"]) for s in signoffs["results"]] == [("Vera", digest)]
    assert get(client, f"{ATLAS}signoffs/", reader, decision="approve")["count"] == 0


def test_decisions(client, launch, people, reader):
    record_decision(launch=launch, user=people["vera"], decision="no-go",
                    attendees="Pat, Vera", notes="coverage")  # fmt: skip
    body = get(client, f"{ATLAS}decisions/", reader)
    rows = [(d["decision"], d["recommendation"], d["decided_by_name"]) for d in body["results"]]
    assert rows == [("no-go", "no-go", "Vera")]
    assert get(client, f"{ATLAS}decisions/", reader, decision="go")["count"] == 0


def test_the_audit_log_for_an_audit_token(client, launch, make_token):
    auditor = bearer(make_token("audit"))
    body = get(client, f"{ATLAS}audit/", auditor, action="launch.")
    assert body["count"] >= 1
    assert all(e["action"].startswith("launch.") for e in body["results"])
    sequences = [e["sequence"] for e in get(client, f"{ATLAS}audit/", auditor)["results"]]
    assert sequences == sorted(sequences, reverse=True)


LISTS = ["", "atlas/", "atlas/phases/", "atlas/activities/", "atlas/gates/",
         "atlas/gates/coverage/", "atlas/gates/coverage/measurements/", "atlas/waivers/",
         "atlas/roles/", "atlas/signoffs/", "atlas/decisions/", "atlas/audit/"]  # fmt: skip


def _grow(launch, people, rows: int) -> None:
    """More of everything: phases' activities, gates with measurements, waivers, sign-offs."""
    phase = launch.phases.first()
    for i in range(rows):
        phase.activities.create(name=f"Task {rows}-{i}", planned_week=1, order=10 + i)
    for key in ("coverage", "availability"):
        for i in range(rows):
            read(key, str(80 + i))
        gate = Gate.objects.get(launch=launch, key=key)
        standing_waiver(gate, requested_by=people["vera"], approved_by=people["ada"],
                    reason=f"r{rows}", expires_at=timezone.now() + timedelta(days=1))  # fmt: skip
    for i in range(rows):
        record_decision(launch=launch, user=people["vera"], decision="no-go",
                        attendees="Pat", notes=str(i))  # fmt: skip
    role = Role.objects.select_related("launch").get(launch=launch, key="vp-engineering")
    for i in range(rows):
        active = SignOff.objects.filter(role=role).active().first()
        sign_off(role=role, user=people["vera"], decision="reject", comment=f"no {i}",
                 conditions=[], digest_seen=take_snapshot(role, timezone.now()).digest,
                 previous_id=active.pk if active else None)  # fmt: skip


@pytest.mark.parametrize("path", LISTS)
def test_queries_do_not_grow_with_the_rows(client, launch, people, make_token, path,
                                           django_assert_max_num_queries):  # fmt: skip
    headers = bearer(make_token("read", "audit"))
    _grow(launch, people, 2)
    # 8, and 2 more for gates/: its cached rows (apps/gates/rows.py) in the suite's cache, which
    # is a database table (a version read and a fragment read; written once drawn).
    with django_assert_max_num_queries(10 if path.endswith("gates/") else 8) as small:
        get(client, f"{API}{path}", headers)
    _grow(launch, people, 12)
    with django_assert_max_num_queries(len(small.captured_queries)):
        get(client, f"{API}{path}", headers)


@pytest.mark.parametrize(
    ("path", "params"),
    [("audit/", {"page_size": "0"}), ("gates/", {"page_size": "ten"}), ("audit/", {"since": ""}),
     ("audit/", {"until": "soon"}), ("gates/", {"status": "green"}),
     ("activities/", {"planned_week": "1.5"})],
)  # fmt: skip
def test_a_malformed_parameter_is_an_error_not_no_filter(client, launch, make_token, path, params):
    headers = bearer(make_token("read", "audit"))
    response = client.get(f"{ATLAS}{path}", params, headers=headers)
    assert response.status_code == 400
    assert set(params) == set(response.json())


@pytest.mark.parametrize("value", ["", "yes", "null"])
def test_booleans_are_true_or_false(client, launch, reader, value):
    response = client.get(f"{ATLAS}signoffs/", {"valid": value}, headers=reader)
    assert response.status_code == 400
    assert client.get(f"{ATLAS}signoffs/", {"valid": "false"}, headers=reader).status_code == 200


def test_a_reading_serializes_its_gate_alone_and_the_list_reads_as_a_fresh_one(
    client, launch, reader, redis_cache
):
    """The list kept under the version before is updated from the gate read (a cache whose
    counters move in one step: rows.bump(gates=...)); a status change, or a gate joining a
    status filter, draws it whole. Each time, the same as a list drawn from nothing."""
    from django.core.cache import cache

    read("coverage", "90")
    for params in ({}, {"status": "passing"}, {"status": "failing"}):
        _listed(client, reader, **params)
        read("coverage", "91")  # passing still: only coverage is loaded again
        with CaptureQueriesContext(connection) as queries:
            kept = _listed(client, reader, **params)
        gate_reads = [q["sql"] for q in queries.captured_queries if 'FROM "gates_gate"' in q["sql"]]
        coverage = Gate.objects.get(launch__slug="atlas", key="coverage")
        assert len(gate_reads) == 1 and f"IN ({coverage.pk})" in gate_reads[0], gate_reads
        cache.clear()
        assert kept == _listed(client, reader, **params)
        read("coverage", "70")  # fails: the whole list again, coverage moves between filters
        kept = _listed(client, reader, **params)
        cache.clear()
        assert kept == _listed(client, reader, **params)
        read("coverage", "90")
