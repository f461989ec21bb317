"""ORM queries built and compiled once per process, then run with each call's values (issue 21).

Django builds a query's SQL anew on every call: for the small reads every page makes (who the
person is, which launch they may see) that is most of their cost here, 1.3 of the 1.9 ms of the
visibility check. A PreparedQuery asks its `build` function for the query once per database,
with placeholder values, keeps the SQL Django compiled and where each value went into its
parameters, and runs that SQL with each call's values through Django's own compiler, so that
rows become model instances (select_related, annotations) exactly as the query would make them.

The query is still the one its ORM function writes: the rule is not copied into SQL here. What
`build` may do is checked when it is prepared, by building it twice with different placeholders:
the SQL must not change with the values (a value may not choose a branch or a list's length) and
every parameter must be a value passed in or a constant, so a `build` that reads the clock itself
is refused rather than kept with one moment for ever.
"""

import copy
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.db import connections
from django.db.models import QuerySet
from django.db.transaction import TransactionManagementError

KINDS = (int, str, datetime)  # the kinds of values a prepared query takes


class NotPreparable(ValueError):
    """`build` makes SQL that changes with its values, or reads a value it was not given."""


class PreparedQuery:
    """`build(**values)` -> QuerySet, compiled once per database alias and run with `values`.

    `kinds` names each value and its kind (int, str or an aware datetime). Calling it returns the
    query's rows as a list (model instances, or what values()/values_list() make).
    """

    def __init__(self, build: Callable[..., QuerySet], **kinds: type):
        unknown = {name: kind for name, kind in kinds.items() if kind not in KINDS}
        if unknown:
            raise TypeError(f"a prepared query takes {KINDS} values, not {unknown}")
        self.build = build
        self.kinds = kinds
        self._compiled: dict[str, _Compiled] = {}

    def __call__(self, using: str = "default", **values) -> list:
        compiled = self._compiled.get(using)
        if compiled is None:
            compiled = self._compiled[using] = self._compile(using)
        return compiled.run(connections[using], values)

    def first(self, using: str = "default", **values):
        """The query's first row, or None."""
        found = self(using, **values)
        return found[0] if found else None

    def _compile(self, using: str) -> "_Compiled":
        connection = connections[using]
        first, second = self._placeholders(), self._placeholders()
        while any(first[name] == second[name] for name in first):
            second = self._placeholders()
        queryset = self.build(**first)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        again_sql, again = self.build(**second).query.get_compiler(using=using).as_sql()
        if again_sql != sql or len(again) != len(params):
            raise NotPreparable(f"{self.build.__qualname__}: its SQL changes with its values")
        adapters = _adapters(connection)
        slots: list[tuple[str | None, object]] = []
        for found, found_again in zip(params, again, strict=True):
            slot = _slot(found, found_again, first, second, adapters)
            if slot is None:
                raise NotPreparable(
                    f"{self.build.__qualname__}: a parameter ({found!r}) is neither one of "
                    f"its values ({', '.join(self.kinds)}) nor a constant"
                )
            slots.append(slot)
        unused = set(self.kinds) - {name for name, _ in slots if name is not None}
        if unused:
            raise NotPreparable(f"{self.build.__qualname__}: {sorted(unused)} not in its SQL")
        return _Compiled(queryset, compiler, sql, slots, self.kinds)

    def _placeholders(self) -> dict:
        return {name: _placeholder(kind) for name, kind in self.kinds.items()}


def _placeholder(kind: type):
    """A value of `kind` that no call passes (a random one, different each time)."""
    if kind is int:  # within a 32-bit key's range, beyond which Django writes no SQL
        return 2**30 + secrets.randbelow(2**30)
    if kind is str:
        return f"prepared-{secrets.token_hex(12)}"
    return datetime(1999, 1, 1, tzinfo=UTC) + timedelta(microseconds=secrets.randbelow(2**50))


def _adapters(connection) -> tuple[Callable, ...]:
    """How a backend may have turned a value into a parameter: as it is (PostgreSQL), or a
    datetime into text (SQLite)."""
    return (lambda value: value, connection.ops.adapt_datetimefield_value)


def _slot(found, found_again, first: dict, second: dict, adapters) -> tuple | None:
    """(name, adapter) of the value a parameter holds, (None, the constant), or None."""
    for name, placeholder in first.items():
        for adapt in adapters:
            if type(placeholder) is not datetime and adapt is not adapters[0]:
                continue
            if found == adapt(placeholder) and found_again == adapt(second[name]):
                return name, adapt
    if found == found_again and not _holds_placeholder(found, first, second):
        return None, found
    return None


def _holds_placeholder(found, first: dict, second: dict) -> bool:
    return any(found in (first[name], second[name]) for name in first)


class _Compiled:
    """A query's SQL as compiled once, and the compiler that knows its columns."""

    def __init__(self, queryset: QuerySet, compiler, sql: str, slots: list, kinds: dict):
        self.queryset = queryset
        self.compiler = compiler
        self.sql = sql
        self.slots = slots
        self.kinds = kinds

    def run(self, connection, values: dict) -> list:
        if values.keys() != self.kinds.keys():
            raise TypeError(f"expected the values {sorted(self.kinds)}, got {sorted(values)}")
        for name, value in values.items():
            if not isinstance(value, self.kinds[name]) or (
                isinstance(value, datetime) and value.tzinfo is None
            ):
                raise TypeError(f"{name}: {value!r} is not a {self.kinds[name].__name__}")
        features = connection.features
        locks = self.queryset.query.select_for_update and features.has_select_for_update
        if locks and features.supports_transactions and connection.get_autocommit():
            # What Django's compiler says of such a query, which this one does not compile.
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        params = tuple(
            constant if name is None else constant(values[name]) for name, constant in self.slots
        )
        compiler = copy.copy(self.compiler)
        compiler.connection = connection
        compiler.as_sql = lambda *args, **kwargs: (self.sql, params)
        queryset = self.queryset._chain()
        queryset.query.get_compiler = lambda *args, **kwargs: compiler
        return list(queryset)
