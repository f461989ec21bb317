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
from apps.gates.services import Reading, record_reading
from apps.launches.models import Launch
from apps.launches.services import import_launch_spec
from apps.signoffs.models import Assignment, Duty

DEMO_SPEC = Path(settings.BASE_DIR) / "specs" / "llm-research-lab.yaml"
DEMO_PASSWORD = "launch-demo"  # noqa: S105 - demo accounts only, refused with DEBUG off
STAFF_USERS = ("pm", "auditor", "admin")
# Demo people have names, so that a signature reads "I, Valerie Park, as VP Engineering".
DEMO_NAMES = {
    "vp-engineering": ("Valerie", "Park"), "security-lead": ("Samuel", "Okafor"),
    "sre-lead": ("Rita", "Gomez"), "product-vp": ("Priya", "Nair"),
    "legal-counsel": ("Leo", "Hartmann"), "cto-ceo": ("Chris", "Tanaka"),
    "pm": ("Pat", "Morgan"), "auditor": ("Alex", "Reyes"), "admin": ("Ada", "Lindqvist"),
}  # fmt: skip


def load_demo(*, now=None) -> list[str]:
    """Import the demo launch if missing, create the demo users, add readings if there are none.

    Re-running keeps existing data.
    """
    now = now or timezone.now()
    launch = Launch.objects.filter(slug="llm-research-lab").first()
    if launch is None:
        launch = import_launch_spec(raw=DEMO_SPEC.read_bytes(), actor="load_demo").launch
    emails = _create_users([f"{role.key}@example.com" for role in launch.roles.all()])
    _assign(launch)
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
    duties = {"pm": Duty.PROGRAM_MANAGER, "auditor": Duty.AUDITOR, "admin": Duty.ADMIN}
    for username, duty in duties.items():
        user = User.objects.get(username=username)
        Assignment.objects.get_or_create(launch=launch, user=user, duty=duty)


def _add_readings(launch: Launch, now) -> int:
    """Six readings per gate, one per interval; most pass, a few fail, one source is down."""
    rng = random.Random(launch.slug)  # noqa: S311 - demo values, the same every time
    count = 0
    for index, gate in enumerate(launch.gates.active().select_related("launch")):
        if gate.source == Source.MANUAL and index % 9 == 4:
            continue  # nobody has attested this one yet: it reads "pending"
        for step in range(5, -1, -1):
            at = now - gate.interval * step - timedelta(seconds=rng.randint(0, 30))
            reading = _reading(gate, failing=index % 9 == 4, down=index % 13 == 7, rng=rng)
            record_reading(gate=gate, reading=reading, actor="load_demo", at=at)
            count += 1
    return count


def _reading(gate: Gate, *, failing: bool, down: bool, rng: random.Random) -> Reading:
    if down and gate.source == Source.PROMETHEUS:
        return Reading(error="source unreachable: demo data", detail={"demo": True})
    return Reading(value=_demo_value(gate, failing=failing, rng=rng), detail={"demo": True})


def _demo_value(gate: Gate, *, failing: bool, rng: random.Random) -> Decimal:
    """A value on the passing side of the threshold (or the failing side when asked)."""
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
