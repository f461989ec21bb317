"""Per-launch permissions: who may do what, decided in one place from Assignments."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet, Value
from django.utils import timezone

from apps.audit.models import people_head
from apps.launches.models import Launch
from apps.signoffs.models import Assignment, Duty
from portal.prepared import PreparedQuery


def visible_launches(user, launches=None):
    """The launches `user` may see: staff every one, anyone else those they hold a current
    assignment on. Every page, the API and the calendar feed go through this one rule."""
    launches = Launch.objects.all() if launches is None else launches
    if _sees_every_launch(user):
        return launches
    return _held_launches(launches, _held_by(user))


def listed_launches(user) -> list[Launch]:
    """visible_launches(user) as the launch list shows them: with Launch.objects.with_counts()
    and with_record_version(), in the list's order. One query, built once per process (it cost
    2.3 of the list's 15 ms to build and compile on the bench data)."""
    if _sees_every_launch(user):
        return _LISTED_FOR_STAFF()
    if _holds_nothing(user):
        return []
    return _LISTED_FOR_HOLDER(user_id=user.pk, now=timezone.now())


def _listed():
    return Launch.objects.with_counts().with_record_version()


def _sees_every_launch(user) -> bool:
    return user.is_staff


def _held_launches(launches, held):
    return launches.filter(pk__in=held.values("launch"))


def visible_launch(user, slug: str, *, record_version: bool = False, carry: bool = False):
    """The launch `slug` if `user` may see it (the rule of visible_launches()), otherwise None;
    with `record_version` (Launch.objects.with_record_version()) when asked. One query, built
    once per process (portal.prepared): only its values change from one call to the next.

    With `carry` (a page that decides what the person may do), anyone but staff is read as their
    current assignments on the launch, with it: the launch keeps them, and permissions_for(user,
    launch) decides from them instead of asking again."""
    if _sees_every_launch(user):
        return _STAFF_SEES[record_version].first(slug=slug)
    if _holds_nothing(user):
        return None
    values = {"user_id": user.pk, "now": timezone.now(), "slug": slug}
    if not carry:
        return _HOLDER_SEES[record_version].first(**values)
    held = _HOLDINGS_WITH_LAUNCH[record_version](**values)
    if not held:
        return None
    launch = held[0].launch
    for assignment in held:
        assignment.launch = launch
    if record_version:
        launch.record_version = held[0].launch_record_version
    launch._holdings = (user.pk, held)
    return launch


def _launches(record_version: bool):
    return Launch.objects.with_record_version() if record_version else Launch.objects.all()


def _holdings_with_launch(record_version: bool):
    def build(user_id: int, now, slug: str):
        held = _held_by_id(user_id, now).filter(launch__slug=slug)
        held = held.select_related("launch", "role").order_by("pk")
        if record_version:
            held = held.annotate(launch_record_version=people_head(OuterRef("launch__slug")))
        return held

    return PreparedQuery(build, user_id=int, now=datetime, slug=str)


# visible_launch()'s three reads, with the launch's record version and without.
_STAFF_SEES = {
    v: PreparedQuery(lambda slug, v=v: _launches(v).filter(slug=slug).order_by(), slug=str)
    for v in (False, True)
}
_HOLDER_SEES = {
    v: PreparedQuery(
        lambda user_id, now, slug, v=v: (
            _held_launches(_launches(v), _held_by_id(user_id, now)).filter(slug=slug).order_by()
        ),
        user_id=int,
        now=datetime,
        slug=str,
    )
    for v in (False, True)
}
_HOLDINGS_WITH_LAUNCH = {v: _holdings_with_launch(v) for v in (False, True)}
# listed_launches()'s two reads.
_LISTED_FOR_STAFF = PreparedQuery(_listed)
_LISTED_FOR_HOLDER = PreparedQuery(
    lambda user_id, now: _held_launches(_listed(), _held_by_id(user_id, now)),
    user_id=int,
    now=datetime,
)


def current_assignments(user, launch, now=None):
    return _held_by(user, now).filter(launch=launch)


def _held_by(user, now=None):
    """The user's assignments in force, on every launch (none for the signed-out or inactive)."""
    if _holds_nothing(user):
        return Assignment.objects.none()
    return _held_by_id(user.pk, now or timezone.now())


def _holds_nothing(user) -> bool:
    return not user.is_authenticated or not user.is_active


def _held_by_id(user_id: int, now):
    return Assignment.objects.current(now).filter(user_id=user_id)


def _is_active_staff(user) -> bool:
    return user.is_authenticated and user.is_active and user.is_staff


# A gate is read by its category and launch only: apps.gates asks these rules, so this module
# does not import apps.gates back. Each rule is a method of LaunchPermissions, decided from one
# query of the person's current assignments on the launch; the functions below ask it.


def _decides(assignment: Assignment, launch) -> bool:
    """A holding of the launch's decision role (spec `decision: {role: ...}`), as its holder or
    as a delegate in their window (current() keeps only those in force)."""
    role = assignment.role if assignment.role_id else None
    return (assignment.duty == Duty.SIGNER and bool(launch.decision_role) and role is not None
            and role.key == launch.decision_role and role.retired_at is None)  # fmt: skip


