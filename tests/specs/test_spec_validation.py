"""A refused spec names the place of each problem and changes nothing."""

import copy
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.audit.models import AuditEvent
from apps.gates.models import Gate
from apps.launches.models import Launch
from apps.specs.spec import SpecError, parse_spec
from tests.helpers import to_yaml


def _set(path: str, value):
    """A mutation that sets spec[path] (dotted, with list indexes) to value."""

    def mutate(spec):
        *parents, last = path.split(".")
        node = spec
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value
        return spec

    return mutate


_DELETE = object()


def _append_gate_copy(spec):
    spec["gates"].append(copy.deepcopy(spec["gates"][1]))
    return spec


def _append_role_copy(spec):
    spec["roles"].append(copy.deepcopy(spec["roles"][0]))
    return spec


BAD_SPECS = [
    (
        "bad comparator",
        _set("gates.1.comparator", "=>"),
        "gates[1].comparator: '=>' is not one of <, <=, >, >=, ==, !=",
    ),
    (
        "duplicate gate key",
        _append_gate_copy,
        "gates[3].key: duplicate key 'coverage' (first at [1])",
    ),
    (
        "duplicate role key",
        _append_role_copy,
        "roles[2].key: duplicate key 'vp-engineering' (first at [0])",
    ),
    ("unknown gate field", _set("gates.0.treshold", 1), "gates[0].treshold: unknown field"),
    ("unknown launch field", _set("launch.owner", "me"), "launch.owner: unknown field"),
    ("unknown section", _set("extras", []), "extras: unknown section"),
    ("missing gate key", _set("gates.2.key", _DELETE), "gates[2].key: required field is missing"),
    ("missing launch slug", _set("launch.slug", _DELETE), "launch.slug: required field is missing"),
    ("missing launch", _set("launch", _DELETE), "launch: expected a mapping, got nothing"),
    (
        "unknown source",
        _set("gates.0.source", "jenkins"),
        "gates[0].source: 'jenkins' is not one of prometheus, report, manual",
    ),
    (
        "threshold is text",
        _set("gates.1.threshold", "high"),
        "gates[1].threshold: 'high' is not a number",
    ),
    (
        "threshold is a boolean",
        _set("gates.1.threshold", True),
        "gates[1].threshold: expected a number, got a boolean",
    ),
    (
        "threshold infinite",
        _set("gates.1.threshold", float("inf")),
        "gates[1].threshold: inf is not a finite number",
    ),
    (
        "blocking is text",
        _set("gates.0.blocking", "yes"),
        "gates[0].blocking: expected true or false, got text",
    ),
    (
        "week is text",
        _set("phases.0.start_week", "one"),
        "phases[0].start_week: expected a whole number, got text",
    ),
    (
        "phase weeks reversed",
        _set("phases.1.end_week", 2),
        "phases[1].end_week: 2 is before start_week 3",
    ),
    (
        "activity outside its phase",
        _set("phases.0.activities.1.week", 5),
        "phases[0].activities[1].week: 5 is outside the phase's weeks 1-2",
    ),
    (
        "activity status",
        _set("phases.0.activities.0.status", "finished"),
        "phases[0].activities[0].status: 'finished' is not one of todo, in_progress, done, blocked",
    ),
    (
        "naive T-0",
        _set("launch.target_t0", "2027-03-02T15:00:00"),
        "launch.target_t0: 2027-03-02T15:00:00 has no time zone",
    ),
    (
        "bad date",
        _set("launch.start_date", "28/12/2026"),
        "launch.start_date: '28/12/2026' is not an ISO-8601 date",
    ),
    ("bad slug", _set("launch.slug", "Atlas Launch"), "launch.slug: 'Atlas Launch' is not a key"),
    (
        "bad duration",
        _set("gates.1.interval", "an hour"),
        "gates[1].interval: 'an hour' is not a duration",
    ),
    (
        "signed interval",
        _set("gates.1.interval", "-1h"),
        "gates[1].interval: '-1h' is not a duration",
    ),
    (
        "bad offset",
        _set("sequence.0.offset", "T-24h"),
        "sequence[0].offset: 'T-24h' is not a duration",
    ),
    (
        "max_age shorter than interval",
        _set("gates.1.max_age", "5m"),
        "gates[1].max_age: shorter than the interval",
    ),
    (
        "prometheus gate without query",
        _set("gates.0.query", _DELETE),
        "gates[0].query: required for a prometheus gate",
    ),
    (
        "report gate without metric",
        _set("gates.1.metric", _DELETE),
        "gates[1].metric: required for a report gate",
    ),
    (
        "manual gate with a query",
        _set("gates.2.query", "up"),
        "gates[2].query: not allowed on a manual gate",
    ),
    (
        "report gate with a query",
        _set("gates.1.query", "up"),
        "gates[1].query: not allowed on a report gate",
    ),
    (
        "unknown report format",
        _set("gates.1.format", "xunit9"),
        "gates[1].format: 'xunit9' is not one of",
    ),
    (
        "metric of another format",
        _set("gates.1.metric", "tests.total"),
        "gates[1].metric: 'tests.total' is not a cobertura metric",
    ),
    (
        "unknown prometheus source",
        _set("gates.0.prometheus", "staging"),
        "gates[0].prometheus: 'staging' is not a key in sources",
    ),
    (
        "bad control id",
        _set("gates.1.controls", ["SOC2 change mgmt"]),
        "gates[1].controls: 'SOC2 change mgmt' is not a criterion id",
    ),
    ("for zero", _set("gates.0.for", 0), "gates[0].for: 0 is not between 1 and 1000"),
    ("gates not a list", _set("gates", {"a": 1}), "gates: expected a list, got a mapping"),
    (
        "gate not a mapping",
        _set("gates.0", "availability"),
        "gates[0]: expected a mapping, got text",
    ),
    (
        "bad dimension",
        _set("gates.0.dimension", "vibes"),
        "gates[0].dimension: 'vibes' is not one of technical, operational",
    ),
    ("empty name", _set("gates.0.name", "  "), "gates[0].name: must not be empty"),
    (
        "url on a prometheus gate",
        _set("gates.0.url", "http://127.0.0.1:19090/r.xml"),
        "gates[0].url: not allowed on a prometheus gate",
    ),
]

