"""``jitlib.db.Database`` on PostgreSQL without a ping per checkout: a write unit of work's INSERT rows
(``jitlib.sqlexec.CompiledInsert``) go out as one statement, all or nothing, seen by the unit's later
statements; and connections the server closed between units of work (``pg_terminate_backend``) are
replaced, the unit of work that met one running again on a new connection."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from sqlalchemy import String, create_engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from jitlib import db, sqlexec
from services.tasks.app import MIGRATIONS
from services.tasks.store import RUNTIME
from tests.harness import eventually
from tests.unit.test_sqlexec import AT, outbox_row


def _entry(record_id: str) -> dict[str, object]:
    return {
        "occurred_at": AT,
        "time_zone": "UTC",
        "user_id": "u1",
        "username": "nl-prosecutor",
        "jurisdiction": "NL",
        "operation": "create",
        "record_type": "task",
        "record_id": record_id,
        "workspace_id": "ws",
        "outcome": "ok",
    }


OUTBOX = sqlexec.CompiledInsert(RUNTIME.outbox)
PENDING = sqlexec.CompiledInsert(RUNTIME.audit_pending)


@pytest.fixture
def database(postgres: Any) -> Iterator[db.Database]:
    url = str(postgres.create_database(f"dbtest_{uuid.uuid4().hex[:12]}"))
    db.migrate(MIGRATIONS, url)
    database = db.Database(url, pool_size=2)
    yield database
    database.dispose()


def _ids(database: db.Database) -> list[str]:
    return database.write_sync(lambda s: sorted(s.execute(select(RUNTIME.outbox.c.id)).scalars()))


def _entries(database: db.Database) -> int:
    return int(database.write_sync(lambda s: s.scalar(select(func.count()).select_from(RUNTIME.audit_pending))))


def _counted(database: db.Database, spans: Any, fn: Any) -> tuple[Any, int]:
    """``fn``'s result and the statements its unit of work sent (its ``db write`` span's count)."""
    with trace.get_tracer("test").start_as_current_span("unit") as outer:
        result = database.write_sync(fn)
    trace_id = outer.get_span_context().trace_id
    (write,) = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id and s.name == "db write"]
    return result, write.attributes["db.statement_count"]


def test_a_units_inserts_are_one_statement_and_its_later_reads_see_them(database: db.Database, spans: Any) -> None:
    def write(s: Session) -> None:
        OUTBOX.execute(s, outbox_row("a"))
        OUTBOX.execute(s, [outbox_row("b"), outbox_row("c")])
        PENDING.execute(s, _entry("a"))

    _, statements = _counted(database, spans, write)
    assert statements == 1
    assert _ids(database) == ["a", "b", "c"] and _entries(database) == 1

    def write_then_read(s: Session) -> list[str]:
        OUTBOX.execute(s, outbox_row("d"))
        return sorted(s.execute(select(RUNTIME.outbox.c.id)).scalars())

    seen, statements = _counted(database, spans, write_then_read)
    assert seen == ["a", "b", "c", "d"] and statements == 2


def test_a_duplicate_in_a_units_statement_writes_none_of_it(database: db.Database) -> None:
    database.write_sync(lambda s: OUTBOX.execute(s, outbox_row("a")))

    def write(s: Session) -> None:
        PENDING.execute(s, _entry("b"))
        OUTBOX.execute(s, outbox_row("b"))
        OUTBOX.execute(s, outbox_row("a"))  # the duplicate key, in the same statement as the others

    with pytest.raises(IntegrityError):
        database.write_sync(write)
    assert _ids(database) == ["a"] and _entries(database) == 0
    # The connection went back to the pool usable, out of autocommit.
    database.write_sync(lambda s: OUTBOX.execute(s, outbox_row("c")))
    database.write_sync(lambda s: OUTBOX.execute(s, outbox_row("d")) or s.execute(select(1)))
    assert _ids(database) == ["a", "c", "d"]


class _Base(DeclarativeBase):
    pass


class Note(_Base):
    """A row the ORM writes at the unit's end (at its flush), after the unit's deferred INSERTs."""

    __tablename__ = "test_notes"
    id: Mapped[str] = mapped_column(String(10), primary_key=True)


def test_a_units_inserts_commit_with_the_orms_writes_or_not_at_all(database: db.Database) -> None:
    _Base.metadata.create_all(database.engine)
    database.write_sync(lambda s: s.add(Note(id="n")))

    def write(s: Session) -> None:
        OUTBOX.execute(s, outbox_row("x"))
        s.add(Note(id="n"))  # a duplicate, found when the ORM flushes, after the INSERT was deferred

    with pytest.raises(IntegrityError):
        database.write_sync(write)
    assert _ids(database) == []
    database.write_sync(lambda s: OUTBOX.execute(s, outbox_row("y")) or s.add(Note(id="m")))
    assert _ids(database) == ["y"]
    assert database.write_sync(lambda s: sorted(s.execute(select(Note.id)).scalars())) == ["m", "n"]


def _terminate(database: db.Database, admin: Any, pids: set[int]) -> None:
    """End the server processes ``pids`` and wait until they are gone."""
    with admin.connect() as conn:
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    def gone() -> bool:
        with admin.connect() as conn:
            alive = set(conn.execute(text("SELECT pid FROM pg_stat_activity")).scalars())
        return not (alive & pids)

    eventually(gone)


def _backend(s: Session) -> int:
    return int(s.scalar(text("SELECT pg_backend_pid()")))


def test_connections_the_server_closed_are_replaced_without_a_ping(database: db.Database) -> None:
    admin = create_engine(database.url)
    try:
        # Two connections in the pool, each used by a unit of work.
        first = database.write_sync(_backend)
        database.write_sync(lambda s: OUTBOX.execute(s, outbox_row("a")))
        with database.engine.connect() as c1, database.engine.connect() as c2:
            pids = {int(c1.scalar(text("SELECT pg_backend_pid()"))), int(c2.scalar(text("SELECT pg_backend_pid()")))}
        assert first in pids
        _terminate(database, admin, pids)
        # A write of INSERTs alone (the lone statement), a write that reads, and a read: all on new connections.
        database.write_sync(lambda s: OUTBOX.execute(s, outbox_row("b")))
        assert database.write_sync(_backend) not in pids
        assert _ids(database) == ["a", "b"]
    finally:
        admin.dispose()


def test_a_unit_that_finds_its_connection_lost_runs_again(database: db.Database) -> None:
    admin = create_engine(database.url)
    runs: list[int] = []
    try:

        def write(s: Session) -> None:
            pid = _backend(s)
            runs.append(pid)
            if len(runs) == 1:  # lost while the unit runs, before it committed anything
                _terminate(database, admin, {pid})
            OUTBOX.execute(s, outbox_row(f"e{len(runs)}"))
            s.execute(select(1))  # sends the INSERT, in the unit's transaction

        database.write_sync(write)
        assert len(runs) == 2 and runs[0] != runs[1]
        assert _ids(database) == ["e2"]
    finally:
        admin.dispose()
