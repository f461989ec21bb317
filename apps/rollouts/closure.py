"""When a launch may be closed (8.6): once post-launch validation is done and the user-acceptance
and lessons-learned attestations stand. A validation that failed or was inconclusive (or a launch
with nothing to validate) may still be closed, with a reason. Closing itself (the metrics summary
report, the launch made read-only) is apps/reports/closure.py.
"""

from apps.launches.models import Launch
from apps.rollouts.postlaunch import post_launch_summary

REASON_LIMIT = 2000


class ClosureRefused(Exception):
    """Closing is not allowed (yet); `status` is what the page or API answers."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def closure_refusal(launch: Launch, *, reason: str = "", now=None) -> ClosureRefused | None:
    """Why the launch may not be closed now (with `reason`), or None."""
    summary = post_launch_summary(launch, now)
    if summary.state in ("not_started", "running") and summary.has_checks:
        return ClosureRefused(409, f"post-launch validation is {summary.state_text.lower()}: "
                                   "close the launch once its window has elapsed")  # fmt: skip
    if summary.state != "passed" and not reason.strip():
        why = (f"post-launch validation {summary.state_text.lower()}" if summary.has_checks
               else "the launch has no post-launch checks")  # fmt: skip
        return ClosureRefused(400, f"{why}: say why the launch is closed all the same")
    if len(reason) > REASON_LIMIT:
        return ClosureRefused(400, f"the reason is over {REASON_LIMIT} characters")
    missing = [f"{a.name} is {a.status}" for a in summary.attestations if not a.done]
    if missing:
        return ClosureRefused(409, f"attest first: {'; '.join(missing)}")
    return None
