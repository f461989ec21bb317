"""Signing the LLM-Research-Lab launch in a real browser, as its six stakeholders would.

The evidence is made to pass through the gate services; everything a person does (log in, review,
sign) goes through the pages, in Chromium, against the live server.
"""

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.gates.models import Gate, Source
from apps.gates.services import Reading, attest, record_reading
from apps.signoffs.models import Role, SignOff
from apps.signoffs.services import sign_off
from apps.signoffs.snapshot import take_snapshot

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "launch-demo"
SLUG = "llm-research-lab"
MATRIX = f"/launches/{SLUG}/signoffs/"
EVIDENCE_CHANGED = "the evidence changed since you opened this page"


# --- the evidence ------------------------------------------------------------------------------


def passing_value(gate: Gate) -> Decimal:
    threshold = gate.threshold
    return {
        ">=": threshold,
        ">": threshold + 1,
        "<=": threshold,
        "<": threshold / 2 if threshold > 0 else threshold - 1,
        "==": threshold,
        "!=": threshold + 1,
    }[gate.comparator]


def failing_value(gate: Gate) -> Decimal:
    threshold = gate.threshold
    return {
        ">=": threshold - 1,
        ">": threshold,
        "<=": threshold + 1,
        "<": threshold,
        "==": threshold + 1,
        "!=": threshold,
    }[gate.comparator]


def read(gate: Gate, value: Decimal) -> None:
    """Enough agreeing readings to move the gate's guarded state (its `for` count)."""
    for _ in range(gate.for_count):
        record_reading(gate=gate, reading=Reading(value=value), actor="test")


def make_every_gate_pass(launch) -> None:
    pm = get_user_model().objects.get(username="pm")
    for gate in launch.gates.active():
        if gate.source == Source.MANUAL:
            for _ in range(gate.for_count):
                attest(gate=gate, user=pm, comment="checked for the e2e run")
        else:
            read(gate, passing_value(gate))
    for gate in launch.gates.active():
        gate.refresh_from_db()
        assert gate.current_status()[0] == "passing", (gate.key, gate.current_status())


def roles_of(launch) -> list[Role]:
    return list(launch.roles.filter(retired_at__isnull=True))


def gate_shared_by_some_roles(launch) -> tuple[Gate, set[str]]:
    """A measured gate whose category more than one role, but not every role, signs for."""
    roles = roles_of(launch)
    for gate in launch.gates.active().exclude(source=Source.MANUAL).order_by("key"):
        covering = {r.key for r in roles if gate.category in r.categories}
        if 1 < len(covering) < len(roles):
            return gate, covering
    raise AssertionError("the demo launch has no gate shared by some roles")


def approve_by_service(role: Role) -> SignOff:
    user = get_user_model().objects.get(username=role.key)
    digest = take_snapshot(role, timezone.now()).digest
    return sign_off(role=role, user=user, decision="approve", comment="", conditions=[],
                    digest_seen=digest, previous_id=None)  # fmt: skip


# --- the pages ---------------------------------------------------------------------------------


def log_in(page: Page, live_server, email: str, *, next_url: str = MATRIX) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    form = page.locator("form").filter(has=page.locator("input[name=login]"))
    form.locator("input[name=login]").fill(email)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}{next_url}")


def matrix_row(page: Page, role: Role):
    name = page.locator("td:first-child strong", has_text=re.compile(rf"^{re.escape(role.name)}$"))
    return page.locator("table.table tbody tr").filter(has=name)


def sign_url(role: Role) -> str:
    return f"/launches/{SLUG}/signoffs/{role.key}/sign/"


def review_the_sign_page(page: Page, role: Role) -> str:
    """What a careful signer checks: the digest shown is the one signed, the gates are listed."""
    shown = page.locator("code.digest").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", shown)
    assert page.locator("input[name=digest]").input_value() == shown
    in_scope = role.launch.gates.active().filter(category__in=role.categories).count()
    expect(page.locator("table.table tbody tr")).to_have_count(in_scope)
    expect(page.locator("table.table tbody .status-passing")).to_have_count(in_scope)
    return shown


def fill_in_approval(page: Page) -> None:
    page.locator("input[name=decision][value=approve]").check()
    page.locator("input[name=password]").fill(PASSWORD)


def sign_button(page: Page):
    return page.get_by_role("button", name="Sign", exact=True)


# --- the stories -------------------------------------------------------------------------------


def test_the_six_stakeholders_sign_and_the_launch_is_ready(demo, live_server, new_page, screenshot):
    make_every_gate_pass(demo)

    for role in roles_of(demo):
        page = new_page()
        log_in(page, live_server, f"{role.key}@example.com")
        expect(page.locator("p.readiness")).to_contain_text("Not ready")
        expect(page.get_by_role("link", name="Review and sign")).to_have_count(1)
        matrix_row(page, role).get_by_role("link", name="Review and sign").click()
        expect(page).to_have_url(f"{live_server.url}{sign_url(role)}")

        digest = review_the_sign_page(page, role)
        fill_in_approval(page)
        if role.key == "security-lead":
            screenshot(page, "sign-page")
        sign_button(page).click()

        expect(page).to_have_url(f"{live_server.url}{MATRIX}")
        expect(page.locator("ul.messages")).to_contain_text(f"Your {role.name} sign-off")
        row = matrix_row(page, role)
        expect(row.locator(".state-approved")).to_have_text("✓ Approved")
        signer = get_user_model().objects.get(username=role.key)
        expect(row).to_contain_text(f"by {signer.get_full_name()}")
        expect(row.locator(".valid")).to_contain_text(digest[:12])
        signed = SignOff.objects.get(role=role)
        assert (signed.digest, signed.decision, signed.user.username) == (
            digest,
            "approve",
            role.key,
        )
        page.context.close()

    page = new_page()
    log_in(page, live_server, "pm@example.com")
    expect(page.locator("p.readiness.ready")).to_contain_text("✓ Ready")
    expect(page.locator(".state-approved")).to_have_count(len(roles_of(demo)))
    expect(page.locator(".invalidated")).to_have_count(0)
    screenshot(page, "matrix-ready")


