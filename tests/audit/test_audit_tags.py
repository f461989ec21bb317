"""The audit page shows an event's data as readable pairs."""

from apps.audit.templatetags.audit_tags import data_pairs


def test_data_reads_as_pairs_in_order():
    assert data_pairs({"gate": "availability", "to": "failing", "value": 99.5}) == [
        ("gate", "availability"), ("to", "failing"), ("value", "99.5")]  # fmt: skip


def test_nested_and_long_values_are_shortened():
    pairs = dict(data_pairs({"blockers": [{"key": "k" * 200}], "none": None}))
    assert pairs["blockers"].startswith('[{"key": "kkk') and pairs["blockers"].endswith("…")
    assert len(pairs["blockers"]) == 80
    assert pairs["none"] == "—"


def test_empty_data_shows_nothing():
    assert data_pairs({}) == [] and data_pairs(None) == []
    assert data_pairs("a note") == [("", "a note")]
