"""``jitlib.db.Database`` on PostgreSQL without a ping per checkout: a write unit of work's INSERT rows
(``jitlib.sqlexec.CompiledInsert``) go out as one statement, all or nothing, seen by the unit's later
statements; and connections the server closed between units of work (``pg_terminate_backend``) are
replaced, the unit of work that met one running again on a new connection."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from opentelemetry import trace
from sqlalchemy import String, create_engine, event, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from jitlib import audit, db, sqlexec
from services.tasks.app import MIGRATIONS
from services.tasks.store import RUNTIME
from tests.harness import eventually
from tests.unit.test_audit_chain import verify_reads_one_snapshot_while_a_pruning_commits
from tests.unit.test_sqlexec import AT, outbox_row, pending_row

OUTBOX = sqlexec.CompiledInsert(RUNTIME.outbox)
PENDING = sqlexec.CompiledInsert(RUNTIME.audit_pending)


@pytest.fixture
def database(postgres: Any) -> Iterator[db.Database]:
    url = str(postgres.create_database(f"dbtest_{uuid.uuid4().hex[:12]}"))
    db.migrate(MIGRATIONS, url)
    database = db.Database(url, pool_size=2)
    yield database
    database.dispose()


Unit = Callable[[Callable[[Session], Any]], Any]


@pytest.fixture(params=["caller", "worker", "loop"])
def unit(request: pytest.FixtureRequest, database: db.Database) -> Unit:
    """Runs a write unit of work in the calling thread, on a connection checked out of the pool for it, or
    as the service does, on one of the database's worker threads, on the connection that thread keeps, or
    as the service runs a create, on the event loop first (``on_loop``: its INSERTs alone sent from there,
    anything else run again on a worker thread)."""
    if request.param == "caller":
        return database.write_sync
    on_loop = request.param == "loop"
    return lambda fn: asyncio.run(database.write(fn, on_loop=on_loop))


def _ids(database: db.Database) -> list[str]:
    return database.write_sync(lambda s: sorted(s.execute(select(RUNTIME.outbox.c.id)).scalars()))


def _entries(database: db.Database) -> int:
    return int(database.write_sync(lambda s: s.scalar(select(func.count()).select_from(RUNTIME.audit_pending))))


def _counted(unit: Unit, spans: Any, fn: Any) -> tuple[Any, int]:
    """``fn``'s result and the statements its unit of work sent (its ``db write`` span's count)."""
    with trace.get_tracer("test").start_as_current_span("unit") as outer:
        result = unit(fn)
    trace_id = outer.get_span_context().trace_id
    (write,) = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id and s.name == "db write"]
    return result, write.attributes["db.statement_count"]


def test_a_units_inserts_are_one_statement_and_its_later_reads_see_them(
    database: db.Database, unit: Unit, spans: Any
) -> None:
    def write(s: Session) -> None:
        OUTBOX.execute(s, outbox_row("a"))
        OUTBOX.execute(s, [outbox_row("b"), outbox_row("c")])
        PENDING.execute(s, pending_row("a"))

    _, statements = _counted(unit, spans, write)
    assert statements == 1
    assert _ids(database) == ["a", "b", "c"] and _entries(database) == 1

    def write_then_read(s: Session) -> list[str]:
        OUTBOX.execute(s, outbox_row("d"))
        return sorted(s.execute(select(RUNTIME.outbox.c.id)).scalars())

    seen, statements = _counted(unit, spans, write_then_read)
    assert seen == ["a", "b", "c", "d"] and statements == 2


def test_a_duplicate_in_a_units_statement_writes_none_of_it(database: db.Database, unit: Unit) -> None:
    unit(lambda s: OUTBOX.execute(s, outbox_row("a")))

    def write(s: Session) -> None:
        PENDING.execute(s, pending_row("b"))
        OUTBOX.execute(s, outbox_row("b"))
        OUTBOX.execute(s, outbox_row("a"))  # the duplicate key, in the same statement as the others

    with pytest.raises(IntegrityError):
        unit(write)
    assert _ids(database) == ["a"] and _entries(database) == 0
    # The connection went back to the pool (or stays with its thread) usable, out of autocommit.
    unit(lambda s: OUTBOX.execute(s, outbox_row("c")))
    unit(lambda s: OUTBOX.execute(s, outbox_row("d")) or s.execute(select(1)))
    assert _ids(database) == ["a", "c", "d"]


class _Base(DeclarativeBase):
    pass


class Note(_Base):
    """A row the ORM writes at the unit's end (at its flush), after the unit's deferred INSERTs."""

    __tablename__ = "test_notes"
    id: Mapped[str] = mapped_column(String(10), primary_key=True)


def test_a_units_inserts_commit_with_the_orms_writes_or_not_at_all(database: db.Database, unit: Unit) -> None:
    _Base.metadata.create_all(database.engine)
    unit(lambda s: s.add(Note(id="n")))

    def write(s: Session) -> None:
        OUTBOX.execute(s, outbox_row("x"))
        s.add(Note(id="n"))  # a duplicate, found when the ORM flushes, after the INSERT was deferred

    with pytest.raises(IntegrityError):
        unit(write)
    assert _ids(database) == []
    unit(lambda s: OUTBOX.execute(s, outbox_row("y")) or s.add(Note(id="m")))
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


def test_connections_the_server_closed_are_replaced_without_a_ping(database: db.Database, unit: Unit) -> None:
    admin = create_engine(database.url)
    try:
        # Units of work on the connections the database holds (pooled, or kept by its worker threads).
        used = {unit(_backend) for _ in range(3)}
        unit(lambda s: OUTBOX.execute(s, outbox_row("a")))
        pids = _connections(database, admin)
        assert used <= pids
        _terminate(database, admin, pids)
        # A write of INSERTs alone (the lone statement), a write that reads, and a read: all on new connections.
        unit(lambda s: OUTBOX.execute(s, outbox_row("b")))
        assert unit(_backend) not in pids
        assert _ids(database) == ["a", "b"]
    finally:
        admin.dispose()


def _connections(database: db.Database, admin: Any) -> set[int]:
    """The server processes of every connection ``database`` holds open."""
    name = database.engine.url.database
    with admin.connect() as conn:
        found = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name}
        )
        return set(found.scalars())


def test_a_unit_that_finds_its_connection_lost_runs_again(database: db.Database, unit: Unit) -> None:
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

        unit(write)
        assert len(runs) == 2 and runs[0] != runs[1]
        assert _ids(database) == ["e2"]
    finally:
        admin.dispose()


def test_a_worker_thread_keeps_one_connection_for_its_units_and_dispose_closes_it(postgres: Any) -> None:
    url = str(postgres.create_database(f"dbtest_{uuid.uuid4().hex[:12]}"))
    db.migrate(MIGRATIONS, url)
    database = db.Database(url, pool_size=1)  # one worker thread
    checkouts: list[int] = []
    event.listen(database.engine, "checkout", lambda *_: checkouts.append(1))
    admin = create_engine(database.url)
    try:

        async def units() -> list[int]:
            pids = [await database.write(_backend), await database.read(_backend)]
            await database.write(lambda s: OUTBOX.execute(s, outbox_row("a")))
            with pytest.raises(IntegrityError):
                await database.write(lambda s: OUTBOX.execute(s, outbox_row("a")))
            pids += [await database.write(_backend), await database.read(_backend)]
            return pids

        pids = asyncio.run(units())
        assert len(set(pids)) == 1 and len(checkouts) == 1
        assert _connections(database, admin) == set(pids)
        database.dispose()
        eventually(lambda: not _connections(database, admin))
    finally:
        database.dispose()
        admin.dispose()


def test_a_unit_of_inserts_alone_runs_on_the_loop_and_anything_else_again_on_a_worker(database: db.Database) -> None:
    """``write(on_loop=True)``: a unit whose writes are all deferred INSERTs runs once, on the loop's thread,
    its statement sent from there on a connection kept for the next unit, its commit's listeners called
    there; a unit that sends any other statement is dropped unsent and runs again on a worker thread."""
    loop_thread = threading.get_ident()
    runs: list[tuple[str, int]] = []
    committed: list[tuple[int, object]] = []
    database.on_commit(lambda s: committed.append((threading.get_ident(), s.info.get("unit"))))

    def inserts(name: str) -> Callable[[Session], str]:
        def write(s: Session) -> str:
            runs.append((name, threading.get_ident()))
            s.info["unit"] = name
            OUTBOX.execute(s, outbox_row(name))
            PENDING.execute(s, pending_row(name))
            return name

        return write

    def reads(s: Session) -> int:
        runs.append(("read", threading.get_ident()))
        s.info["unit"] = "read"
        OUTBOX.execute(s, outbox_row("r"))
        return len(s.execute(select(RUNTIME.outbox.c.id)).all())  # a statement: not on the loop

    async def units() -> list[object]:
        return [
            await database.write(inserts("a"), on_loop=True),
            await database.write(inserts("b"), on_loop=True),
            await database.write(reads, on_loop=True),
        ]

    assert asyncio.run(units()) == ["a", "b", 3]
    assert runs[:2] == [("a", loop_thread), ("b", loop_thread)]
    assert [name for name, _ in runs[2:]] == ["read", "read"] and runs[2][1] == loop_thread != runs[3][1]
    assert committed == [(loop_thread, "a"), (loop_thread, "b"), (runs[3][1], "read")]
    assert _ids(database) == ["a", "b", "r"] and _entries(database) == 2


def test_the_loops_connections_the_server_closed_are_replaced(database: db.Database) -> None:
    """A connection the loop sends its statements on, ended by the server between two units, is replaced
    before the next unit's statement goes out (no error, nothing written twice)."""
    admin = create_engine(database.url)

    async def units() -> None:
        await database.write(lambda s: OUTBOX.execute(s, outbox_row("a")), on_loop=True)
        _terminate(database, admin, _connections(database, admin))
        await database.write(lambda s: OUTBOX.execute(s, outbox_row("b")), on_loop=True)
        await database.write(lambda s: OUTBOX.execute(s, outbox_row("c")), on_loop=True)

    try:
        asyncio.run(units())
        assert _ids(database) == ["a", "b", "c"]
    finally:
        admin.dispose()


