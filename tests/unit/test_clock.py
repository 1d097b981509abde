"""jitlib.clock.as_utc: every timestamp read from a database becomes an aware UTC datetime of the same
instant, whatever form the driver returns it in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from jitlib.clock import as_utc, as_utc_or_none, stored_isoformat


def test_a_naive_timestamp_from_sqlite_is_read_as_utc() -> None:
    naive = datetime(2026, 10, 25, 2, 30, 5, 123456, fold=1)
    aware = as_utc(naive)
    assert aware.tzinfo is UTC and aware == naive.replace(tzinfo=UTC)
    assert (aware.year, aware.hour, aware.microsecond, aware.fold) == (2026, 2, 123456, 1)


def test_an_aware_timestamp_keeps_its_instant_in_utc() -> None:
    amsterdam = datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    plus_two = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
    for value in (amsterdam, plus_two):
        assert as_utc(value) == value and as_utc(value).tzinfo is UTC
    already = datetime(2026, 1, 1, tzinfo=UTC)
    assert as_utc(already) is already
    assert as_utc_or_none(None) is None


def test_the_isoformat_cut_from_sqlites_stored_text_is_the_instants_own() -> None:
    """The preservation scan cuts an alert key's expiry text from SQLite's stored text: it must be what
    ``as_utc(<instant>).isoformat()`` gives (the key recorded in alerts_sent), with and without microseconds,
    and for a text SQLAlchemy did not write (parsed instead)."""
    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    store = DateTime(timezone=True).dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())
    assert store is not None
    for instant in (
        datetime(2026, 12, 17, 6, 34, 44, tzinfo=UTC),
        datetime(2026, 12, 17, 6, 34, 44, 5, tzinfo=UTC),
        datetime(2026, 12, 17, 0, 0, 0, 999999, tzinfo=UTC),
    ):
        text = store(instant)
        assert stored_isoformat(text) == instant.isoformat() == as_utc(datetime.fromisoformat(text)).isoformat()
    assert stored_isoformat("2026-12-17 06:34:44") == "2026-12-17T06:34:44+00:00"
    assert stored_isoformat("2026-12-17T08:34:44+02:00") == "2026-12-17T06:34:44+00:00"
