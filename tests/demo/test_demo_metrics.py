"""`make run`'s demo metrics source keeps the demo launch alive without a Prometheus: its gates
are read over HTTP from the portal itself, labelled, and do not decay while nobody touches them."""

import io
import json
import time

import pytest
from django.core.management import call_command

from apps.demo.loader import demo_fate
from apps.demo.metrics import DEMO_INFO, answer
from apps.gates.models import Gate, Measurement, Source

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_source(settings, live_server):
    settings.DEBUG = True
    settings.DEMO_METRICS = True
    settings.PROMETHEUS_URL = f"{live_server.url}/demo/prometheus"
    call_command("load_demo")


def _statuses() -> dict:
    out = io.StringIO()
    call_command("evaluate_gates", "--launch", "llm-research-lab", "--json", stdout=out)
    return {row["key"]: row["status"] for row in json.loads(out.getvalue())}


def test_the_demo_gates_are_read_from_the_demo_source_and_stay_as_the_demo_made_them(demo_source):
    gates = list(Gate.objects.filter(launch__slug="llm-research-lab").active())
    expected = {}
    for index, gate in enumerate(gates):
        if gate.source == Source.PROMETHEUS:
            failing, down = demo_fate(index)
            expected[gate.key] = "unknown" if down else ("failing" if failing else "passing")

    first = _statuses()
    assert {key: first[key] for key in expected} == expected
    assert "passing" in expected.values()
    newest = Measurement.objects.filter(gate__key=next(k for k, v in expected.items()
                                                       if v == "passing")).first()  # fmt: skip
    assert newest.source_detail["infos"] == [DEMO_INFO]

    again = _statuses()  # nobody touches anything: nothing decays
    assert {key: again[key] for key in expected} == expected


def test_the_answers_do_not_cross_a_threshold_over_ten_minutes(demo_source):
    gates = list(Gate.objects.filter(launch__slug="llm-research-lab").active())
    prometheus = [(i, g) for i, g in enumerate(gates) if g.source == Source.PROMETHEUS]
    start = time.time()
    for index, gate in prometheus:
        failing, down = demo_fate(index)
        if down:
            assert answer(gate.query, start)[0] == 503
            continue
        for minute in range(0, 11):
            status, body = answer(gate.query, start + 60 * minute)
            value = body["data"]["result"][0]["value"][1]
            passes = _passes(gate, value)
            assert passes != failing, (gate.key, minute, value)


def _passes(gate, value: str) -> bool:
    from decimal import Decimal

    from apps.gates.rules import compare

    return compare(Decimal(value), gate.comparator, gate.threshold)


def test_the_source_is_labelled_on_the_gate_page(demo_source, admin_client):
    gate = Gate.objects.filter(launch__slug="llm-research-lab", source=Source.PROMETHEUS).first()
    page = admin_client.get(f"/launches/llm-research-lab/gates/{gate.key}/").content.decode()
    assert "demo source" in page
    assert "demo source" in admin_client.get("/launches/llm-research-lab/gates/").content.decode()


def test_the_source_is_off_unless_the_demo_asks(settings, client):
    settings.DEMO_METRICS = False
    assert client.get("/demo/prometheus/api/v1/query?query=up").status_code == 404