#: What a read on the loop may run: SELECTs below SQLAlchemy's execution (``CompiledSelect``).
_OUTBOX_IDS = sqlexec.CompiledSelect(select(RUNTIME.outbox.c.id).order_by(RUNTIME.outbox.c.id))
_OUTBOX_ROWS = sqlexec.CompiledSelect(select(RUNTIME.outbox).order_by(RUNTIME.outbox.c.id))
_ENTRIES = sqlexec.CompiledSelect(select(func.count()).select_from(RUNTIME.audit_pending))


def test_a_read_of_compiled_selects_runs_on_the_loop_and_anything_else_again_on_a_worker(
    database: db.Database, spans: Any
) -> None:
    """``read(on_loop=True)``: a unit whose statements are all ``CompiledSelect``s runs once, on the loop's
    thread, each statement awaited there (counted in its one ``db read`` span), with the rows a worker's
    read gives; a unit that would send anything else through its session runs again from the start on a
    worker thread; a statement that is not a read is refused there as on a worker, nothing written."""
    loop_thread = threading.get_ident()
    runs: list[tuple[str, int]] = []

    def selects(s: Session) -> tuple[list[str], int]:
        runs.append(("selects", threading.get_ident()))
        ids = [r[0] for r in _OUTBOX_IDS.rows(s)]
        # Nothing is begun on the connection the loop's units share: its session only gives the dialect.
        assert not s.get_bind().in_transaction()
        return ids, _ENTRIES.rows(s)[0][0]

    def whole_rows(s: Session) -> list[tuple[Any, ...]]:  # every column's type, as a worker reads it
        return _OUTBOX_ROWS.converted(s, {})

    def then_orm(s: Session) -> tuple[list[str], int]:
        runs.append(("then_orm", threading.get_ident()))
        ids = [r[0] for r in _OUTBOX_IDS.rows(s)]
        return ids, len(s.execute(select(RUNTIME.audit_pending.c.id)).all())

    returning = sqlexec.CompiledSelect(update(RUNTIME.outbox).values(subject="x").returning(RUNTIME.outbox.c.id))

    async def units() -> list[object]:
        await database.write(lambda s: [OUTBOX.execute(s, outbox_row(n)) for n in "abc"])
        await database.write(lambda s: PENDING.execute(s, pending_row("p")))
        found: list[object] = []
        with trace.get_tracer("test").start_as_current_span("unit") as outer:
            found.append(await database.read(selects, on_loop=True))
        found.append(await database.read(then_orm, on_loop=True))
        assert await database.read(whole_rows, on_loop=True) == await database.read(whole_rows)
        with pytest.raises(sqlexec.ReadOnly):
            await database.read(lambda s: returning.rows(s), on_loop=True)
        found.append(outer.get_span_context().trace_id)
        return found

    by_loop, by_worker, trace_id = asyncio.run(units())
    assert by_loop == by_worker == (["a", "b", "c"], 1)
    assert runs[0] == ("selects", loop_thread)
    assert [name for name, _ in runs[1:]] == ["then_orm", "then_orm"] and runs[1][1] == loop_thread != runs[2][1]
    (read,) = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id and s.name == "db read"]
    assert read.attributes["db.statement_count"] == 2
    assert database.write_sync(lambda s: s.scalar(select(func.count()).where(RUNTIME.outbox.c.subject == "x"))) == 0


