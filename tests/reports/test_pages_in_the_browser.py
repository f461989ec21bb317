"""The reports pages of the demo launch in Chromium, on a laptop and on a phone.

The same checks as tests/e2e/test_screenshots.py (HTTP 200, nothing wider than the screen, no
console error, statuses in words), with a screenshot of each under var/screenshots/.
"""

import pytest

from apps.reports.exports.jobs import request_export, run_export_job
from apps.reports.packets.jobs import request_packet
from apps.reports.packets.store import build_packet
from tests.e2e.test_screenshots import Watch, check_page, log_in, open_page

pytestmark = pytest.mark.django_db(transaction=True)
LAUNCH = "/launches/llm-research-lab"
AUDITOR_PAGES = [
    ("controls", f"{LAUNCH}/controls/", ".status"),
    ("packets", f"{LAUNCH}/packets/", ".status"),
    ("export", f"{LAUNCH}/export/", None),
    ("verify", "/verify/", None),
]


@pytest.mark.parametrize("width", [1366, 390])
def test_reports_pages_at_two_viewports(demo, live_server, browser, screenshot, width):
    from django.contrib.auth import get_user_model

    auditor = get_user_model().objects.get(email="auditor@example.com")
    build_packet(launch=demo, actor=auditor)
    done = request_export(launch=demo, user=auditor, categories=["security"])
    run_export_job(job_id=done.pk)
    request_export(launch=demo, user=auditor)  # stays queued: no worker runs in this test
    request_packet(launch=demo, user=auditor)  # likewise: "a packet is being built"
    page = open_page(browser, width)
    problems = []
    try:
        watch = Watch(page)
        log_in(page, live_server, "auditor@example.com")
        for label, path, status_selector in AUDITOR_PAGES:
            problems += check_page(
                page, watch, live_server, width, label, path, status_selector, screenshot
            )
    finally:
        page.context.close()
    assert not problems, "\n".join(problems)
