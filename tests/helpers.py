"""Data and helpers shared by the tests."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEMO_SPEC = ROOT / "specs" / "llm-research-lab.yaml"
# The one source host:port the tests allow (SOURCE_ALLOWED_HOSTS); nothing listens there.
ALLOWED_SOURCE = "127.0.0.1:19090"

# A small launch spec that passes validation; tests copy it and break one thing at a time.
MINIMAL_SPEC = {
    "launch": {
        "slug": "atlas",
        "name": "Atlas",
        "version": "2.0.0",
        "target_t0": "2027-03-02T15:00:00Z",
        "start_date": "2026-12-28",
        "status": "planning",
        "decision": {"role": "vp-engineering"},  # vera in tests/signoffs records the Go/No-Go
    },
    "sources": [{"key": "prod", "url": f"http://{ALLOWED_SOURCE}"}],
    "phases": [
        {
            "code": "1",
            "name": "Build",
            "start_week": 1,
            "end_week": 2,
            "activities": [
                {"name": "Cluster", "owner": "SRE Lead", "week": 1, "status": "done"},
                {"name": "Pipelines", "owner": "Platform", "week": 2},
            ],
        },
        {"code": "2", "name": "Certify", "start_week": 3, "end_week": 4, "activities": []},
    ],
    "gates": [
        {
            "key": "availability",
            "name": "Availability",
            "category": "slo",
            "dimension": "technical",
            "blocking": True,
            "source": "prometheus",
            "query": "avg_over_time(up[1h]) * 100",
            "prometheus": "prod",
            "comparator": ">=",
            "threshold": 99.9,
            "unit": "%",
        },
        {
            "key": "coverage",
            "name": "Coverage",
            "category": "quality",
            "dimension": "technical",
            "blocking": True,
            "source": "report",
            "format": "cobertura",
            "metric": "coverage.line_percent",
            "comparator": ">=",
            "threshold": 85,
            "unit": "%",
            "interval": "1h",
            "max_age": "1d",
            "controls": ["CC8.1"],
        },
        {
            "key": "runbooks",
            "name": "Runbooks tested",
            "category": "operations",
            "dimension": "operational",
            "blocking": False,
            "source": "manual",
            "comparator": "==",
            "threshold": 1,
            "unit": "attested",
            "max_age": "30d",
        },
    ],
    "roles": [
        {
            "key": "vp-engineering",
            "name": "VP Engineering",
            "scope": "Technical readiness",
            "required": True,
            "categories": ["slo", "quality"],
        },
        {
            "key": "sre-lead",
            "name": "SRE Lead",
            "scope": "Operational readiness",
            "required": True,
            "categories": ["operations"],
        },
    ],
    "sequence": [
        {"offset": "-24h", "name": "Final staging validation"},
        {"offset": "0h", "name": "Deployment"},
        {"offset": "+24h", "name": "Stability check"},
    ],
}


def to_yaml(data) -> str:
    return yaml.safe_dump(data, sort_keys=False)
