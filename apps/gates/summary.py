"""Summaries of a launch's gates, shared by the overview page and the sign-off packet."""

from django.db.models import Count

from apps.gates import rows
from apps.gates.models import Dimension, Gate, GateStatus

GOOD = (GateStatus.PASSING, GateStatus.WAIVED)


def dimension_summary(gates) -> list[dict]:
    """Per Definition of Done dimension: gates holding out of all, and blocking ones that do not."""
    rows = []
    for dimension in Dimension:
        mine = [g for g in gates if g.dimension == dimension]
        good = [g for g in mine if g.status in GOOD]
        blocked = [g for g in mine if g.blocking and g.status not in GOOD]
        rows.append({"label": dimension.label, "total": len(mine), "good": len(good),
                     "blocked": len(blocked), "ok": bool(mine) and not blocked})  # fmt: skip
    return rows


def owners_of(gate, roles) -> list[str]:
    """The roles whose signature covers the gate: who owes its evidence."""
    return [role.name for role in roles if gate.category in role.categories]


def active_gate_counts(launch_ids: list[int], now) -> dict[int, int]:
    """Each launch's number of active gates, kept in the gate rows' cache (apps/gates/rows.py):
    one query for the launches it lacks, none when it has them all."""

    def count(missing: list[int]) -> dict:
        found = dict(Gate.objects.filter(launch_id__in=missing).active().order_by()
                     .values_list("launch_id").annotate(n=Count("pk")))  # fmt: skip
        return {pk: (found.get(pk, 0), None) for pk in missing}

    # Only a spec import or an admin change adds or retires a gate: both bump every version.
    return rows.fragments(launch_ids, "launch-list;active-gates", now, count, rows.STATUS)
