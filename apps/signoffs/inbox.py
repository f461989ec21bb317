"""What waits for a person: the roles they may sign now, and the conditions they own.

One home for the inbox of `/launches/`, of a launch's overview and of the API's
`/api/v1/me/waiting/`; a fixed number of queries however many launches and roles.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q

from apps.gates import rows
from apps.gates.models import Gate
from apps.signoffs.models import Assignment, Condition, Duty, Role, SignatureRequest, SignOff
from apps.signoffs.snapshot import GOOD

NOT_SIGNED = "not signed"


@dataclass
class Waiting:
    """A role the person may sign now, and why it waits for them."""

    role: Role
    state: str  # not signed, invalidated, rejected, rejected by you, conditions due
    on_behalf_of: str = ""  # the holder a delegate stands in for
    due_at: datetime | None = None  # of the open sign-off request, if any
    blocking: list[str] = field(default_factory=list)  # gate keys that hold approval back

    @property
    def launch(self):
        return self.role.launch


@dataclass
class OwnedCondition:
    condition: Condition
    overdue: bool


@dataclass
class Inbox:
    waiting: list[Waiting]
    conditions: list[OwnedCondition]
    # The first moment after `now` at which it reads otherwise with no write: a request or a
    # condition falls due, a blocking gate's evidence or waiver runs out (None: none of these).
    changes_at: datetime | None = None

    def __bool__(self) -> bool:
        return bool(self.waiting or self.conditions)


def inbox_for(user, now, *, launch_ids=None) -> Inbox:
    """What waits for `user` now, on every launch they sign for (or on those of `launch_ids`).

    A role waits while it is not signed, or its sign-off was rejected or invalidated, or was
    approved with conditions now due. Eight queries at most (one fewer when they own no condition).
    """
    if not user.is_authenticated:
        return Inbox([], [])
    held = Assignment.objects.current(now).filter(user=user, duty=Duty.SIGNER)
    if launch_ids is not None:
        held = held.filter(launch_id__in=launch_ids)
    held = list(held.select_related("role__launch", "delegate_of").order_by("role__order"))
    roles = {a.role_id: a for a in held if a.role.retired_at is None}
    owned = owned_conditions(user, now, launch_ids=launch_ids)
    owned_due = [c.condition.due_at for c in owned]
    if not roles:
        return Inbox([], owned, _first_after(now, owned_due))
    signed = {s.role_id: s for s in SignOff.objects.filter(role_id__in=roles).active().briefly()}
    unmet = list(Condition.objects.filter(signoff__in=signed.values(), met_at__isnull=True)
                 .values_list("signoff_id", "due_at"))  # fmt: skip
    conditions_due = {signoff_id for signoff_id, due_at in unmet if due_at <= now}
    due = _due_dates(roles, now)
    blocking, gates_change_at = _blocking(list(roles.values()), now)
    waiting = []
    for role_id, assignment in roles.items():
        state = _state(signed.get(role_id), user, conditions_due)
        if state:
            waiting.append(Waiting(
                role=assignment.role, state=state, due_at=due.get(role_id),
                on_behalf_of=_name(assignment.delegate_of) if assignment.delegate_of_id else "",
                blocking=blocking.get(role_id, []),
            ))  # fmt: skip
    waiting.sort(key=lambda w: _order(w, now))
    moments = [*(due_at for _, due_at in unmet), *due.values(), gates_change_at, *owned_due]
    return Inbox(waiting, owned, _first_after(now, moments))


def kept_inbox(user, now, launches: list) -> Inbox:
    """inbox_for(user, now) over `launches` (every launch the person sees, or the one a page
    shows), each launch's part kept in the cache until a write changes it or time does
    (Inbox.changes_at, an assignment's window): after a write to one launch, only its part is
    drawn again (one inbox_for over the launches whose part the cache lacks).

    A part is kept under the person and the names a condition's owner is matched by, its
    launch's record (`record_version`, Launch.objects.with_record_version(): every sign-off,
    condition, request and assignment change is audited) and gate statuses (rows.STATUS)."""
    names = (user.get_full_name(), user.get_username(), user.email)
    records = {launch.pk: launch.record_version for launch in launches}

    def draw(missing: list[int]) -> dict:
        found = inbox_for(user, now, launch_ids=missing)
        stale = _first_after(now, [found.changes_at, _next_assignment_change(user, now)])
        parts = {pk: Inbox([], []) for pk in missing}
        for waiting in found.waiting:
            parts[waiting.role.launch_id].waiting.append(waiting)
        for owned in found.conditions:
            parts[owned.condition.signoff.launch_id].conditions.append(owned)
        return {pk: (part, stale) for pk, part in parts.items()}

    parts = rows.fragments(list(records), f"inbox;{user.pk};{names}", now, draw, rows.STATUS,
                           each=records).values()  # fmt: skip
    waiting = sorted((w for part in parts for w in part.waiting), key=lambda w: _order(w, now))
    conditions = sorted((c for part in parts for c in part.conditions),
                        key=lambda c: (c.condition.due_at, c.condition.pk))  # fmt: skip
    return Inbox(waiting, conditions)


def _order(waiting: Waiting, now) -> tuple:
    """Due first, the soonest first; then by the launch's T-0."""
    return waiting.due_at is None, waiting.due_at or now, waiting.role.launch.target_t0


