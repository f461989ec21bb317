"""The signer's journey in Chromium, as each demo signer at 1366 and 390 px: the landing page
lists what waits for them with a working link, nothing scrolls sideways, a blocked approval is
explained before submitting, a refused submission keeps what was typed, and a rejection reads as
one on the matrix."""

import pytest
from playwright.sync_api import expect

from tests.e2e.test_signing_in_the_browser import PASSWORD, SLUG, log_in, roles_of

pytestmark = pytest.mark.django_db(transaction=True)
WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
RED = "rgb(180, 35, 24)"  # --fail


def _no_sideways_scroll(page, what: str) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"{what} scrolls sideways by {wide}px"


@pytest.mark.parametrize("width", WIDTHS)
def test_each_demo_signer_lands_on_what_waits_and_signs_from_there(
    demo, live_server, browser, width, screenshot
):
    for role in roles_of(demo):
        context = browser.new_context(viewport=WIDTHS[width])
        page = context.new_page()
        log_in(page, live_server, f"{role.key}@example.com", next_url="/launches/")
        inbox = page.locator("#waiting-for-you")
        expect(inbox).to_contain_text("Waiting for you")
        expect(inbox).to_contain_text(role.name)
        _no_sideways_scroll(page, f"/launches/ for {role.key} at {width}")
        for path in (f"/launches/{SLUG}/", f"/launches/{SLUG}/signoffs/"):
            page.goto(f"{live_server.url}{path}")
            _no_sideways_scroll(page, f"{path} for {role.key} at {width}")
        page.goto(f"{live_server.url}/launches/")
        inbox.get_by_role("link", name="Review and sign").first.click()
        expect(page).to_have_url(f"{live_server.url}/launches/{SLUG}/signoffs/{role.key}/sign/")
        _no_sideways_scroll(page, f"the sign page of {role.key} at {width}")
        table = page.locator("table.evidence")
        assert table.evaluate("t => t.scrollWidth <= t.clientWidth + 1"), "evidence table scrolls"
        if role.key == "security-lead" and width == "phone":
            screenshot(page, "security-lead-sign-page-390")
        context.close()


def test_a_blocked_approval_is_explained_and_a_refused_submission_keeps_what_was_typed(
    demo, live_server, page, screenshot
):
    role = next(r for r in roles_of(demo) if r.key == "vp-engineering")
    log_in(page, live_server, f"{role.key}@example.com", next_url="/launches/")
    page.goto(f"{live_server.url}/launches/{SLUG}/signoffs/{role.key}/sign/")
    closed = page.locator("input[name=decision][value=approve]").is_disabled()
    if closed:  # the demo has failing blocking gates in most scopes
        expect(page.locator("#approval-refused")).to_contain_text("Approval is not possible now")
    expect(page.locator("input[name=decision][value=reject]")).to_be_enabled()

    page.locator("input[name=condition_0]").fill("load test at 2x before T-0")
    page.locator("input[name=owner_0]").fill("Rita Gomez")
    page.locator("input[name=decision][value=reject]").check()
    page.locator("textarea[name=comment]").fill("")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign", exact=True).click()

    expect(page.locator("p.error")).to_contain_text("Not signed")
    expect(page.locator("input[name=condition_0]")).to_have_value("load test at 2x before T-0")
    expect(page.locator("input[name=owner_0]")).to_have_value("Rita Gomez")
    expect(page.locator("input[name=decision][value=reject]")).to_be_checked()

    page.locator("input[name=condition_0]").fill("")
    page.locator("input[name=owner_0]").fill("")
    page.locator("textarea[name=comment]").fill("the load tests are not done")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/launches/{SLUG}/signoffs/")
    state = page.locator(".state-rejected").first
    expect(state).to_have_text("✗ Rejected")
    assert state.evaluate("e => getComputedStyle(e).color") == RED
    screenshot(page, "matrix-with-a-rejection")
