"""The demo's launch day (`make run`, DEBUG and the demo metrics source only): its rollout
shortened to minutes, and the controls a launch admin of the demo launch has on the war room:
move T-0 to now, arm or disarm a breach. The demo's data is loaded by apps/demo/loader.py."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import record
from apps.launches.models import Launch
from apps.rollouts.models import Rollout
from apps.signoffs.permissions import administers

DEMO_SLUG = "llm-research-lab"

# With the demo metrics source on, the demo's rollout walks its stages in a few minutes: each
# timed stage lasts a minute, analysed every 10 s, passing after 2 passes in a row.
DEMO_STAGE_DURATION = timedelta(minutes=1)
DEMO_INTERVAL = timedelta(seconds=10)
DEMO_COUNT = 2
BREACH_ARMED, BREACH_DISARMED = "demo.breach_armed", "demo.breach_disarmed"


class DemoRefused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def shorten_rollout(launch: Launch) -> bool:
    """Shorten the demo launch's rollout (stages of a minute, analysed every 10 s, 2 passes),
    audited; the spec file keeps the real plan. Returns whether anything changed."""
    rollout = Rollout.objects.filter(launch=launch).first()
    if rollout is None:
        return False
    with transaction.atomic():
        timed = rollout.stages.exclude(duration__isnull=True).exclude(duration=DEMO_STAGE_DURATION)
        stages = timed.update(duration=DEMO_STAGE_DURATION)
        settings_changed = (rollout.interval, rollout.count) != (DEMO_INTERVAL, DEMO_COUNT)
        if not stages and not settings_changed:
            return False
        rollout.interval, rollout.count = DEMO_INTERVAL, DEMO_COUNT
        rollout.save(update_fields=["interval", "count"])
        record(actor="load_demo", action="demo.rollout_shortened", launch_slug=launch.slug,
               obj_type="rollout", obj_key=launch.slug,
               data={"stage_duration": "1m", "interval": "10s", "count": DEMO_COUNT})  # fmt: skip
    return True


def check_demo_control(*, launch: Launch, actor) -> None:
    """Launch day controls exist for the demo only (DEBUG, demo metrics on), for its admins."""
    if not (settings.DEBUG and settings.DEMO_METRICS):
        raise DemoRefused(404, "launch day controls exist only in the demo (make run)")
    if launch.slug != DEMO_SLUG:
        raise DemoRefused(404, "launch day controls exist only for the demo launch")
    if not administers(actor, launch):
        raise DemoRefused(403, "only a launch admin uses the demo's launch day controls")


def rehearse_launch_day(*, launch: Launch, actor, now=None) -> Launch:
    """Move the demo launch's T-0 to now, so that its T-0 window is open. A Go must still be
    recorded by the decision role (the rule for starting a run is unchanged)."""
    check_demo_control(launch=launch, actor=actor)
    launch.refuse_if_closed()  # a closed launch is read-only
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    with transaction.atomic():
        before = launch.target_t0
        launch.target_t0 = now
        launch.on_call = _moved_shifts(launch.on_call or [], now - before)
        launch.save(update_fields=["target_t0", "on_call"])
        moved = {"from": before.isoformat(), "to": now.isoformat()}
        record(actor=actor, action="demo.t0_moved", launch_slug=launch.slug, obj_type="launch",
               obj_key=launch.slug, data=moved)  # fmt: skip
    return launch


def _moved_shifts(shifts: list[dict], by) -> list[dict]:
    """The on-call rota moved with T-0: its shifts keep their place around launch day."""
    moved = []
    for shift in shifts:
        shift = dict(shift)
        for field in ("from", "until"):
            if shift.get(field):
                when = datetime.fromisoformat(shift[field]) + by
                shift[field] = when.astimezone(UTC).isoformat().replace("+00:00", "Z")
        moved.append(shift)
    return moved


def set_breach(*, launch: Launch, actor, on: bool, now=None) -> None:
    """Arm (or disarm) a breach: every stage that starts from `now` on has the demo source
    answer its first rollback trigger on the firing side. Off by default."""
    check_demo_control(launch=launch, actor=actor)
    launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    with transaction.atomic():
        record(actor=actor, action=BREACH_ARMED if on else BREACH_DISARMED,
               launch_slug=launch.slug, obj_type="launch", obj_key=launch.slug,
               data={"from": now.isoformat()})  # fmt: skip


def breach_armed_since(slug: str = DEMO_SLUG):
    """When the breach was armed (stages starting from then on breach), or None when it is off.
    The audit trail is where the toggle is kept: each change is an event there anyway."""
    last = (
        AuditEvent.objects.filter(launch_slug=slug, action__in=(BREACH_ARMED, BREACH_DISARMED))
        .order_by("-at", "-id").values_list("action", "data").first()
    )  # fmt: skip
    if last is None or last[0] != BREACH_ARMED:
        return None
    return datetime.fromisoformat(last[1]["from"])
