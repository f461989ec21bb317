"""A launch with two signing roles and the people around it.

vera holds VP Engineering (slo, quality), sam holds SRE Lead (operations), pat is the program
manager, otto is the auditor, and nora is assigned to nothing.
"""

import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from apps.gates.models import Gate
from apps.gates.services import Reading, attest, record_reading
from apps.signoffs.models import Assignment, Duty, Role
from tests.helpers import import_report_only_launch

PASSWORD = "correct horse battery"


@pytest.fixture
def launch(spec):
    return import_report_only_launch(spec)


def make_user(name: str, **extra):
    return get_user_model().objects.create_user(
        name, f"{name}@example.com", PASSWORD, first_name=name.title(), **extra
    )


@pytest.fixture
def people(launch):
    people = {name: make_user(name) for name in ("vera", "sam", "pat", "otto", "nora")}
    roles = {r.key: r for r in Role.objects.filter(launch=launch)}
    Assignment.objects.create(launch=launch, user=people["vera"], duty=Duty.SIGNER,
                              role=roles["vp-engineering"])  # fmt: skip
    Assignment.objects.create(launch=launch, user=people["sam"], duty=Duty.SIGNER,
                              role=roles["sre-lead"])  # fmt: skip
    Assignment.objects.create(launch=launch, user=people["pat"], duty=Duty.PROGRAM_MANAGER)
    Assignment.objects.create(launch=launch, user=people["otto"], duty=Duty.AUDITOR)
    return people


def read(key: str, value) -> None:
    gate = Gate.objects.get(key=key)
    record_reading(gate=gate, reading=Reading(value=Decimal(value)), actor="test")


@pytest.fixture
def all_passing(launch, people):
    read("availability", "99.95")
    read("coverage", "91")
    # Attested by the program manager: whoever attests a gate may not approve its scope.
    attest(gate=Gate.objects.get(key="runbooks"), user=people["pat"], comment="done")


def sign(client, url: str, decision: str, **extra):
    """Sign on the sign page at `url` as a person does: with the digest and the previous
    sign-off the page showed, and the password."""
    form = client.get(url).context["form"]
    seen = {"digest": form.initial["digest"], "previous": form.initial["previous"]}
    data = {"decision": decision, "password": PASSWORD, "comment": "", **seen}
    return client.post(url, {**data, **extra})


def current_totp_code(secret: str) -> str:
    """The authenticator code of the current period, taken with at least 2 s of it left: a code
    taken at a period's very end reaches the portal in the next one, which refuses it (allauth
    accepts the current period only)."""
    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )

    left = app_settings.TOTP_PERIOD - time.time() % app_settings.TOTP_PERIOD
    if left < 2:
        time.sleep(left + 0.05)
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))
