"""SQLite's write units of work on the writers' kept connection (``jitlib.db.Database``): each its own
transaction, taken with ``BEGIN IMMEDIATE``, all or nothing, seen by the pool's readers once committed."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from jitlib.db import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    database.write_sync(lambda s: s.execute(text("CREATE TABLE t (x INTEGER)")))
    yield database
    database.dispose()


def _values(db: Database) -> list[int]:
    return asyncio.run(db.read(lambda s: [r[0] for r in s.execute(text("SELECT x FROM t ORDER BY x"))]))


def test_write_units_share_one_connection_kept_out_of_the_pool(db: Database) -> None:
    seen: list[object] = []

    def insert(session: Session, x: int) -> None:
        session.execute(text("INSERT INTO t VALUES (:x)"), {"x": x})
        seen.append(session.connection().connection.dbapi_connection)

    db.write_sync(lambda s: insert(s, 1))
    db.write_sync(lambda s: insert(s, 2))
    assert seen[0] is seen[1]
    assert db.engine.pool.checkedout() == 1  # the writers' connection; the reads' went back
    assert _values(db) == [1, 2]


def test_a_failed_unit_writes_nothing_and_the_next_one_commits(db: Database) -> None:
    def fails(session: Session) -> None:
        session.execute(text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        db.write_sync(fails)
    db.write_sync(lambda s: s.execute(text("INSERT INTO t VALUES (2)")))
    assert _values(db) == [2]


def test_a_write_unit_holds_the_write_lock_from_its_start(db: Database, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "w.db", timeout=0, isolation_level=None)
    refused: list[str] = []

    def unit(session: Session) -> None:
        session.execute(text("SELECT 1"))  # a read first: BEGIN IMMEDIATE took the lock before it anyway
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            refused.append(str(e))

    db.write_sync(unit)
    other.close()
    assert refused and "locked" in refused[0]


def test_a_closed_writers_connection_is_replaced(db: Database) -> None:
    db.write_sync(lambda s: s.execute(text("INSERT INTO t VALUES (1)")))
    kept = db._write_conn
    assert kept is not None
    kept.close()
    db.write_sync(lambda s: s.execute(text("INSERT INTO t VALUES (2)")))
    assert db._write_conn is not kept
    assert _values(db) == [1, 2]
