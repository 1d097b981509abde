"""SQLite's write units of work on the writers' kept connection (``jitlib.db.Database``): each its own
transaction, taken with ``BEGIN IMMEDIATE``, all or nothing, seen by the pool's readers once committed."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from sqlalchemy import column, event, func, select, table, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jitlib import sealing
from jitlib.db import SQLITE_CHECKPOINT_EVERY, SQLITE_WAL_PAGES, Database, migrate
from jitlib.sqlexec import CompiledInsert, CompiledSelect
from services.tasks.app import MIGRATIONS
from services.tasks.store import RUNTIME
from tests.harness import eventually
from tests.unit.test_sqlexec import outbox_row, pending_row


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


def test_a_read_unit_runs_on_the_writers_connection_without_the_write_lock(db: Database, tmp_path: Path) -> None:
    """A read on the connection that wrote keeps SQLite's page cache, which a write by another connection
    resets; it takes no write lock, sees what was committed, and leaves no transaction open."""
    db.write_sync(lambda s: s.execute(text("INSERT INTO t VALUES (1)")))
    other = sqlite3.connect(tmp_path / "w.db", timeout=0, isolation_level=None)
    seen: list[object] = []

    def unit(session: Session) -> list[int]:
        seen.append(session.connection().connection.dbapi_connection)
        values = [r[0] for r in session.execute(text("SELECT x FROM t"))]
        other.execute("BEGIN IMMEDIATE")  # another writer is not locked out by a read
        other.execute("INSERT INTO t VALUES (2)")
        other.execute("COMMIT")
        return values

    assert asyncio.run(db.read(unit)) == [1]
    other.close()
    kept = db._write_conn
    assert kept is not None and seen == [kept.connection.dbapi_connection]
    assert not kept.in_transaction()
    assert _values(db) == [1, 2]
    db.write_sync(lambda s: s.execute(text("INSERT INTO t VALUES (3)")))  # the next write takes the lock again
    assert _values(db) == [1, 2, 3]


def test_a_read_units_statements_below_sqlalchemy_see_one_snapshot_in_the_drivers_own_transaction(
    db: Database, tmp_path: Path
) -> None:
    """A read unit's statements on the driver's cursor (``CompiledSelect``: a list's pages) run in one read
    transaction of the driver's own, begun before the first: a write committed between two of them is not
    seen by the second. SQLAlchemy's transaction is not begun for them (its begin event never fires); a
    statement sent through SQLAlchemy in the same unit joins the driver's transaction (the same snapshot).
    The transaction ends with the unit, whether it returns or fails."""
    db.write_sync(lambda s: s.execute(text("INSERT INTO t VALUES (1)")))
    other = sqlite3.connect(tmp_path / "w.db", timeout=0, isolation_level=None)
    count = CompiledSelect(select(func.count()).select_from(table("t", column("x"))))
    begun: list[object] = []
    event.listen(db.engine, "begin", begun.append)

    def unit(session: Session) -> tuple[int, int, int, int]:
        first = count.rows(session)[0][0]
        other.execute("INSERT INTO t VALUES (2)")  # committed by another connection meanwhile
        second = count.rows(session)[0][0]
        began_before = len(begun)
        through_sqlalchemy = session.scalar(text("SELECT count(*) FROM t"))
        return first, second, began_before, through_sqlalchemy

    assert asyncio.run(db.read(unit)) == (1, 1, 0, 1)
    assert len(begun) == 1  # the statement through SQLAlchemy's, which joined the driver's transaction

    def fails(session: Session) -> None:
        count.rows(session)
        raise RuntimeError("after a read")

    with pytest.raises(RuntimeError):
        asyncio.run(db.read(fails))
    other.close()
    kept = db._write_conn
    assert kept is not None and not kept.in_transaction()
    assert not kept.connection.driver_connection.in_transaction  # type: ignore[attr-defined]
    assert _values(db) == [1, 2]  # the next read sees the write
    db.write_sync(lambda s: s.execute(text("INSERT INTO t VALUES (3)")))  # and the next write takes the lock
    assert _values(db) == [1, 2, 3]


def test_a_read_unit_on_sqlite_refuses_a_write_and_writes_nothing(db: Database) -> None:
    def writes(session: Session) -> None:
        session.execute(text("INSERT INTO t VALUES (9)"))

    with pytest.raises(Exception, match="a read unit of work sent 'INSERT INTO t"):
        asyncio.run(db.read(writes))
    assert _values(db) == []
    db.write_sync(lambda s: s.execute(text("INSERT INTO t VALUES (1)")))
    assert _values(db) == [1]


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


def test_a_wipe_while_a_reader_holds_an_older_snapshot_never_holds_the_writers_back(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A truncating checkpoint waits for the readers of older snapshots, and holds the writers back while it
    waits: ``sealing.wipe_freed`` tries it without waiting (busy: again 20 ms later; after a while, a warning),
    so writes go on while a long read holds its snapshot (an auditor's verify, on a connection of its own).
    (Waited out in SQLite's busy handler, a writer waited up to the wiping connection's 30 s: here each try
    of the wipe refused the writer, whose own wait is 1 s.)"""
    monkeypatch.setattr(sealing, "_WIPE_WITHIN", 0.1)
    db.write_sync(lambda s: s.execute(text("CREATE TABLE b (x BLOB)")))
    reader = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
    writer = sqlite3.connect(tmp_path / "w.db", isolation_level=None, timeout=1.0)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM b").fetchone()  # its snapshot, held
        db.write_sync(lambda s: s.execute(text("INSERT INTO b VALUES (randomblob(100))")))  # frames after it
        wiping = threading.Thread(target=sealing.wipe_freed, args=(db.engine,))
        refused: list[str] = []
        with caplog.at_level(logging.WARNING, logger=sealing.log.name):
            wiping.start()
            while True:
                try:
                    writer.execute("BEGIN IMMEDIATE")
                    writer.execute("INSERT INTO b VALUES (x'00')")
                    writer.execute("COMMIT")
                except sqlite3.OperationalError as e:
                    refused.append(str(e))
                if not wiping.is_alive():
                    break
            wiping.join()
        assert refused == []
        assert "the WAL stayed busy" in caplog.text
        reader.execute("ROLLBACK")
        sealing.wipe_freed(db.engine)  # no reader left: truncated
        assert (tmp_path / "w.db-wal").stat().st_size == 0
        with db.engine.connect() as conn:  # the pooled connection waits for locks again
            assert conn.connection.driver_connection.execute("PRAGMA busy_timeout").fetchone() == (30000,)
    finally:
        reader.close()
        writer.close()


# -- a create's unit (``write(on_loop=True)``): its INSERTs alone, below the session's transaction -----------


@pytest.fixture
def tasks_db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    migrate(MIGRATIONS, url)
    database = Database(url)
    yield database
    database.dispose()


OUTBOX = CompiledInsert(RUNTIME.outbox)
PENDING = CompiledInsert(RUNTIME.audit_pending)


def _ids(database: Database) -> list[str]:
    return asyncio.run(database.read(lambda s: sorted(s.execute(select(RUNTIME.outbox.c.id)).scalars())))


def _entries(database: Database) -> list[str]:
    return asyncio.run(database.read(lambda s: sorted(s.execute(select(RUNTIME.audit_pending.c.record_id)).scalars())))


def test_a_unit_of_inserts_alone_runs_below_the_sessions_transaction_and_anything_else_again(
    tasks_db: Database, spans: Any
) -> None:
    """A unit whose writes are all deferred INSERTs runs once: its statements go out between ``BEGIN
    IMMEDIATE`` and ``COMMIT`` on the writers' connection, without the session's transaction (no begin event
    of SQLAlchemy's), each counted, its commit's listeners called once after it. A unit that sends any other
    statement is dropped, its transaction rolled back, and runs again as any unit, once committed."""
    runs: list[str] = []
    committed: list[object] = []
    begins: list[object] = []
    tasks_db.on_commit(lambda s: committed.append(s.info.get("unit")))
    event.listen(tasks_db.engine, "begin", lambda conn: begins.append(conn))

    def inserts(name: str) -> Callable[[Session], str]:
        def write(s: Session) -> str:
            runs.append(name)
            s.info["unit"] = name
            OUTBOX.execute(s, outbox_row(name))
            OUTBOX.execute(s, [outbox_row(name + "2"), outbox_row(name + "3")])
            PENDING.execute(s, pending_row(name))
            return name

        return write

    def reads(s: Session) -> int:
        runs.append("read")
        s.info["unit"] = "read"
        OUTBOX.execute(s, outbox_row("r"))
        return len(s.execute(select(RUNTIME.outbox.c.id)).all())  # a statement: not deferred

    async def units() -> list[object]:
        return [
            await tasks_db.write(inserts("a"), on_loop=True),
            await tasks_db.write(inserts("b"), on_loop=True),
            await tasks_db.write(reads, on_loop=True),
        ]

    with trace.get_tracer("test").start_as_current_span("units") as outer:
        assert asyncio.run(units()) == ["a", "b", 7]
    assert runs == ["a", "b", "read", "read"]
    assert committed == ["a", "b", "read"]
    assert len(begins) == 2  # the read's two runs; the inserts' units began no session transaction
    assert _ids(tasks_db) == ["a", "a2", "a3", "b", "b2", "b3", "r"] and _entries(tasks_db) == ["a", "b"]
    trace_id = outer.get_span_context().trace_id
    writes = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id and s.name == "db write"]
    assert [s.attributes["db.statement_count"] for s in writes] == [3, 3, 2]


