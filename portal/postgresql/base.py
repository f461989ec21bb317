"""Django's PostgreSQL backend, with the portal's ExactDecimalField among its column types and
bulk inserts as arrays from compiler.UNNEST_FROM rows.

Django's bulk_create() sends its rows to PostgreSQL as one array per column (INSERT … SELECT
FROM UNNEST) only when every field's internal type is one the backend names; otherwise it binds
each value on its own (VALUES (%s, %s, …), …), which costs about 0.3 ms a gate row to build and
parse. ExactDecimalField is a numeric column here (its own name only keeps SQLite's rounding
converter away), so naming it lets the gates' state be written by bulk_create() on both databases
at the speed of one UPDATE from arrays. Arrays cost more than they save below 16 rows, so
compiler.SQLInsertCompiler keeps VALUES there.
"""

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    compiler_module = "portal.postgresql.compiler"


class DatabaseWrapper(base.DatabaseWrapper):
    data_types = {**base.DatabaseWrapper.data_types}
    data_types["ExactDecimalField"] = data_types["DecimalField"]
    ops_class = DatabaseOperations