def _next_assignment_change(user, now) -> datetime | None:
    """When one of the person's assignments next starts or ends by its window alone."""
    windows = Assignment.objects.filter(user=user, revoked_at__isnull=True).filter(
        Q(valid_from__gt=now) | Q(valid_until__gt=now)
    )
    return _first_after(now, [m for pair in windows.values_list("valid_from", "valid_until")
                              for m in pair])  # fmt: skip


def _first_after(now, moments) -> datetime | None:
    return min((m for m in moments if m is not None and m > now), default=None)


def _state(signoff: SignOff | None, user, conditions_due: set[int]) -> str:
    if signoff is None:
        return NOT_SIGNED
    if signoff.invalidated_at is not None:
        return "invalidated"
    if signoff.decision == "reject":
        return "rejected by you" if signoff.user_id == user.pk else "rejected"
    return "conditions due" if signoff.pk in conditions_due else ""


def _due_dates(roles: dict, now) -> dict[int, datetime]:
    requests = SignatureRequest.objects.open().filter(role_id__in=roles).order_by("due_at")
    found: dict[int, datetime] = {}
    for role_id, due_at in requests.values_list("role_id", "due_at"):
        found.setdefault(role_id, due_at)
    return found


def _blocking(assignments: list[Assignment], now) -> tuple[dict[int, list[str]], object]:
    """For each role, the blocking gates of its scope that are neither passing nor waived; and
    when that may next change by time alone (rows.stale_at)."""
    launch_ids = {a.launch_id for a in assignments}
    gates = Gate.objects.filter(launch_id__in=launch_ids, blocking=True).for_dashboard(now)
    gates = list(gates.order_by("launch_id", "order", "key"))
    bad: dict[tuple[int, str], list[str]] = defaultdict(list)
    for gate in gates:
        if gate.current_status(now)[0] not in GOOD:
            bad[(gate.launch_id, gate.category)].append(gate.key)
    return {
        a.role_id: [key for category in a.role.categories for key in bad[(a.launch_id, category)]]
        for a in assignments
    }, rows.stale_at(gates, now)


def owned_conditions(user, now, *, launch_ids=None) -> list[OwnedCondition]:
    """Unmet conditions of standing approvals whose owner names `user` (their name, user name
    or email, as the signer typed it), overdue first."""
    names = {n.strip().lower() for n in (user.get_full_name(), user.get_username(), user.email)}
    names.discard("")
    on = Assignment.objects.current(now).filter(user=user).values("launch")
    conditions = Condition.objects.filter(
        met_at__isnull=True, signoff__superseded_at__isnull=True,
        signoff__invalidated_at__isnull=True, signoff__launch__in=on,
    )  # fmt: skip
    if launch_ids is not None:
        conditions = conditions.filter(signoff__launch_id__in=launch_ids)
    # The owners first (a light query: most people own none), then theirs with what the inbox
    # shows of each.
    mine = [pk for pk, owner in conditions.values_list("pk", "owner")
            if owner.strip().lower() in names]  # fmt: skip
    if not mine:
        return []
    shown = Condition.objects.filter(pk__in=mine).select_related("signoff__role__launch")
    return [OwnedCondition(c, c.due_at <= now) for c in shown.order_by("due_at", "pk")]


def _name(user) -> str:
    return user.get_full_name() or user.get_username()
