"""portal/db.py: timestamps read through the fast loader are the ones Django's would read."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader

from portal.db import _fast_loader

pytestmark = pytest.mark.django_db

OID = 1184  # timestamptz
TEXTS = [
    b"2026-11-25 23:51:36.116562+00",
    b"2026-11-25 23:51:36+00",
    b"2026-11-25 23:51:36.1+05:30",
    b"1999-12-31 23:59:59.999999-08",
    b"0001-01-01 00:00:00+00",
]


def test_the_connection_reads_timestamps_with_the_fast_loader():
    with connection.cursor() as cursor:
        loader = connection.connection.adapters.get_loader(OID, 0)
        cursor.execute("SELECT %s::timestamptz", ["2026-11-25 23:51:36.5+02"])
        (value,) = cursor.fetchone()
    assert loader.__name__ == "FastTzLoader"
    assert value == datetime(2026, 11, 25, 21, 51, 36, 500000, tzinfo=UTC)
    assert value.tzinfo is connection.timezone  # what Django's loader would attach


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("tz", [UTC, timezone(timedelta(hours=-3)), None])
def test_fast_and_django_loaders_agree(text, tz):
    class Django(BaseTzLoader):
        timezone = tz

    fast = _fast_loader(BaseTzLoader, tz)(OID, connection.connection)
    slow = Django(OID, connection.connection)
    assert fast.load(text) == slow.load(text)
    assert fast.load(text).tzinfo == slow.load(text).tzinfo


def test_what_fromisoformat_refuses_goes_to_djangos_loader():
    fast = _fast_loader(BaseTzLoader, UTC)(OID, connection.connection)
    with pytest.raises(Exception, match="BC|infinity|year"):
        fast.load(b"infinity")
