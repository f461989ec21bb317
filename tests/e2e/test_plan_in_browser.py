"""The plan in Chromium: the spec edited from the browser, and the readiness forecast.

(a) A launch admin downloads the spec, changes one gate's threshold and adds one gate, pastes it:
the preview lists exactly those two changes; Cancel writes nothing; applying writes them and
audits the spec's SHA-256. (b) The overview and the timeline show the forecast's sentence and
burn-up with a legend, at 1366 and 390 px, without sideways scrolling.

Screenshots for a person to look at: /tmp/spec-*.png and /tmp/forecast-*.png.
"""

import hashlib
from decimal import Decimal

import pytest
import yaml
from playwright.sync_api import Page, expect

from apps.audit.models import AuditEvent
from apps.gates.models import Gate
from tests.e2e.test_screenshots import LAUNCH, OVERFLOW_JS, Watch, log_in, open_page

pytestmark = pytest.mark.django_db(transaction=True)
ADMIN = "admin@example.com"  # holds the demo launch's admin duty
SPEC = f"{LAUNCH}/spec/"
GATE = "code-coverage"
NEW_GATE = {
    "key": "sbom-published",
    "name": "SBOM published",
    "category": "code-freeze",
    "dimension": "technical",
    "blocking": False,
    "source": "manual",
    "comparator": "==",
    "threshold": 1,
    "unit": "attested",
    "max_age": "30d",
    "spec_ref": "3.1",
    "description": "The release's software bill of materials is published with it.",
}


def _changed_spec(page: Page, live_server) -> str:
    """The downloaded spec with the coverage threshold raised to 90 and one gate added."""
    response = page.request.get(f"{live_server.url}{LAUNCH}/spec.yaml")
    assert response.ok, response.status
    assert "yaml" in response.headers["content-type"]
    spec = yaml.safe_load(response.text())
    (gate,) = [g for g in spec["gates"] if g["key"] == GATE]
    assert Decimal(str(gate["threshold"])) == Decimal("85")
    gate["threshold"] = 90
    spec["gates"].append(NEW_GATE)
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)


def _preview(page: Page, live_server, text: str) -> None:
    page.goto(f"{live_server.url}{SPEC}")
    expect(page.locator("h1")).to_have_text("The plan as code")
    page.locator("#spec-text").fill(text)
    page.get_by_role("button", name="Preview the changes").click()
    expect(page.locator("h2").first).to_have_text("What applying this spec changes")


def _imports() -> int:
    return AuditEvent.objects.filter(
        action="launch.imported", launch_slug="llm-research-lab"
    ).count()


def test_a_changed_spec_previews_exactly_its_changes_cancel_keeps_apply_audits(
    demo, live_server, browser
):
    page = open_page(browser, 1366)
    watch = Watch(page)
    log_in(page, live_server, ADMIN)
    text = _changed_spec(page, live_server)
    imports = _imports()

    _preview(page, live_server, text)
    sections = page.locator("section.spec-changes")
    expect(sections).to_have_count(1)
    expect(sections.locator("h3")).to_have_text("Gates")
    items = sections.locator(":scope > ul > li")
    expect(items).to_have_count(2)
    changed = items.filter(has_text=GATE)
    expect(changed).to_have_class("change-changed")
    expect(changed.locator("ul li")).to_have_count(1)
    expect(changed.locator("ul li")).to_have_text("threshold: 85 → 90")
    added = items.filter(has_text=NEW_GATE["key"])
    expect(added).to_have_class("change-added")
    expect(added.locator("ul li")).to_have_count(0)
    shown_sha = page.locator("p", has_text="Spec SHA-256").locator("code").inner_text()
    page.screenshot(path="/tmp/spec-preview-1366.png", full_page=True)

    # Cancel: back to the overview, nothing written.
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(f"{live_server.url}{LAUNCH}/")
    assert Gate.objects.get(key=GATE).threshold == Decimal("85")
    assert not Gate.objects.filter(key=NEW_GATE["key"]).exists()
    assert _imports() == imports

    # Again, and apply.
    _preview(page, live_server, text)
    page.get_by_role("button", name="Apply these changes").click()
    expect(page).to_have_url(f"{live_server.url}{LAUNCH}/")
    expect(page.get_by_text("Applied:")).to_be_visible()
    assert Gate.objects.get(key=GATE).threshold == Decimal("90")
    assert Gate.objects.filter(key=NEW_GATE["key"], retired_at__isnull=True).exists()
    assert _imports() == imports + 1
    event = AuditEvent.objects.filter(action="launch.imported").latest("sequence")
    assert event.actor_name and event.actor.email == ADMIN
    assert event.data["sha256"] == shown_sha
    assert event.data["sha256"] == hashlib.sha256(event.data["spec"].encode()).hexdigest()
    assert yaml.safe_load(event.data["spec"]) == yaml.safe_load(text)
    assert [e for e in watch.take() if "/favicon.ico" not in e] == []
    page.context.close()