def test_a_regression_invalidates_exactly_the_roles_that_cover_the_gate(
    demo, live_server, page, new_page, screenshot
):
    make_every_gate_pass(demo)
    for role in roles_of(demo):
        approve_by_service(role)
    gate, covering = gate_shared_by_some_roles(demo)

    read(gate, failing_value(gate))

    gate.refresh_from_db()
    assert gate.current_status()[0] == "failing"
    log_in(page, live_server, "pm@example.com")
    expect(page.locator("p.readiness.not-ready")).to_contain_text("Not ready")
    for role in roles_of(demo):
        row = matrix_row(page, role)
        if role.key in covering:
            expect(row.locator(".state-invalidated")).to_have_text("✗ Invalidated")
            expect(row.locator(".invalidated")).to_contain_text("Invalidated")
            expect(row.locator(".invalidated")).to_contain_text(f"gate {gate.key} is failing")
            expect(row.locator(".valid")).to_have_count(0)
            expect(row.locator(".changed")).to_contain_text(f"{gate.key} passing→failing")
        else:
            expect(row.locator(".state-approved")).to_have_text("✓ Approved")
            expect(row.locator(".invalidated")).to_have_count(0)
            expect(row.locator(".valid")).to_contain_text("valid")
    expect(page.locator("ul.blockers")).to_contain_text(gate.key)
    invalidated = SignOff.objects.filter(invalidated_at__isnull=False)
    assert {s.role.key for s in invalidated} == covering
    screenshot(page, "matrix-invalidated")

    # The signer of a covering role sees, gate by gate, what changed since their signature.
    role = next(r for r in roles_of(demo) if r.key in covering)
    signer = new_page()
    log_in(signer, live_server, f"{role.key}@example.com", next_url=sign_url(role))
    changed = signer.locator("table.changes tbody tr").filter(has_text=gate.key)
    expect(changed.locator(".status-passing")).to_have_text("passing")
    expect(changed.locator(".status-failing")).to_have_text("failing")
    screenshot(signer, "sign-page-changes")


def test_only_the_holder_of_a_role_may_sign_it(demo, live_server, new_page, screenshot):
    make_every_gate_pass(demo)
    security = Role.objects.get(launch=demo, key="security-lead")

    sre = new_page()
    log_in(sre, live_server, "sre-lead@example.com")
    expect(sre.get_by_role("link", name="Review and sign")).to_have_count(1)
    expect(matrix_row(sre, security).get_by_role("link", name="Review and sign")).to_have_count(0)
    response = sre.goto(f"{live_server.url}{sign_url(security)}")
    assert response.status == 403
    expect(sre.locator("form.sign-form")).to_have_count(0)
    screenshot(sre, "forbidden")

    auditor = new_page()
    log_in(auditor, live_server, "auditor@example.com")
    expect(auditor.get_by_role("link", name="Review and sign")).to_have_count(0)
    for role in roles_of(demo):
        response = auditor.goto(f"{live_server.url}{sign_url(role)}")
        assert response.status == 403, role.key

    anonymous = new_page()
    anonymous.goto(f"{live_server.url}{sign_url(security)}")
    expect(anonymous).to_have_url(re.compile(r"/accounts/login/\?next="))
    expect(anonymous.locator("input[name=login]")).to_be_visible()

    assert not SignOff.objects.exists()


def test_evidence_that_changes_while_the_page_is_open_is_not_signed(
    demo, live_server, page, screenshot
):
    make_every_gate_pass(demo)
    role = Role.objects.get(launch=demo, key="security-lead")
    log_in(page, live_server, "security-lead@example.com", next_url=sign_url(role))
    seen = review_the_sign_page(page, role)
    fill_in_approval(page)

    # While the signer reads, a new reading lands on a gate of their scope (it still passes).
    gate = demo.gates.active().filter(category="security").exclude(source=Source.MANUAL).first()
    read(gate, passing_value(gate))

    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        sign_button(page).click()
    assert answer.value.status == 409
    expect(page.locator("p.error")).to_contain_text(EVIDENCE_CHANGED)
    assert not SignOff.objects.exists()
    screenshot(page, "evidence-changed")

    # The refused page shows the state as it is now; signing that works.
    now_shown = review_the_sign_page(page, role)
    assert now_shown != seen
    assert now_shown == take_snapshot(role, timezone.now()).digest
    fill_in_approval(page)
    sign_button(page).click()
    expect(page).to_have_url(f"{live_server.url}{MATRIX}")
    assert SignOff.objects.get(role=role).digest == now_shown
