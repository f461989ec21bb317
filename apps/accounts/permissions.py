"""Per-launch permissions: who may do what, decided in one place from Assignments."""

from dataclasses import dataclass

from django.utils import timezone

from apps.gates.models import Gate
from apps.launches.models import Launch
from apps.signoffs.models import Assignment, Duty


def visible_launches(user, launches=None):
    """The launches `user` may see: staff every one, anyone else those they hold a current
    assignment on. Every page, the API and the calendar feed go through this one rule."""
    launches = Launch.objects.all() if launches is None else launches
    if user.is_staff:
        return launches
    return launches.filter(pk__in=Assignment.objects.current().filter(user=user).values("launch"))


def current_assignments(user, launch, now=None):
    if not user.is_authenticated or not user.is_active:
        return Assignment.objects.none()
    return Assignment.objects.current(now or timezone.now()).filter(user=user, launch=launch)


def can_attest(user, gate: Gate) -> bool:
    """A holder of a role covering the gate's category, or the launch's program manager."""
    categories = attestable_categories(user, gate.launch)
    return categories is None or gate.category in categories


def attestable_categories(user, launch) -> set[str] | None:
    """The gate categories `user` may attest on `launch`; None means every category (PM)."""
    categories: set[str] = set()
    for assignment in current_assignments(user, launch).select_related("role"):
        if assignment.duty == Duty.PROGRAM_MANAGER:
            return None
        if assignment.role_id:
            categories.update(assignment.role.categories)
    return categories


def can_decide(user, launch) -> bool:
    """The Go/No-Go is recorded by the program manager or the holder of the cto-ceo role."""
    for assignment in current_assignments(user, launch).select_related("role"):
        if assignment.duty == Duty.PROGRAM_MANAGER:
            return True
        if assignment.role_id and assignment.role.key == "cto-ceo":
            return True
    return False


def waivable_categories(user, launch) -> set[str]:
    """The gate categories `user` may waive: those of the roles they hold."""
    categories: set[str] = set()
    for assignment in current_assignments(user, launch).select_related("role"):
        if assignment.role_id:
            categories.update(assignment.role.categories)
    return categories


def can_waive(user, gate: Gate) -> bool:
    """A waiver is granted by a holder of a role whose scope covers the gate."""
    return gate.category in waivable_categories(user, gate.launch)


def can_edit_timeline(user, launch) -> bool:
    """Program managers edit the timeline's activities."""
    return current_assignments(user, launch).filter(duty=Duty.PROGRAM_MANAGER).exists()


@dataclass(frozen=True)
class LaunchPermissions:
    """What a user may do on a launch, from one query of their current assignments."""

    attestable: set[str] | None  # gate categories; None: every category (program manager)
    waivable: set[str]
    program_manager: bool
    admin: bool = False  # staff or a launch admin: people, API tokens, webhooks


def permissions_for(user, launch) -> LaunchPermissions:
    assignments = list(current_assignments(user, launch).select_related("role"))
    pm = any(a.duty == Duty.PROGRAM_MANAGER for a in assignments)
    held: set[str] = set()
    for assignment in assignments:
        if assignment.role_id:
            held.update(assignment.role.categories)
    admin = (user.is_active and user.is_staff) or any(a.duty == Duty.ADMIN for a in assignments)
    return LaunchPermissions(attestable=None if pm else held, waivable=held, program_manager=pm,
                             admin=admin)  # fmt: skip


def administers(user, launch) -> bool:
    """Staff and the launch's current admins: they invite people, assign its roles, and manage
    its API tokens and webhooks."""
    if user.is_authenticated and user.is_active and user.is_staff:
        return True
    return current_assignments(user, launch).filter(duty=Duty.ADMIN).exists()


can_manage_people = administers


def can_export(user, launch) -> bool:
    """A current auditor or admin of the launch, or a superuser: exports take everything out."""
    if user.is_authenticated and user.is_active and user.is_superuser:
        return True
    return current_assignments(user, launch).filter(duty__in=(Duty.AUDITOR, Duty.ADMIN)).exists()
