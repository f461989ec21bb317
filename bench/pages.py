"""The pages the bench measures, by the names results.json uses."""

FLOOR = "/bench/floor"
INGEST = "ingest"


def pages(slug: str, *, gate: str, api_gates: bool = True) -> dict[str, dict]:
    """name -> {"path", "method", "weight"}; `{slug}` in a path stands for any bench launch
    in the load test (the service time and query counts use `slug`); `gate` is the key of the
    gate detail page (every bench launch has the same gates)."""
    found = {
        "launches": {"path": "/launches/", "weight": 2},
        "overview": {"path": "/launches/{slug}/", "weight": 4},
        "timeline": {"path": "/launches/{slug}/timeline/", "weight": 2},
        "gates": {"path": "/launches/{slug}/gates/", "weight": 4},
        "gate_detail": {"path": f"/launches/{{slug}}/gates/{gate}/", "weight": 3},
        "api_gates": {"path": "/api/v1/launches/{slug}/gates/", "weight": 2},
        INGEST: {"path": f"/api/v1/launches/{slug}/reports/", "method": "POST", "weight": 1},
    }
    if not api_gates:
        del found["api_gates"]
    return found


def for_launch(found: dict[str, dict], slug: str) -> dict[str, dict]:
    """The pages with `{slug}` filled in."""
    return {name: {**page, "path": page["path"].format(slug=slug)} for name, page in found.items()}
