"""A closed launch in Chromium, against the live server: its overview says "Closed on ... —
read-only" and its post-launch page shows the verdict and the comparison table, on a 1366 px
screen and a 390 px phone without sideways scrolling. Screenshots go to /tmp/closed-*.png for a
person to look at.

The Atlas launch of tests/rollouts with one post-launch check: its validation passed (Prometheus
answered 0.2 % now against 0.25 % a day earlier), pat attested user acceptance and lessons
learned, and ada, its launch admin, closed it.
"""

from decimal import Decimal

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from apps.reports.closure import close_launch
from apps.rollouts import postlaunch
from apps.rollouts.postlaunch import analyse_validation, start_validation
from tests.rollouts import conftest as rollouts

# The Atlas launch of tests/rollouts, its people and its spec: the same fixtures, reused.
launch, people, rollout_spec = rollouts.launch, rollouts.people, rollouts.launch_spec

pytestmark = pytest.mark.django_db(transaction=True)
DEVICES = {
    "1366": {"viewport": {"width": 1366, "height": 768}},
    "390": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
            "is_mobile": True, "has_touch": True},
}  # fmt: skip
ATTESTATIONS = {
    "user-acceptance-verified": "Beta users signed the UAT form",
    "lessons-learned-captured": "Retro held: canary alerts were noisy",
}


@pytest.fixture
def launch_spec(rollout_spec):
    launch_spec = rollout_spec
    launch_spec["rollout"]["post_launch"] = {
        "window": "2m", "baseline_offset": "1d",
        "checks": [{"name": "error-rate", "query": 'error_rate{svc="api"}', "comparator": "<",
                    "threshold": 1, "unit": "%"}],
    }  # fmt: skip
    for key in ATTESTATIONS:
        launch_spec["gates"].append({
            "key": key, "name": key.replace("-", " ").capitalize(), "category": "post-launch",
            "dimension": "business", "blocking": False, "source": "manual", "comparator": "==",
            "threshold": 1, "unit": "attested", "max_age": "30d",
        })  # fmt: skip
    return launch_spec


@pytest.fixture
def closed(launch, people, settings, tmp_path, monkeypatch):
    from apps.gates.models import Gate
    from apps.gates.services import attest

    settings.MEDIA_ROOT = tmp_path / "media"

    def answer(query: str):  # the baseline query carries `offset 1d`
        return (Decimal("0.25") if "offset" in query else Decimal("0.2")), "", {}

    monkeypatch.setattr(postlaunch, "read_prometheus", answer)
    validation = start_validation(launch=launch, actor=people["ada"])
    analyse_validation(validation_id=validation.pk, slot=validation.ends_at)
    for key, comment in ATTESTATIONS.items():
        attest(gate=Gate.objects.get(launch=launch, key=key), user=people["pat"], comment=comment)
    return close_launch(launch=launch, actor=people["ada"])


def _open(browser, live_server, user, device: dict) -> Page:
    client = Client()
    client.force_login(user)
    context = browser.new_context(**device)
    context.set_default_timeout(10_000)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                          "url": live_server.url}])  # fmt: skip
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    return page


def _sideways(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("width", DEVICES)
def test_the_closed_launch_says_so_and_shows_its_verdict(
    browser, live_server, people, closed, width
):
    page = _open(browser, live_server, people["pat"], DEVICES[width])
    banner = f"Closed on {closed.closed_at:%Y-%m-%d} by Ada — read-only"
    try:
        page.goto(f"{live_server.url}/launches/atlas/")
        expect(page.locator(".closed-banner")).to_have_text(banner)
        assert _sideways(page) <= 0, f"the overview scrolls sideways at {width} px"
        page.screenshot(path=f"/tmp/closed-overview-{width}.png", full_page=True)

        page.goto(f"{live_server.url}/launches/atlas/post-launch/")
        expect(page.locator(".closed-banner")).to_have_text(banner)
        expect(page.locator(".verdict .status")).to_have_text("Passed")
        row = page.locator("table.post-launch tbody tr").filter(has_text="error-rate")
        expect(row).to_contain_text("< 1 %")
        expect(row).to_contain_text("0.2")
        expect(row).to_contain_text("0.25")
        verdict = row.locator(".status")
        expect(verdict).to_have_text("passing")
        box = verdict.bounding_box()
        assert box["x"] + box["width"] <= page.viewport_size["width"], "the verdict is cut off"
        assert _sideways(page) <= 0, f"the post-launch page scrolls sideways at {width} px"
        page.screenshot(path=f"/tmp/closed-post-launch-{width}.png", full_page=True)
        assert page.problems == [], page.problems
    finally:
        page.context.close()
