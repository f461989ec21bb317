"""An ICS feed of phases, activities and the launch sequence, so T-0 lands in every calendar.

Calendar apps cannot sign in: the feed URL carries a per-user signed token instead.
"""

from datetime import timedelta

from django.core import signing
from icalendar import Calendar, Event

SALT = "launch-portal.calendar"


def calendar_token(user) -> str:
    return signing.dumps({"u": user.pk}, salt=SALT)


def user_from_token(token: str, users):
    """The active user the token was made for, or None (bad signature, unknown or inactive)."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    return users.filter(pk=data.get("u"), is_active=True).first()


def launch_calendar(launches, *, host: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Launch Portal//launch timeline//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Launch Portal")
    for launch in launches:
        for event in _events(launch, host):
            cal.add_component(event)
    return cal.to_ical()


def _events(launch, host: str):
    for phase in launch.phases.all():
        start = launch.start_date + timedelta(weeks=phase.start_week - 1)
        end = launch.start_date + timedelta(weeks=phase.end_week)
        yield _event(f"{launch.slug}-phase-{phase.code}@{host}",
                     f"{launch.name}: {phase.code} {phase.name}", start, end)  # fmt: skip
        for activity in phase.activities.all():
            week = launch.start_date + timedelta(weeks=activity.planned_week - 1)
            yield _event(f"{launch.slug}-activity-{activity.pk}@{host}",
                         f"{launch.name}: {activity.name} ({activity.get_status_display()})",
                         week, week + timedelta(weeks=1), owner=activity.owner)  # fmt: skip
    for step in launch.sequence.all():
        at = step.scheduled_at()
        title = f"{launch.name}: {step.label} {step.name}"
        yield _event(f"{launch.slug}-step-{step.pk}@{host}", title, at, at + timedelta(minutes=30))


def _event(uid: str, summary: str, start, end, *, owner: str = "") -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("summary", summary)
    event.add("dtstart", start)
    event.add("dtend", end)
    if owner:
        event.add("description", f"Owner: {owner}")
    return event