@dataclass(frozen=True)
class LaunchPermissions:
    """What a user may do on a launch, from one query of their current assignments."""

    attestable: set[str] | None  # gate categories; None: every category (program manager)
    waivable: set[str]  # the categories of the roles they hold
    program_manager: bool
    admin: bool = False  # staff or a launch admin: people, API tokens, webhooks
    decides: bool = False  # holds the launch's decision role (or is its delegate now)

    def may_attest(self, gate) -> bool:
        """A holder of a role covering the gate's category, the program manager or an
        attester."""
        return self.attestable is None or gate.category in self.attestable

    @property
    def waive_scope(self) -> set[str] | None:
        """The gate categories whose waiver they may ask for; None: every one (the program
        manager)."""
        return None if self.program_manager else self.waivable

    def may_waive(self, gate) -> bool:
        """A waiver is asked for by a holder of a role covering the gate, or the program manager
        (a blocking gate's request then waits for may_approve_waiver's second person)."""
        return self.waive_scope is None or gate.category in self.waive_scope

    def may_approve_waiver(self, gate) -> bool:
        """The second person of a blocking gate's waiver: a holder of a role covering the gate,
        or of the launch's decision role (that they did not ask for it is the service's rule)."""
        return gate.category in self.waivable or self.decides


def permissions_for(user, launch, now=None) -> LaunchPermissions:
    assignments = _holdings(user, launch, now)
    pm = any(a.duty == Duty.PROGRAM_MANAGER for a in assignments)
    held: set[str] = set()
    for assignment in assignments:
        if assignment.role_id:
            held.update(assignment.role.categories)
    admin = _is_active_staff(user) or any(a.duty == Duty.ADMIN for a in assignments)
    attests_all = pm or any(a.duty == Duty.ATTESTER for a in assignments)
    return LaunchPermissions(attestable=None if attests_all else held, waivable=held,
                             program_manager=pm, admin=admin,
                             decides=any(_decides(a, launch) for a in assignments))  # fmt: skip


def _holdings(user, launch, now=None) -> list[Assignment]:
    """The user's current assignments on the launch, with their roles: one query, or none when
    visible_launch() loaded the launch for this user with them (carry) and `now` is now."""
    carried = getattr(launch, "_holdings", None)
    if now is None and carried is not None and carried[0] == user.pk and user.pk is not None:
        return carried[1]
    if _holds_nothing(user) or user.pk is None:  # signed out, inactive, an API token
        return []
    return _HOLDINGS(user_id=user.pk, launch_id=launch.pk, now=now or timezone.now())


# _holdings()'s read, asked by every page that decides what the person may do.
_HOLDINGS = PreparedQuery(
    lambda user_id, launch_id, now: (
        _held_by_id(user_id, now).filter(launch_id=launch_id)
        .select_related("role", "delegate_of").order_by("pk")
    ),
    user_id=int,
    launch_id=int,
    now=datetime,
)  # fmt: skip


def can_attest(user, gate) -> bool:
    return permissions_for(user, gate.launch).may_attest(gate)


def attestable_categories(user, launch) -> set[str] | None:
    """The gate categories `user` may attest on `launch`; None means every category (the program
    manager, an attester)."""
    return permissions_for(user, launch).attestable


def decision_assignment(user, launch, now=None) -> Assignment | None:
    """The user's current holding of the launch's decision role, as its holder or as a delegate
    in their window; None without one, or when the spec names no decision role."""
    if not launch.decision_role:
        return None
    return next((a for a in _holdings(user, launch, now) if _decides(a, launch)), None)


def can_decide(user, launch, now=None) -> bool:
    """The Go/No-Go is recorded by a current holder (or delegate) of the launch's decision role."""
    return permissions_for(user, launch, now).decides


def can_prepare_decision(user, launch) -> bool:
    """The program manager prepares the Go/No-Go meeting record; so may the decider (the one
    rule of can_decide(): a signer of the unretired decision role, or their delegate now)."""
    allowed = permissions_for(user, launch)
    return allowed.program_manager or allowed.decides


def can_waive(user, gate) -> bool:
    return permissions_for(user, gate.launch).may_waive(gate)


def can_approve_waiver(user, gate) -> bool:
    return permissions_for(user, gate.launch).may_approve_waiver(gate)


def can_revoke_waiver(user, waiver) -> bool:
    """Its requester, its approver, or an admin of the launch."""
    if user.pk is not None and user.pk in (waiver.requested_by_id, waiver.granted_by_id):
        return True
    return administers(user, waiver.gate.launch)


def can_edit_timeline(user, launch) -> bool:
    """Program managers edit the timeline's activities."""
    return permissions_for(user, launch).program_manager


def can_request_signoff(user, launch, assignments=None) -> bool:
    """The program manager (and staff, and the launch's admins) ask roles to sign by a date.
    `assignments`: the user's current assignments on the launch, when the caller has them."""
    if user.is_authenticated and user.is_active and user.is_staff:
        return True
    if assignments is None:
        assignments = current_assignments(user, launch)
    return any(a.duty in (Duty.PROGRAM_MANAGER, Duty.ADMIN) for a in assignments)


def administers(user, launch) -> bool:
    """Staff and the launch's current admins: they invite people, assign its roles, and manage
    its API tokens and webhooks."""
    if _is_active_staff(user):
        return True
    return permissions_for(user, launch).admin


def with_administered(user, launches: QuerySet) -> QuerySet:
    """`launches`, each annotated `administered`: administers(user, launch), decided in the
    query that loads the launch."""
    if _is_active_staff(user):
        return launches.annotate(administered=Value(True))
    admin = _held_by(user).filter(launch=OuterRef("pk"), duty=Duty.ADMIN)
    return launches.annotate(administered=Exists(admin))


can_manage_people = administers


def can_export(user, launch) -> bool:
    """A current auditor or admin of the launch, or a superuser: exports take everything out."""
    if user.is_authenticated and user.is_active and user.is_superuser:
        return True
    return current_assignments(user, launch).filter(duty__in=(Duty.AUDITOR, Duty.ADMIN)).exists()


def can_import_launch(user) -> bool:
    """Staff create launches from a spec in the browser; its admins update it (administers)."""
    return user.is_authenticated and user.is_active and user.is_staff