@pytest.mark.parametrize("width", [1366, 390])
def test_the_spec_page_fits_the_screen(demo, live_server, browser, width):
    page = open_page(browser, width)
    log_in(page, live_server, ADMIN)
    text = _changed_spec(page, live_server)
    page.goto(f"{live_server.url}{SPEC}")
    page.locator("#spec-text").fill(text)
    _fits(page, width)
    page.screenshot(path=f"/tmp/spec-{width}.png", full_page=True)
    page.get_by_role("button", name="Preview the changes").click()
    expect(page.locator("section.spec-changes")).to_have_count(1)
    _fits(page, width)
    page.screenshot(path=f"/tmp/spec-preview-{width}.png", full_page=True)
    page.context.close()


@pytest.mark.parametrize("width", [1366, 390])
@pytest.mark.parametrize("where", ["overview", "timeline"])
def test_the_overview_and_the_timeline_show_the_readiness_forecast(
    demo, live_server, browser, width, where
):
    page = open_page(browser, width)
    watch = Watch(page)
    log_in(page, live_server, "pm@example.com")
    path = f"{LAUNCH}/" if where == "overview" else f"{LAUNCH}/timeline/"
    page.goto(f"{live_server.url}{path}")
    page.wait_for_load_state("networkidle")
    forecast = page.locator("section#forecast")
    expect(forecast.locator("h2")).to_have_text("Readiness forecast")
    sentence = forecast.locator("p.forecast-sentence")
    expect(sentence).to_contain_text("blocking gate")
    expect(sentence).to_contain_text("T-0")
    chart = forecast.locator("svg.burnup")
    expect(chart).to_be_visible()
    assert chart.locator("g.day").count() > 0
    box = chart.bounding_box()
    assert box["height"] >= 140, box  # big enough to read; on a phone it scrolls in its box
    figure = forecast.locator("figure.chart")
    assert figure.evaluate("(el) => getComputedStyle(el).overflowX") == "auto"
    # Every colour drawn in the chart is named in the legend.
    drawn = set(
        chart.locator("rect[fill]").evaluate_all("(els) => els.map(e => e.getAttribute('fill'))")
    )
    legend = forecast.locator(".legend li")
    named = set(
        legend.locator("[data-swatch]").evaluate_all("(els) => els.map(e => e.dataset.swatch)")
    )
    assert drawn <= named, drawn - named
    assert all(t.strip() for t in legend.all_inner_texts())
    _fits(page, width)
    forecast.scroll_into_view_if_needed()
    page.screenshot(path=f"/tmp/forecast-{where}-{width}.png", full_page=True)
    forecast.screenshot(path=f"/tmp/forecast-{where}-{width}-chart.png")
    assert [e for e in watch.take() if "/favicon.ico" not in e] == []
    page.context.close()


def _fits(page: Page, width: int) -> None:
    page.wait_for_load_state("networkidle")  # measured with its stylesheet applied
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = page.evaluate(OVERFLOW_JS, width)
    assert box["scrollWidth"] <= width + 1 and not box["culprits"], box