def test_reads_on_the_loop_beside_its_writes_share_its_connection_and_lose_nothing(database: db.Database) -> None:
    """Many reads on the loop at once, each awaiting its statements, beside writes sent from the loop at
    the same time: every read sees what was committed before it began, every write is committed once, and
    the connection the loop's units are bound to is left with no transaction begun on it."""

    def ids(s: Session) -> list[str]:
        first = [r[0] for r in _OUTBOX_IDS.rows(s)]
        assert _ENTRIES.rows(s)[0][0] >= 0  # a second statement awaited while others run
        return first

    async def units() -> list[list[str]]:
        await database.write(lambda s: OUTBOX.execute(s, outbox_row("a")), on_loop=True)
        reads = [database.read(ids, on_loop=True) for _ in range(20)]
        writes = [
            database.write(lambda s, i=i: PENDING.execute(s, pending_row(f"p{i}")), on_loop=True) for i in range(20)
        ]
        found = await asyncio.gather(*reads, *writes)
        return found[:20]

    assert asyncio.run(units()) == [["a"]] * 20
    assert _entries(database) == 20
    assert database._loop_conn is not None and not database._loop_conn.in_transaction()


def test_a_read_finding_every_connection_of_the_loop_busy_goes_to_a_worker_at_once(database: db.Database) -> None:
    """While each of the loop's connections runs a statement (here two slow reads: the fixture's pool of
    two gives the loop two), a read asked on the loop goes to a worker thread at once, runs there once and
    answers before them, instead of waiting for a connection of the loop."""
    slow = sqlexec.CompiledSelect(select(func.pg_sleep(0.5)))
    runs: list[tuple[str, int]] = []

    def sleeper(s: Session) -> str:
        runs.append(("slow", threading.get_ident()))
        slow.rows(s)
        return "slow"

    def quick(s: Session) -> str:
        runs.append(("quick", threading.get_ident()))
        return str(_ENTRIES.rows(s)[0][0])

    async def units() -> list[str]:
        done: list[str] = []
        sleepers = [asyncio.ensure_future(database.read(sleeper, on_loop=True)) for _ in range(2)]
        await asyncio.sleep(0.2)  # both statements sent and running
        done.append(await database.read(quick, on_loop=True))
        done += await asyncio.gather(*sleepers)
        return done

    loop_thread = threading.get_ident()
    assert asyncio.run(units()) == ["0", "slow", "slow"]
    assert [name for name, _ in runs] == ["slow", "slow", "quick"]
    assert runs[0][1] == runs[1][1] == loop_thread != runs[2][1]


