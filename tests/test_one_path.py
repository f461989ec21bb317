"""One path for each rule on both databases: no raw SQL beside an ORM twin.

The portal runs on SQLite (`make run`) and PostgreSQL (production, the suite). Code that asks
which database it is on, or writes its own SQL, is where a rule gets a second home that only one
database runs. Each such place is listed here with why it is not a twin; a new one fails this
test until it is either made one ORM path or added with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

ALLOWED = {
    # An advisory lock around a chain's append; SQLite lets one writer in at a time anyway.
    ("apps/audit/services.py", "_lock"),
    # The `flush` command's TRUNCATE of the portal's tables: PostgreSQL only, it says so.
    ("apps/audit/management/commands/flush.py", "handle"),
    # How a decimal too long for SQLite's REAL is stored there (its text): a storage format.
    ("apps/gates/models.py", "get_db_prep_value"),
    # /readyz asks the database to answer `SELECT 1`.
    ("apps/pages/views.py", "readyz"),
    # Registering psycopg 3's faster timestamp loader: no SQL, no rule.
    ("portal/db.py", "use_fast_timestamps"),
    # The condition of the people's-events partial index, its constant actions written into the
    # SQL (the ORM sends them as parameters, which a prepared statement's generic plan cannot
    # match to the index): the one definition, the same text on both databases.
    ("apps/audit/models.py", "_by_people"),
}


def _raw_sql_or_vendor(tree: ast.AST) -> set[str]:
    """Names of the functions that read `connection.vendor` or open a cursor."""
    found = set()
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            vendor = isinstance(node, ast.Attribute) and node.attr == "vendor"
            cursor = isinstance(node, ast.Call) and getattr(node.func, "attr", "") in (
                "cursor",
                "raw",
                "extra",
            )
            raw_expression = isinstance(node, ast.Name) and node.id == "RawSQL"
            if vendor or cursor or raw_expression:
                found.add(function.name)
    return found


def _places() -> set[tuple[str, str]]:
    places = set()
    for package in ("apps", "portal"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # frozen history: a migration runs once, on the database it meets
            tree = ast.parse(path.read_text(), filename=str(path))
            relative = str(Path(path).relative_to(ROOT))
            places |= {(relative, name) for name in _raw_sql_or_vendor(tree)}
    return places


def test_raw_sql_and_database_branches_are_only_the_listed_ones():
    places = _places()
    assert places - ALLOWED == set(), "raw SQL or a database branch beside the ORM"
    assert ALLOWED - places == set(), "listed but gone: take it off ALLOWED"


def test_the_check_sees_a_twin(tmp_path):
    twin = (
        "def save(gates):\n"
        "    if connection.vendor != 'postgresql':\n"
        "        return Gate.objects.bulk_update(gates, FIELDS)\n"
        "    with connection.cursor() as cursor:\n"
        "        cursor.execute('UPDATE ...')\n"
    )
    assert _raw_sql_or_vendor(ast.parse(twin)) == {"save"}
