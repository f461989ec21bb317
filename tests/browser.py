"""A real Chromium, driven by Playwright, shared by every browser test of the session.

Debian's Chromium is used as installed (`executable_path`); Playwright's own browser download is
never used. One Playwright per process: its sync API cannot start twice while one runs, so the
fixtures live here (loaded by tests/conftest.py) and not in a folder's conftest. Each test gets
fresh browser contexts (no shared cookies) at 1366x768.
"""

import os
from pathlib import Path

import pytest

from tests.helpers import ROOT

# Playwright's sync API runs an event loop in this thread; the tests still touch the ORM
# synchronously between browser steps, which Django would otherwise refuse.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 768}
SCREENSHOTS = ROOT / "var" / "screenshots"

_screenshots_taken: list[Path] = []


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            "chromium is not installed: `make test` installs the Debian package chromium",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    # launch() gives Chromium a fresh temporary profile of its own, removed on close.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser):
    """Open a page in a fresh context: one per person, so nobody shares a session."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def screenshot(request):
    """Save a full-page screenshot under var/screenshots/, named after the test and a label."""

    def take(page, label: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{request.node.name}--{label}.png"
        page.screenshot(path=str(path), full_page=True)
        _screenshots_taken.append(path)
        return path

    return take


def pytest_terminal_summary(terminalreporter):
    if _screenshots_taken:
        terminalreporter.write_line(
            f"e2e screenshots ({len(_screenshots_taken)}) in {SCREENSHOTS.resolve()}"
        )
