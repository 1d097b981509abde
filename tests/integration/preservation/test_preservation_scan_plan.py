"""The warning scan is an indexed query: the database's own plan says so, on SQLite and PostgreSQL (no
timing involved; bench/preservation_scan.py measures it on a million orders)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, literal, select
from sqlalchemy.orm import Session

from jitlib.clock import as_utc
from jitlib.db import SQLITE_CACHE_KIB, TS, Database, migrate
from services.preservation import store
from services.preservation.app import MIGRATIONS

pytestmark = pytest.mark.integration
INDEX = "ix_preservation_orders_due"


def plan(url: str) -> str:
    engine = create_engine(url)
    try:
        compiled = store.due_for_alert_query(datetime.now(UTC), 500).compile(dialect=engine.dialect)
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                params: Any = tuple(
                    v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v
                    for v in (compiled.params[name] for name in compiled.positiontup or ())
                )
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params).all()
                return "\n".join(str(r[-1]) for r in rows)
            # Even on a small table, the planner must be able to answer from the index alone.
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).all()
            return "\n".join(str(r[0]) for r in rows)
    finally:
        engine.dispose()


def test_the_warning_scan_uses_the_due_index(fresh_db_url: Callable[[], str]) -> None:
    """The scan is a range scan of the partial index of the orders with a warning to send, never a scan of
    the table."""
    url = fresh_db_url()
    migrate(MIGRATIONS, url)
    text = plan(url)
    assert INDEX in text, text
    assert "SCAN preservation_orders\n" not in text + "\n" and "Seq Scan" not in text, text


def test_the_scan_reads_timestamps_in_utc_as_they_are_and_keeps_its_pages_cached(
    fresh_db_url: Callable[[], str],
) -> None:
    """On the service's own connection (jitlib.db.Database) a timestamp comes back as datetime.UTC itself on
    PostgreSQL (the session's zone set to UTC, whatever the server's), so jitlib.clock.as_utc passes it
    through; the same instant as written. SQLite keeps a page cache of SQLITE_CACHE_KIB per connection."""
    url = fresh_db_url()
    migrate(MIGRATIONS, url)
    db = Database(url)
    try:
        at = datetime(2026, 6, 1, 12, 30, 15, 250, tzinfo=UTC)
        with Session(db.engine) as session, session.begin():
            conn = session.connection()
            if db.sqlite:
                assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -SQLITE_CACHE_KIB
            read = conn.execute(select(literal(at, TS))).scalar_one()
        assert as_utc(read) == at
        if not db.sqlite:
            assert read.tzinfo is UTC
    finally:
        db.dispose()
