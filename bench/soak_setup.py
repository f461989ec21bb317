"""The soak's data: the LLM-Research-Lab launch polled every few seconds, and its people.

``soak_spec`` rewrites the shipped spec so that its Prometheus gates are polled every
``interval`` (keeping each gate's own ``max_age``); ``populate`` imports it and creates the
dashboard viewers (auditors and program managers) and the signers (one role each), and gives
every gate that is not polled one passing reading, so that a scope can be approved.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal

import yaml

from bench.fake_prometheus import passing_value

DEFAULT_PROMETHEUS_INTERVAL = timedelta(minutes=5)  # apps.gates.models.DEFAULT_INTERVAL


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        return True  # the spec loader refuses aliases


def soak_spec(raw: str, *, interval: str) -> str:
    """The spec with every Prometheus gate polled every ``interval``, its max_age kept."""
    from apps.launches.durations import format_duration, parse_duration

    document = yaml.safe_load(raw)
    for gate in document["gates"]:
        if gate["source"] != "prometheus":
            continue
        own = parse_duration(gate["interval"]) if "interval" in gate else None
        gate.setdefault("max_age", format_duration((own or DEFAULT_PROMETHEUS_INTERVAL) * 3))
        gate["interval"] = interval
    return yaml.dump(document, Dumper=_NoAliases, sort_keys=False, allow_unicode=True)


@dataclass
class Accounts:
    """Who the load signs in as (handed to the locustfile as JSON)."""

    slug: str
    password: str
    viewers: list[str] = field(default_factory=list)
    signers: list[dict] = field(default_factory=list)  # {"email", "role"}
    gates: list[str] = field(default_factory=list)  # keys of the gates the viewers open

    def as_dict(self) -> dict:
        return asdict(self)


def populate(*, spec: str, password: str, viewers: int, signers: int) -> Accounts:
    """Import the launch, create its people and give every gate that is not polled a pass."""
    from django.db import transaction

    from apps.audit.services import record
    from apps.specs.services import import_launch_spec

    launch = import_launch_spec(raw=spec, actor="soak").launch
    with transaction.atomic():
        accounts = _people(launch, password=password, viewers=viewers, signers=signers)
        _pass_unpolled_gates(launch, attester=accounts.viewers[0])  # a program manager
        record(
            actor="soak",
            action="soak.setup",
            launch_slug=launch.slug,
            data={"viewers": len(accounts.viewers), "signers": len(accounts.signers)},
        )
    accounts.gates = list(launch.gates.active().order_by("order").values_list("key", flat=True))
    return accounts


def _people(launch, *, password: str, viewers: int, signers: int) -> Accounts:
    from django.contrib.auth.hashers import make_password

    from apps.signoffs.models import Assignment, Duty

    hashed = make_password(password)  # once: the hasher is slow on purpose
    accounts = Accounts(slug=launch.slug, password=password)
    for number in range(1, viewers + 1):
        duty = Duty.PROGRAM_MANAGER if number % 2 else Duty.AUDITOR  # the first is a PM
        user = _user(f"soak-viewer-{number:02d}", ("Viewer", f"{number:02d}"), hashed)
        Assignment.objects.create(launch=launch, user=user, duty=duty)
        accounts.viewers.append(user.email)
    roles = list(launch.roles.filter(retired_at__isnull=True).order_by("order"))
    for role in roles[:signers]:
        user = _user(f"soak-{role.key}", ("Signer", role.name), hashed)
        Assignment.objects.create(launch=launch, user=user, duty=Duty.SIGNER, role=role)
        accounts.signers.append({"email": user.email, "role": role.key})
    return accounts


def _user(username: str, name: tuple[str, str], hashed: str):
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    email = f"{username}@example.com"
    user = get_user_model().objects.create(
        username=username, email=email, password=hashed, first_name=name[0], last_name=name[1]
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _pass_unpolled_gates(launch, *, attester: str) -> None:
    """One passing reading for each report gate, one attestation for each manual gate."""
    from django.contrib.auth import get_user_model

    from apps.gates.models import Source
    from apps.gates.services import Reading, attest, record_reading

    pm = get_user_model().objects.get(email=attester)
    for gate in launch.gates.active().exclude(source=Source.PROMETHEUS).select_related("launch"):
        if gate.source == Source.MANUAL:
            attest(gate=gate, user=pm, comment="soak: attested at setup")
            continue
        value = passing_value(gate.comparator, Decimal(gate.threshold), gate.unit)
        reading = Reading(value=value, detail={"soak": "passing report at setup"})
        record_reading(gate=gate, reading=reading, actor="soak")
