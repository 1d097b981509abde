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

from jitlib import sealing
from jitlib.db import SQLITE_CHECKPOINT_EVERY, SQLITE_WAL_PAGES, Database
from tests.harness import eventually


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


def test_the_wal_is_checkpointed_by_a_thread_of_its_own_not_by_a_commit(db: Database, tmp_path: Path) -> None:
    """A commit checkpoints only at the WAL's bound; below it the database file grows only by the thread's
    checkpoints, which run after every ``SQLITE_CHECKPOINT_EVERY`` write units (``jitlib.db._Checkpointer``)."""
    main = tmp_path / "w.db"
    assert db.write_sync(lambda s: s.execute(text("PRAGMA wal_autocheckpoint")).scalar()) == SQLITE_WAL_PAGES
    db.write_sync(lambda s: s.execute(text("CREATE TABLE b (x BLOB)")))
    sqlite3.connect(main, isolation_level=None).execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    before = main.stat().st_size
    for _ in range(SQLITE_CHECKPOINT_EVERY * 2):  # about 4 pages a unit: far under the bound
        db.write_sync(lambda s: s.execute(text("INSERT INTO b VALUES (randomblob(12000))")))
    assert eventually(lambda: main.stat().st_size > before + 100 * 4096, timeout=10)
    thread = db._checkpointer._thread if db._checkpointer is not None else None
    assert thread is not None and thread.is_alive()
    db.dispose()
    assert not thread.is_alive()


def test_a_wipe_after_a_shred_truncates_the_wal_even_when_the_thread_is_checkpointing(
    db: Database, tmp_path: Path
) -> None:
    """``sealing.wipe_freed``'s truncating checkpoint is refused (busy) while the thread's runs: it tries again.
    Each round wipes right after the unit that set the thread going."""
    db.write_sync(lambda s: s.execute(text("CREATE TABLE b (x BLOB)")))
    for _ in range(10):
        for _ in range(SQLITE_CHECKPOINT_EVERY):
            db.write_sync(lambda s: s.execute(text("INSERT INTO b VALUES (randomblob(40000))")))
        sealing.wipe_freed(db.engine)
        assert (tmp_path / "w.db-wal").stat().st_size == 0