def test_a_read_on_the_loop_whose_connection_is_lost_runs_again_on_a_worker(database: db.Database) -> None:
    """A read on the loop whose connection the server ends while its statement runs (here the statement
    ends it) runs again from the start on a worker thread, and answers; a connection the server closed
    between reads is replaced before the next read's statement goes out."""
    admin = create_engine(database.url)
    killer = sqlexec.CompiledSelect(select(func.pg_terminate_backend(func.pg_backend_pid())))
    runs: list[int] = []

    def read(s: Session) -> list[str]:
        runs.append(threading.get_ident())
        if len(runs) == 1:
            killer.rows(s)
        return [r[0] for r in _OUTBOX_IDS.rows(s)]

    async def units() -> list[list[str]]:
        await database.write(lambda s: OUTBOX.execute(s, outbox_row("a")), on_loop=True)
        first = await database.read(read, on_loop=True)
        _terminate(database, admin, _connections(database, admin))
        return [first, await database.read(read, on_loop=True)]

    try:
        assert asyncio.run(units()) == [["a"], ["a"]]
        assert len(runs) == 3 and runs[0] == runs[2] == threading.get_ident() != runs[1]
    finally:
        admin.dispose()


def test_a_read_unit_runs_in_autocommit_refuses_writes_and_leaves_its_connection_for_transactions(
    postgres: Any,
) -> None:
    """A read unit of work on a worker thread's kept connection sends its statements without ``BEGIN`` and
    ``ROLLBACK`` (no transaction is open on the server while it runs), except one that streams from a
    server-side cursor; a statement that is not a read is refused there, on SQLAlchemy's execution and on
    the DBAPI cursor alike, and nothing of it is written; and the same connection's next write unit is one
    transaction again, all or nothing."""
    from psycopg.pq import TransactionStatus

    url = str(postgres.create_database(f"dbtest_{uuid.uuid4().hex[:12]}"))
    db.migrate(MIGRATIONS, url)
    database = db.Database(url, pool_size=1)  # one worker thread, one kept connection

    def status(s: Session) -> tuple[int, Any]:
        found = len(s.execute(select(RUNTIME.outbox.c.id)).all())
        return found, s.connection().connection.driver_connection.info.transaction_status

    async def units() -> None:
        await database.write(lambda s: OUTBOX.execute(s, outbox_row("a")))
        assert await database.read(status) == (1, TransactionStatus.IDLE)
        assert await database.read(status, streamed=True) == (1, TransactionStatus.INTRANS)
        with pytest.raises(sqlexec.ReadOnly):
            await database.read(lambda s: OUTBOX.execute(s, outbox_row("b")))
        with pytest.raises(sqlexec.ReadOnly):
            await database.read(lambda s: s.execute(text("DELETE FROM outbox")))

        def write(s: Session) -> None:
            OUTBOX.execute(s, outbox_row("c"))
            s.execute(select(1))  # sends the INSERT, in the unit's transaction
            OUTBOX.execute(s, outbox_row("a"))  # the duplicate key

        with pytest.raises(IntegrityError):
            await database.write(write)

    try:
        asyncio.run(units())
        assert _ids(database) == ["a"]
    finally:
        database.dispose()