def test_a_duplicate_in_a_unit_of_inserts_alone_writes_none_of_it(tasks_db: Database) -> None:
    async def unit(fn: Callable[[Session], None]) -> None:
        await tasks_db.write(fn, on_loop=True)

    asyncio.run(unit(lambda s: OUTBOX.execute(s, outbox_row("a"))))

    def write(s: Session) -> None:
        PENDING.execute(s, pending_row("b"))
        OUTBOX.execute(s, outbox_row("b"))
        OUTBOX.execute(s, outbox_row("a"))  # the duplicate key, after two INSERTs of the same transaction

    with pytest.raises(IntegrityError):
        asyncio.run(unit(write))
    assert _ids(tasks_db) == ["a"] and _entries(tasks_db) == []

    def fails(s: Session) -> None:
        OUTBOX.execute(s, outbox_row("f"))
        raise RuntimeError("refused")  # the unit itself fails: nothing of it is sent

    with pytest.raises(RuntimeError):
        asyncio.run(unit(fails))
    # The writers' connection is left out of any transaction: the next units, deferred or not, commit.
    asyncio.run(unit(lambda s: OUTBOX.execute(s, outbox_row("c"))))
    tasks_db.write_sync(lambda s: OUTBOX.execute(s, outbox_row("d")))
    assert _ids(tasks_db) == ["a", "c", "d"]
