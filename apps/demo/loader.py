"""Demo data for the embedded mode: the LLM-Research-Lab launch, its people, a few readings."""

import random
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.audit.services import record
from apps.gates.models import Gate, Measurement, Source
from apps.gates.services import Reading, attest, record_reading, waiver_limit
from apps.launches.models import Launch
from apps.rollouts.demo import DEMO_SLUG, shorten_rollout
from apps.signoffs.models import Assignment, Duty
from apps.signoffs.waivers import approve_waiver, request_waiver
from apps.specs.services import import_launch_spec

DEMO_SPEC = Path(settings.BASE_DIR) / "specs" / "llm-research-lab.yaml"
DEMO_PASSWORD = "launch-demo"  # noqa: S105 - demo accounts only, refused with DEBUG off
STAFF_USERS = ("pm", "auditor", "admin", "qa-lead", "security-reviewer")
# Demo people have names, so that a signature reads "I, Valerie Park, as VP Engineering".
DEMO_NAMES = {
    "vp-engineering": ("Valerie", "Park"), "security-lead": ("Samuel", "Okafor"),
    "sre-lead": ("Rita", "Gomez"), "product-vp": ("Priya", "Nair"),
    "legal-counsel": ("Leo", "Hartmann"), "cto-ceo": ("Chris", "Tanaka"),
    "pm": ("Pat", "Morgan"), "auditor": ("Alex", "Reyes"), "admin": ("Ada", "Lindqvist"),
    "qa-lead": ("Quinn", "Adams"), "security-reviewer": ("Sasha", "Ivanova"),
}  # fmt: skip


def load_demo(*, now=None) -> list[str]:
    """Import the demo launch if missing, create the demo users, add readings if there are none.

    Re-running keeps existing data.
    """
    now = now or timezone.now()
    launch = Launch.objects.filter(slug=DEMO_SLUG).first()
    if launch is None:
        launch = import_launch_spec(raw=DEMO_SPEC.read_bytes(), actor="load_demo").launch
    emails = _create_users([f"{role.key}@example.com" for role in launch.roles.all()])
    _assign(launch)
    if settings.DEMO_METRICS:
        shorten_rollout(launch)
    with transaction.atomic():
        if not Measurement.objects.filter(gate__launch=launch).exists():
            count = _add_readings(launch, now)
            record(
                actor="load_demo",
                action="demo.readings_added",
                launch_slug=launch.slug,
                data={"measurements": count},
            )
    return emails


def _create_users(signer_emails: list[str]) -> list[str]:
    User = get_user_model()
    emails = signer_emails + [f"{name}@example.com" for name in STAFF_USERS]
    for email in emails:
        user, created = User.objects.get_or_create(
            username=email.split("@")[0], defaults={"email": email}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            username = email.split("@")[0]
            user.first_name, user.last_name = DEMO_NAMES.get(username, (username.title(), ""))
            user.is_staff = user.is_superuser = email.startswith("admin@")
            user.save()
            EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return emails


def _assign(launch: Launch) -> None:
    """Each role's demo user holds that role; pm, auditor and admin get their duties."""
    User = get_user_model()
    for role in launch.roles.filter(retired_at__isnull=True):
        user = User.objects.get(username=role.key)
        Assignment.objects.get_or_create(launch=launch, user=user, duty=Duty.SIGNER, role=role)
    duties = {"pm": Duty.PROGRAM_MANAGER, "auditor": Duty.AUDITOR, "admin": Duty.ADMIN,
              "qa-lead": Duty.ATTESTER, "security-reviewer": Duty.ATTESTER}  # fmt: skip
    for username, duty in duties.items():
        user = User.objects.get(username=username)
        Assignment.objects.get_or_create(launch=launch, user=user, duty=duty)


def _add_readings(launch: Launch, now) -> int:
    """Six readings per gate, one per interval; most pass, a few fail, one source is down.

    Manual gates are attested by the demo's attesters, who sign nothing, and one failing
    blocking gate carries a waiver the program manager asked for and the decision role approved:
    whoever produced evidence may not approve its scope, and the demo stays signable.
    """
    rng = random.Random(launch.slug)  # noqa: S311 - demo values, the same every time
    count = 0
    for index, gate in enumerate(launch.gates.active().select_related("launch")):
        failing, down = demo_fate(index)
        if gate.source == Source.MANUAL and failing:
            continue  # nobody has attested this one yet: it reads "pending"
        if gate.source == Source.MANUAL:
            _attest(gate, now)
            count += 1
            continue
        for step in range(5, -1, -1):
            at = now - gate.interval * step - timedelta(seconds=rng.randint(0, 30))
            reading = _reading(gate, failing=failing, down=down, seed=f"{index}:{step}")
            record_reading(gate=gate, reading=reading, actor="load_demo", at=at)
            count += 1
    _waive_one(launch, now)
    return count


def _attest(gate: Gate, now) -> None:
    username = "security-reviewer" if gate.category == "security" else "qa-lead"
    attester = get_user_model().objects.get(username=username)
    attest(gate=gate, user=attester, comment="Checked for the demo.")


def _waive_one(launch: Launch, now) -> None:
    """The first failing blocking gate outside the decision role's scope gets a waiver."""
    User = get_user_model()
    decider = launch.roles.filter(key=launch.decision_role).first()
    outside = decider.categories if decider else []
    until = min(now + timedelta(days=7), waiver_limit(launch, now)[0])
    if until <= now:
        return  # the launch is over: no waiver may start
    for gate in launch.gates.active().filter(blocking=True).exclude(category__in=outside):
        if gate.current_status(now)[0] == "failing":
            waiver = request_waiver(
                gate=gate, user=User.objects.get(username="pm"), now=now, expires_at=until,
                reason="Demo: measured on the old cluster; re-run on production in week 9.",
            )  # fmt: skip
            if decider is not None:
                approve_waiver(waiver=waiver, user=User.objects.get(username=decider.key), now=now)
            return


def demo_fate(index: int) -> tuple[bool, bool]:
    """(failing, down) of the demo launch's gate at `index`: most pass, a few fail, a few
    Prometheus series are down. The loader and the demo metrics source agree through this."""
    return index % 9 == 4, index % 13 == 7


def _reading(gate: Gate, *, failing: bool, down: bool, seed) -> Reading:
    if down and gate.source == Source.PROMETHEUS:
        return Reading(error="source unreachable: demo data", detail={"demo": True})
    return Reading(value=demo_value(gate, failing=failing, seed=seed), detail={"demo": True})


def demo_value(gate: Gate, *, failing: bool, seed) -> Decimal:
    """A value on the passing side of the threshold (or the failing side when asked), the same
    for the same gate and seed."""
    rng = random.Random(f"{gate.key}:{seed}")  # noqa: S311 - demo values
    threshold, comparator = gate.threshold, gate.comparator
    if comparator in ("==", "!="):
        passes = (comparator == "==") != failing
        return threshold if passes else threshold + 1
    upward = comparator in (">", ">=")
    if threshold == 0:
        return Decimal(rng.randint(1, 30)) if upward != failing else Decimal(0)
    if upward and not failing and gate.unit == "%" and threshold < 100:
        value = threshold + (100 - threshold) * _factor(rng, 0.2, 0.9)
    elif upward != failing:
        value = threshold * _factor(rng, 1.1, 1.5)
    else:
        value = threshold * _factor(rng, 0.3, 0.9)
    return value.quantize(Decimal("0.001"))


def _factor(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(str(round(rng.uniform(low, high), 3)))