def test_verify_walks_to_the_head_it_read_while_a_chainer_links_more(
    database: db.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An auditor's verify (a streamed read at READ COMMITTED, as ``jitlib.audit_service`` runs it) while a
    service's chainer links entries: here a link from another connection commits just before verify reads
    the chain's head. The chain is intact, the entries linked then walked with the rest. (Read after the
    walk, the head was ahead of it: "entries after the last one were removed".)"""
    other = db.Database(str(database.engine.url.render_as_string(hide_password=False)), pool_size=1)
    try:
        database.write_sync(lambda s: audit.record(s, RUNTIME, [_audit_event(i) for i in range(5)], AT))
        database.write_sync(lambda s: audit.link(s, RUNTIME))
        database.write_sync(lambda s: audit.record(s, RUNTIME, [_audit_event(i) for i in range(5, 8)], AT))
        real_head, linked = audit.head, []

        def head_after_a_link(session: Session, tables: Any) -> tuple[int, str]:
            if not linked:
                linked.append(other.write_sync(lambda s: audit.link(s, RUNTIME)))
            return real_head(session, tables)

        monkeypatch.setattr(audit, "head", head_after_a_link)
        report = asyncio.run(database.read(lambda s: audit.verify(s, RUNTIME), streamed=True))
        assert linked == [3]
        assert report.intact, report
        assert report.head_seq == report.entries_checked == 8 and report.pending == 0
    finally:
        other.dispose()


def test_verify_reads_one_snapshot_while_a_pruning_commits(
    database: db.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An auditor's verify (a streamed read, as ``jitlib.audit_service`` runs it) while the retention sweep
    prunes the chain: here the pruning commits from another connection after verify read the chain's head
    and before it reads the checkpoint. Verify reads one snapshot, the chain before the pruning, and finds
    it intact; the next verify reads the pruned chain whole. (At READ COMMITTED, the new checkpoint beside
    the old head: "the checkpoint is not the one the last pruning recorded", a false alarm.)"""
    other = db.Database(str(database.engine.url.render_as_string(hide_password=False)), pool_size=1)
    try:
        database.write_sync(lambda s: audit.record(s, RUNTIME, [_audit_event(i) for i in range(6)], AT))
        database.write_sync(lambda s: audit.link(s, RUNTIME))
        verify_reads_one_snapshot_while_a_pruning_commits(database, other, monkeypatch, AT + timedelta(days=1))
    finally:
        other.dispose()


def _audit_event(i: int) -> audit.AuditEvent:
    return audit.AuditEvent("/jit.tasks.v1.TaskService/CreateTask", f"u{i}", "nl", "NL", "task", f"r{i}", "ws")