SSRF_URLS = [
    ("cloud metadata", "http://169.254.169.254/latest/meta-data/"),
    ("loopback database port", "http://127.0.0.1:5432/"),
    ("file", "file:///etc/passwd"),
    ("gopher", "gopher://127.0.0.1:6379/_INFO"),
    ("mapped ipv6 loopback", "http://[::ffff:127.0.0.1]:19090/"),
    ("host off the allowlist", "https://ci.example.com/latest/junit.xml"),
]


@pytest.mark.parametrize(("case", "url"), SSRF_URLS, ids=[c[0] for c in SSRF_URLS])
def test_an_unsafe_source_or_pull_url_is_refused_when_saved(spec, case, url):
    spec["sources"][0]["url"] = url
    spec["gates"][1]["url"] = url
    with pytest.raises(SpecError) as caught:
        parse_spec(to_yaml(spec))
    places = [error.split(":")[0] for error in caught.value.errors]
    assert places == ["sources[0].url", "gates[1].url"], caught.value.errors


def test_an_allowlisted_pull_url_is_accepted(spec):
    spec["gates"][1]["url"] = "http://127.0.0.1:19090/artifacts/coverage.xml"
    assert parse_spec(to_yaml(spec))["gates"][1]["url"].endswith("coverage.xml")


@pytest.mark.parametrize(("case", "mutate", "message"), BAD_SPECS, ids=[c[0] for c in BAD_SPECS])
def test_a_bad_spec_is_refused_with_its_place(spec, case, mutate, message):
    with pytest.raises(SpecError) as caught:
        parse_spec(to_yaml(mutate(spec)))
    assert any(error.startswith(message) for error in caught.value.errors), caught.value.errors


BAD_DOCUMENTS = [
    ("not a mapping", "- just\n- a list\n", "spec: expected a mapping at the top, got a list"),
    ("a scalar", "hello\n", "spec: expected a mapping at the top, got text"),
    ("empty", "", "spec: expected a mapping at the top, got nothing"),
    (
        "python object tag",
        "launch: !!python/object/apply:os.system ['true']\n",
        "spec: not valid YAML: could not determine a constructor for the tag",
    ),
    (
        "python name tag",
        "launch: !!python/name:os.system\n",
        "spec: not valid YAML: could not determine a constructor",
    ),
    (
        "alias bomb",
        'a: &a ["x","x"]\nb: &b [*a,*a]\nc: [*b,*b]\n',
        "spec: not valid YAML: aliases (*name) are not allowed",
    ),
    (
        "duplicate yaml key",
        "launch: {}\nlaunch: {}\n",
        "spec: not valid YAML: duplicate key 'launch'",
    ),
    ("broken yaml", "launch: [unclosed\n", "spec: not valid YAML:"),
    ("not utf-8", b"launch: \xff\xfe\n", "spec: not UTF-8 text"),
    ("over 1 MB", "# " + "x" * (1024 * 1024) + "\n", "spec: 1,048,579 bytes is over the limit"),
]


@pytest.mark.parametrize(
    ("case", "document", "message"), BAD_DOCUMENTS, ids=[c[0] for c in BAD_DOCUMENTS]
)
def test_a_document_that_is_not_a_spec_is_refused(case, document, message):
    with pytest.raises(SpecError) as caught:
        parse_spec(document)
    assert caught.value.errors[0].startswith(message), caught.value.errors


def test_every_problem_is_reported_at_once(spec):
    spec["gates"][0]["comparator"] = "=>"
    spec["gates"][1]["threshold"] = "high"
    spec["launch"]["slug"] = "Bad Slug"
    with pytest.raises(SpecError) as caught:
        parse_spec(to_yaml(spec))
    assert len(caught.value.errors) == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "mutate", "message"),
    BAD_SPECS[:6] + BAD_SPECS[-8:],
    ids=[c[0] for c in BAD_SPECS[:6] + BAD_SPECS[-8:]],
)
def test_import_of_a_refused_spec_writes_nothing(tmp_path, spec, case, mutate, message):
    path = tmp_path / "bad.yaml"
    path.write_text(to_yaml(mutate(spec)))
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("import_launch", str(path))
    assert not Launch.objects.exists()
    assert not Gate.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_a_refused_reimport_leaves_the_launch_as_it_was(tmp_path, spec):
    good = tmp_path / "good.yaml"
    good.write_text(to_yaml(spec))
    call_command("import_launch", str(good))
    spec["gates"][0]["threshold"] = 50
    spec["gates"][1]["comparator"] = "=>"
    bad = tmp_path / "bad.yaml"
    bad.write_text(to_yaml(spec))
    with pytest.raises(CommandError):
        call_command("import_launch", str(bad))
    assert Gate.objects.get(key="availability").threshold == Decimal("99.9")
    assert AuditEvent.objects.count() == 1


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_launch", str(tmp_path / "missing.yaml"))
