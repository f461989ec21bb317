"""Summaries of a launch's gates, shared by the overview page and the sign-off packet."""

from apps.gates.models import Dimension, GateStatus

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
