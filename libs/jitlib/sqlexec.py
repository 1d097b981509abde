"""The statements a unit of work runs, counted for its span, and the INSERTs of the create path, the
UPDATE of a record's change and the hot reads that fetch many rows run below SQLAlchemy's execution
machinery (``CompiledInsert``, ``CompiledUpdate``, ``CompiledSelect``), in one place.

On PostgreSQL a write unit of work defers its ``CompiledInsert`` rows (``deferring``) and sends them as
**one statement** (data-modifying CTEs: ``WITH w0 AS (INSERT ...), w1 AS (INSERT ...) INSERT ...``) just
before its next other statement, or at its end: a create's record, parties, outbox event and audit entry
cost one round trip instead of four, in the same transaction. When they are all the unit of work sent,
that statement is the whole transaction (``send``): PostgreSQL runs a lone statement atomically in a
transaction of its own, committed (with its fsync) before it answers, so no ``BEGIN`` nor ``COMMIT``
round trip is needed either."""

from __future__ import annotations

import collections
import contextvars
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, insert, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import ReturningUpdate
from sqlalchemy.util import await_only

T = TypeVar("T")

#: The statements of the unit of work running in this context, counted for its span (None: not counted).
statements: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("jit_db_statements", default=None)


#: When set (a test of a query's plan, the benchmark's ``--explain``), each SELECT run below SQLAlchemy's
#: execution (``CompiledSelect``) is added to it as (its SQL, the driver's parameters): SQLAlchemy's
#: ``before_cursor_execute`` event does not see it.
executed: contextvars.ContextVar[list[tuple[str, Any]] | None] = contextvars.ContextVar("jit_db_executed", default=None)


#: Set while a unit of work runs on the event loop (``jitlib.db.Database.write`` with ``on_loop``): a
#: statement it would send there raises ``NeedsThread`` instead, so the loop never waits for the database.
on_loop: contextvars.ContextVar[bool] = contextvars.ContextVar("jit_db_on_loop", default=False)


#: Set while a read unit of work runs on the event loop (``jitlib.db.Database.read`` with ``on_loop``, in a
#: greenlet of SQLAlchemy's ``greenlet_spawn``): what its SELECTs run below SQLAlchemy's execution
#: (``CompiledSelect``) are awaited on, on the loop (``await_only``), instead of being sent on the session's
#: connection; any other statement raises ``NeedsThread`` (``on_loop`` is set too).
loop_reads: contextvars.ContextVar[Callable[[str, Any], Awaitable[list[Any]]] | None] = contextvars.ContextVar(
    "jit_db_loop_reads", default=None
)


#: Set while a SQLite read unit of work runs in a read transaction begun on the driver's own connection
#: (``read_transaction``): what runs below SQLAlchemy's execution (``CompiledSelect``) goes out on the session's
#: bound connection as it is, without beginning SQLAlchemy's transaction on it (its transaction objects, its
#: begin and rollback events: a tenth of a page's read unit); a statement through SQLAlchemy begins it, and
#: it joins the driver's transaction (``jitlib.db``'s begin hook).
bare_reads: contextvars.ContextVar[bool] = contextvars.ContextVar("jit_db_bare_reads", default=False)


#: A read unit of work on PostgreSQL runs in autocommit (``jitlib.db.Database.read``): a statement that is not a
#: read would commit there, so it is refused (``refuse_writes``).
reading: contextvars.ContextVar[bool] = contextvars.ContextVar("jit_db_reading", default=False)


class ReadOnly(Exception):
    """A read unit of work was about to send a statement that is not a read (``reading``)."""


def refuse_writes(sql: str) -> None:
    """Raise ``ReadOnly`` when a read unit of work (``reading``) is about to send ``sql`` and it is not a
    SELECT, nor SQLite's query of a setting (``PRAGMA name``, without a value to set or an argument:
    ``PRAGMA secure_delete`` reads, ``PRAGMA secure_delete=OFF`` and ``PRAGMA wal_checkpoint(FULL)`` do
    not). A WITH query is refused too: on PostgreSQL its CTEs may modify data (a create's INSERTs go out
    so), and no read unit needs one."""
    if not reading.get():
        return
    text = sql.lstrip()
    verb = text[:7].split(None, 1)[0].upper() if text else ""
    if verb == "SELECT" or (verb == "PRAGMA" and "=" not in text and "(" not in text):
        return
    raise ReadOnly(f"a read unit of work sent {text[:40]!r}")


class NeedsThread(Exception):
    """A unit of work running on the event loop was about to send a statement (``on_loop``): it is run
    again on a worker thread, from the start."""


def refuse_on_loop() -> None:
    """Raise ``NeedsThread`` when a statement is about to run on the event loop (``on_loop``)."""
    if on_loop.get():
        raise NeedsThread


def count_statement() -> None:
    """One more statement in the running unit of work's ``db.statement_count``."""
    counter = statements.get()
    if counter is not None:
        counter[0] += 1


def _binder(compiled: SQLCompiler, dialect: Any) -> Callable[[Mapping[str, Any]], Any]:
    """What turns a statement's parameters (by name) into what the driver takes for ``compiled``: a tuple in
    the statement's order (positional styles, SQLite's ``?``) or a dict (psycopg's named style), each value
    through its column type's own bind processor (a timestamp into SQLite's stored text, ...)."""
    names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    procs: dict[str, Callable[[Any], Any]] = {}
    for name in names:
        proc = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if proc is not None:
            procs[name] = proc

    def positional(row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(procs[n](row[n]) if n in procs else row[n] for n in names)

    def named(row: Mapping[str, Any]) -> dict[str, Any]:
        return {n: procs[n](row[n]) if n in procs else row[n] for n in names}

    return positional if compiled.positional else named


#: A compiled statement's SQL text and what turns its parameters into the driver's.
_Plan = tuple[str, Callable[[Mapping[str, Any]], Any]]


def _driver_error(conn: Connection, sql: str, params: Any, e: Exception) -> DBAPIError:
    """A driver's error as SQLAlchemy raises it (``IntegrityError`` for a duplicate key); a lost connection
    is invalidated, as SQLAlchemy does for the statements it runs, so the pool does not hand it out again."""
    dialect = conn.dialect
    invalidated = dialect.is_disconnect(cast(Any, e), conn.connection.dbapi_connection, None)
    if invalidated:
        conn.invalidate(e)
    return cast(
        DBAPIError,
        DBAPIError.instance(
            sql, params, e, dialect.loaded_dbapi.Error, dialect=dialect, connection_invalidated=invalidated
        ),
    )


def _execute(
    conn: Connection, sql: str, params: Any, *, many: bool = False, fetch: bool = False, numbered: bool = False
) -> Any:
    """Run ``sql`` on ``conn``'s DBAPI cursor, counted in the unit of work's ``db.statement_count``: once
    with ``params`` (or once per parameter set, ``many``); the rows it fetched (``fetch``) or its row count.
    A driver error is raised as SQLAlchemy's (``_driver_error``). The one place every statement run below
    SQLAlchemy's execution machinery goes through. ``numbered``: ``sql`` has PostgreSQL's own parameters
    (``$1``, ...; ``_numbered``) and ``params`` is their sequence, sent as they are by psycopg's
    ``RawCursor``. In a read unit running on the event loop (``loop_reads``) a fetch is awaited there."""
    on_loop_fetch = loop_reads.get()
    if on_loop_fetch is not None and fetch and not many and not numbered:
        refuse_writes(sql)
        count_statement()
        return await_only(on_loop_fetch(sql, params))
    refuse_on_loop()
    refuse_writes(sql)
    count_statement()
    if numbered:
        from psycopg import RawCursor

        cursor: Any = RawCursor(cast(Any, conn.connection.driver_connection))
    else:
        cursor = conn.connection.cursor()
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        return cursor.fetchall() if fetch else cursor.rowcount
    except conn.dialect.loaded_dbapi.Error as e:
        raise _driver_error(conn, sql, params, e) from e
    finally:
        cursor.close()


#: A unit of work's deferred rows of one INSERT: its table, the rows' keys, the rows.
Entry = tuple[Table, tuple[str, ...], Sequence[Mapping[str, Any]]]
#: The rows of one INSERT that may wait in a batch; more are sent at once (an import's thousands of rows
#: would exceed PostgreSQL's 65,535 parameters of a statement, and make a plan of their own per count).
DEFER_ROWS = 16
#: The combined statements kept (by dialect and shape: the tables, keys and row counts of a batch).
_MAX_PLANS = 256
#: A combined statement's plan: its SQL, each parameter's (name, entry, row, key, bind processor) in the
#: order the driver takes them, and whether the SQL has numbered parameters (``_numbered``).
_Combined = tuple[str, list[tuple[str, int, int, str, Callable[[Any], Any] | None]], bool]
_plans: dict[tuple[Any, ...], _Combined] = {}
#: A named parameter of a statement compiled for psycopg (``%(name)s``), or an escaped ``%``.
_NAMED = re.compile(r"%\((\w+)\)s|%%")


class Batch:
    """The INSERT rows a write unit of work deferred, in order, on its one connection."""

    __slots__ = ("conn", "entries")

    def __init__(self) -> None:
        self.conn: Connection | None = None
        self.entries: list[Entry] = []

    def send(self, *, alone: bool = False) -> None:
        """Send the deferred rows as one statement. ``alone``: the unit of work ends here and the rows are
        all it wrote; if nothing was sent on its connection yet, the statement is sent in autocommit, a
        transaction of its own (atomic, committed and durable once it answers), saving ``BEGIN`` and
        ``COMMIT`` (the session's commit then finds no transaction open and sends nothing)."""
        entries, conn = self.entries, self.conn
        if not entries or conn is None:
            return
        refuse_on_loop()  # a unit on the loop sends nothing, and builds nothing to send (``send_each``'s SQLite)
        self.entries = []
        sql, args, numbered = statement(conn.dialect, entries)
        dbapi: Any = conn.connection.driver_connection
        lone = alone and _idle(dbapi)
        if lone:
            dbapi.autocommit = True
        try:
            _execute(conn, sql, args, numbered=numbered)
        finally:
            if lone and not dbapi.closed:
                dbapi.autocommit = False


def statement(dialect: Any, entries: Sequence[Entry]) -> tuple[str, Any, bool]:
    """The one statement of a batch's ``entries`` (``_combined``): its SQL, its parameters as the driver
    takes them, and whether they are PostgreSQL's numbered ones (a sequence for psycopg's raw cursors)."""
    sql, names, numbered = _combined(dialect, entries)
    values = [(name, proc(v) if proc else v) for name, i, j, key, proc in names for v in (entries[i][2][j][key],)]
    return sql, ([v for _, v in values] if numbered else dict(values)), numbered


#: The INSERT of each (dialect, table, keys) ``send_each`` ran: its SQL and binder.
_each_plans: dict[tuple[Any, ...], _Plan] = {}


def send_each(conn: Connection, entries: Sequence[Entry]) -> None:
    """Run a batch's deferred INSERTs on ``conn``, one statement per entry (its rows at once), in order: on
    SQLite, which has no INSERT inside a WITH, where ``statement`` combines them into one for PostgreSQL.
    Each counted, a driver error raised as SQLAlchemy's (``_execute``)."""
    dialect = conn.dialect
    for table, keys, rows in entries:
        shape = (dialect.name, dialect.driver, dialect.paramstyle, table, keys)
        plan = _each_plans.get(shape)
        if plan is None:
            if len(_each_plans) >= _MAX_PLANS:
                _each_plans.clear()
            compiled = cast(SQLCompiler, insert(table).compile(dialect=dialect, column_keys=list(keys)))
            plan = _each_plans[shape] = (str(compiled), _binder(compiled, dialect))
        sql, convert = plan
        if len(rows) == 1:
            _execute(conn, sql, convert(rows[0]))
        else:
            _execute(conn, sql, [convert(r) for r in rows], many=True)


def _begun(conn: Connection, begin: str) -> Any:
    """``conn``'s driver connection, a transaction of SQLite's own begun on it with ``begin`` (a driver error
    raised as SQLAlchemy's)."""
    dbapi: Any = conn.connection.driver_connection
    try:
        dbapi.execute(begin)
    except conn.dialect.loaded_dbapi.Error as e:
        raise _driver_error(conn, begin, (), e) from e
    return dbapi


def transaction(conn: Connection, body: Callable[[], None]) -> None:
    """``body`` in a write transaction of SQLite's own on ``conn``'s driver connection (``BEGIN IMMEDIATE``
    ... ``COMMIT``, rolled back when ``body`` or the commit fails), beside SQLAlchemy, whose connection sees
    none of it: for statements run on the DBAPI cursor (``send_each``). A driver error is raised as
    SQLAlchemy's."""
    dbapi = _begun(conn, "BEGIN IMMEDIATE")
    try:
        body()
        try:
            dbapi.commit()
        except conn.dialect.loaded_dbapi.Error as e:
            raise _driver_error(conn, "COMMIT", (), e) from e
    except BaseException:
        if not conn.invalidated and dbapi.in_transaction:
            dbapi.rollback()
        raise


def read_transaction(conn: Connection, body: Callable[[], T]) -> T:
    """``body()`` in a read transaction of SQLite's own on ``conn``'s driver connection (a plain ``BEGIN``,
    no write lock; ``ROLLBACK`` at its end, whatever happened), with ``bare_reads`` set: the statements it
    runs below SQLAlchemy's execution see one snapshot, taken at the first, and SQLAlchemy's transaction
    is begun only if a statement goes through SQLAlchemy (its rollback then ends the driver's). A driver
    error is raised as SQLAlchemy's."""
    dbapi = _begun(conn, "BEGIN")
    token = bare_reads.set(True)
    try:
        return body()
    finally:
        bare_reads.reset(token)
        if not conn.invalidated and dbapi.in_transaction:
            dbapi.rollback()


def statement_connection(session: Session) -> Connection:
    """The connection a statement run below SQLAlchemy's execution goes out on: the session's bound one as
    it is in a read on the event loop (``loop_reads``: it only gives the dialect there) or in a SQLite read
    transaction of the driver's own (``bare_reads``); else the session's, its transaction begun."""
    if loop_reads.get() is not None or bare_reads.get():
        return cast(Connection, session.get_bind())
    return session.connection()


def _idle(dbapi: Any) -> bool:
    """Whether a psycopg connection has no transaction open (nothing sent since its last commit)."""
    from psycopg.pq import TransactionStatus

    return bool(dbapi.info.transaction_status == TransactionStatus.IDLE)


def _combined(dialect: Any, entries: Sequence[Entry]) -> _Combined:
    """The one statement of a batch (each INSERT but the last as a data-modifying CTE), compiled once per
    shape, and each parameter's name, place (entry, row, key) and bind processor; for psycopg with numbered
    parameters (``_numbered``)."""
    shape = (dialect.name, dialect.driver, *((t, keys, len(rows)) for t, keys, rows in entries))
    plan = _plans.get(shape)
    if plan is not None:
        return plan
    names: list[tuple[str, int, int, str, Any]] = []
    stmts = []
    for i, (table, keys, rows) in enumerate(entries):
        values = []
        for j in range(len(rows)):
            row = {}
            for key in keys:
                name = f"p{i}_{j}_{key}"
                column_type = table.c[key].type
                row[key] = bindparam(name, type_=column_type)
                names.append((name, i, j, key, column_type.dialect_impl(dialect).bind_processor(dialect)))
            values.append(row)
        stmts.append(insert(table).values(values))
    stmt = stmts[-1]
    for i, cte in enumerate(stmts[:-1]):
        stmt = stmt.add_cte(cte.cte(f"w{i}"))
    if len(_plans) >= _MAX_PLANS:
        _plans.clear()
    sql = str(stmt.compile(dialect=dialect))
    numbered = dialect.driver == "psycopg" and dialect.paramstyle == "pyformat"
    if numbered:
        sql, order = _numbered(sql)
        by_name = {n[0]: n for n in names}
        names = [by_name[name] for name in order]
    plan = _plans[shape] = (sql, names, numbered)
    return plan


def _numbered(sql: str) -> tuple[str, list[str]]:
    """``sql``, compiled in psycopg's named style, with PostgreSQL's own numbered parameters (``$1``, ...)
    instead, and the names in their order. psycopg turns a named query into a numbered one on every
    execute and keeps the result only for a query of at most 4 kB and 50 parameters; a create's combined
    statement has 54, so it was parsed again at each create (70 µs; bench/README.md, "One create, step by
    step"). Sent by psycopg's ``RawCursor``, it is not parsed at all."""
    order: dict[str, int] = {}

    def number(m: re.Match[str]) -> str:
        name = m.group(1)
        return "%" if name is None else f"${order.setdefault(name, len(order) + 1)}"

    return _NAMED.sub(number, sql), list(order)


#: The batch of the write unit of work running in this context (None: INSERTs run at once).
_batch: contextvars.ContextVar[Batch | None] = contextvars.ContextVar("jit_db_batch", default=None)


@contextmanager
def deferring(conn: Connection | None = None) -> Iterator[Batch]:
    """Defer this context's ``CompiledInsert`` rows into a batch (PostgreSQL's write units of work): sent
    before the unit's next other statement (``flush``, from the engine's ``before_execute`` and from
    ``CompiledSelect``), or by the caller at the unit's end (``Batch.send``). Rows left unsent when the
    unit fails are dropped with its transaction. ``conn``: the batch's connection, given (a unit on the
    event loop, which sends nothing on it): its rows wait without the session's transaction begun for them."""
    batch = Batch()
    batch.conn = conn
    token = _batch.set(batch)
    try:
        yield batch
    finally:
        _batch.reset(token)


def flush(conn: Connection) -> None:
    """Send what this context's unit of work deferred on ``conn`` before another statement runs there: the
    statements of a unit of work see its own writes, in order."""
    batch = _batch.get()
    if batch is not None and batch.entries and batch.conn is conn:
        batch.send()


class CompiledInsert:
    """An INSERT into ``table``, compiled by SQLAlchemy once per dialect and set of columns, then executed
    on the transaction's own DBAPI cursor: for the few statements every create runs (the record, its
    parties, its outbox event, its audit entry). SQLAlchemy's execution of an already compiled Core
    statement (execution context, parameter processing, result set-up, events) costs about 50 µs a
    statement where SQLite's own execute takes under 10 (measured: bench/README.md, "Where the time
    goes"); this keeps what SQLAlchemy gives (the SQL text it compiles, each column type's own bind
    processor) and skips the rest. Only for rows that give every column the INSERT writes (no Python-side
    column default is applied); a driver error is raised as SQLAlchemy's (``IntegrityError`` for a
    duplicate key), and the statement is counted in the unit of work's ``db.statement_count``."""

    def __init__(self, table: Table) -> None:
        self.table = table
        #: By dialect, driver and parameter style (two engines may differ in those) and the rows' keys.
        self._plans: dict[tuple[str, ...], tuple[str, Callable[[Mapping[str, Any]], Any]]] = {}

    def _plan(self, dialect: Any, keys: tuple[str, ...]) -> tuple[str, Callable[[Mapping[str, Any]], Any]]:
        compiled = cast(SQLCompiler, insert(self.table).compile(dialect=dialect, column_keys=list(keys)))
        plan = (str(compiled), _binder(compiled, dialect))
        self._plans[(dialect.name, dialect.driver, dialect.paramstyle, *keys)] = plan
        return plan

    def execute(self, session: Session, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
        """Insert one row (a mapping) or several (a sequence of mappings, each with the same keys), in the
        session's transaction."""
        batch: Sequence[Mapping[str, Any]] = [rows] if isinstance(rows, Mapping) else rows
        if not batch:
            return
        deferred = _batch.get()
        conn = deferred.conn if deferred is not None and deferred.conn is not None else session.connection()
        keys = tuple(batch[0])
        if deferred is not None:
            if len(batch) <= DEFER_ROWS and (deferred.conn is None or deferred.conn is conn):
                deferred.conn = conn
                deferred.entries.append((self.table, keys, batch))
                return
            flush(conn)
        dialect = conn.dialect
        plan = self._plans.get((dialect.name, dialect.driver, dialect.paramstyle, *keys))
        sql, convert = plan or self._plan(dialect, keys)
        params = [convert(r) for r in batch]
        if len(params) == 1:
            _execute(conn, sql, params[0])
        else:
            _execute(conn, sql, params, many=True)


def _run(session: Session, sql: str, params: Any) -> int:
    """Execute ``sql`` once with ``params`` on the transaction's DBAPI cursor, counted; its row count. A
    driver error is raised as SQLAlchemy's."""
    conn = session.connection()
    flush(conn)
    return int(_execute(conn, sql, params))


class CompiledUpdate:
    """``UPDATE table SET <the columns given> WHERE <key> = :key [AND <guard> = :guard]``, compiled by
    SQLAlchemy once per dialect, driver, parameter style and set of columns, then executed on the
    transaction's DBAPI cursor: the write of every change to a record (``jitlib.db.RecordTable``). Built
    through the ORM each time (``update(Row).where(...).values(...)``), the statement's construction, its
    cache key over every value and the ORM's bulk-update set-up cost several times SQLite's own execute
    (bench/README.md, "A 10-minute mixed load"). Same SQL and bind processing (each column type's own);
    the caller reads the row count (0: the key or the guard did not match). As ``CompiledInsert``: no
    Python-side ``onupdate`` is applied, so only for rows that give every column they change."""

    KEY = "_jit_key"
    GUARD = "_jit_guard"

    def __init__(self, table: Table, key: ColumnElement[Any], guard: ColumnElement[Any] | None = None) -> None:
        self.table = table
        self._key = key
        self._guard = guard
        self._plans: dict[tuple[Any, ...], _Plan] = {}

    def _plan(self, dialect: Any, guarded: bool, keys: tuple[str, ...]) -> _Plan:
        conditions = [self._key == bindparam(self.KEY)]
        if guarded:
            assert self._guard is not None
            conditions.append(self._guard == bindparam(self.GUARD))
        stmt = update(self.table).where(*conditions)
        compiled = cast(SQLCompiler, stmt.compile(dialect=dialect, column_keys=list(keys)))
        plan = (str(compiled), _binder(compiled, dialect))
        self._plans[(dialect.name, dialect.driver, dialect.paramstyle, guarded, *keys)] = plan
        return plan

    def execute(self, session: Session, key: Any, values: Mapping[str, Any], *, guard: Any = None) -> int:
        """Set ``values`` (by column name) in the row whose key is ``key`` and, when ``guard`` is given (not
        None), whose guard column holds it; how many rows changed (0 or 1)."""
        dialect = session.connection().dialect
        guarded = guard is not None
        keys = tuple(values)
        plan = self._plans.get((dialect.name, dialect.driver, dialect.paramstyle, guarded, *keys))
        sql, convert = plan or self._plan(dialect, guarded, keys)
        return _run(session, sql, convert({**values, self.KEY: key, self.GUARD: guard}))


class CompiledSelect:
    """A SELECT with named parameters (``bindparam``), or an UPDATE with a RETURNING clause (a counter taken
    and its row read back in one statement: messaging's next sequence number), compiled by SQLAlchemy once
    per dialect, run on the transaction's own DBAPI cursor. Its rows come **as the driver gives them**
    (``rows``): no result processing, so a timestamp is SQLite's stored text (``YYYY-MM-DD HH:MM:SS.ffffff``,
    naive UTC) or psycopg's datetime; for a hot read of many rows whose caller converts only what it uses,
    since SQLAlchemy's result processing (a datetime parsed for each timestamp of each row, a ``Row`` made
    for each) cost more than SQLite's own statement for the preservation warning scan (bench/README.md,
    "Preservation scan"). Or each value as SQLAlchemy's execution gives it (``converted``): through its
    column type's own result processor, picked once per dialect for each column, and none where the type has
    none (most columns), without SQLAlchemy's execution context and ``Row`` per row: a list's page.

    An ``expanding`` parameter (``IN``) is rendered for the length of the list it is given, as SQLAlchemy
    renders it, once per combination of lengths (at most ``_EXPANSIONS`` kept). Counted in the unit of
    work's ``db.statement_count``; a driver error is raised as SQLAlchemy's."""

    def __init__(self, stmt: Select[Any] | ReturningUpdate[Any]) -> None:
        self.stmt = stmt
        #: The names of the columns it selects (or returns), in their order (what ``converted`` rows hold).
        self.names: tuple[str, ...] = tuple(str(c.key) for c in stmt.exported_columns)
        self._plans: dict[tuple[Any, ...], _SelectPlan] = {}
        #: The named tuple of ``named``'s rows, made at its first use.
        self._named: Any = None

    def _plan(self, dialect: Any) -> _SelectPlan:
        compiled = cast(SQLCompiler, self.stmt.compile(dialect=dialect))
        # The statement's own values (a LIMIT's OFFSET 0 SQLite adds, a literal bound as a parameter), which
        # the caller's parameters then override.
        defaults = {name: b.effective_value for name, b in compiled.binds.items() if not b.required}
        expanding = tuple(sorted(b.key for b in compiled.post_compile_params if b.expanding))
        results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in self.stmt.exported_columns]
        plan = _SelectPlan(compiled, str(compiled), defaults, _binder(compiled, dialect), expanding, results)
        self._plans[(dialect.name, dialect.driver, dialect.paramstyle)] = plan
        return plan

    def _run(self, session: Session, params: Mapping[str, Any]) -> tuple[list[Any], _SelectPlan]:
        # On the loop no transaction is begun on the connection, which the loop's other units share.
        conn = statement_connection(session)
        flush(conn)
        dialect = conn.dialect
        plan = self._plans.get((dialect.name, dialect.driver, dialect.paramstyle)) or self._plan(dialect)
        values = {**plan.defaults, **params}
        sql, bind = plan.sql, plan.bind
        if plan.expanding:
            sql, bind = plan.expanded(dialect, values)
        args = bind(values)
        seen = executed.get()
        if seen is not None:
            seen.append((sql, args))
        return cast(list[Any], _execute(conn, sql, args, fetch=True)), plan

    def rows(self, session: Session, **params: Any) -> list[Any]:
        """The statement's rows (the driver's tuples) in the session's transaction."""
        return self._run(session, params)[0]

    def named(self, session: Session, params: Mapping[str, Any]) -> list[Any]:
        """``converted``'s rows, each a named tuple of the statement's columns (``names``): read by attribute,
        as an ORM row is (``Fields.read``)."""
        if self._named is None:
            self._named = collections.namedtuple("Row", self.names)  # type: ignore[misc]
        make = self._named._make
        return [make(r) for r in self.converted(session, params)]

    def converted(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The statement's rows in the session's transaction, each a tuple of its values (in ``names``'
        order) as SQLAlchemy's execution of the statement gives them."""
        rows, plan = self._run(session, params)
        convert = [(i, proc) for i, proc in enumerate(plan.results) if proc is not None]
        if not convert:
            return [tuple(r) for r in rows]
        out = []
        for r in rows:
            values = list(r)
            for i, proc in convert:
                values[i] = proc(values[i])
            out.append(tuple(values))
        return out


#: At most this many renderings of a statement's expanding parameters kept (one per combination of lengths).
_EXPANSIONS = 64


@dataclass
class _SelectPlan:
    """A ``CompiledSelect`` for one dialect: its SQL, its parameters' defaults and binder, the names of its
    expanding parameters and the SQL and binder of each combination of their lengths seen, and each
    selected column's result processor (None: as the driver gives it)."""

    compiled: SQLCompiler
    sql: str
    defaults: dict[str, Any]
    bind: Callable[[Mapping[str, Any]], Any]
    expanding: tuple[str, ...]
    results: Sequence[Callable[[Any], Any] | None]
    renderings: dict[tuple[int, ...], tuple[str, Callable[[Mapping[str, Any]], Any]]] = field(default_factory=dict)

    def expanded(self, dialect: Any, values: Mapping[str, Any]) -> tuple[str, Callable[[Mapping[str, Any]], Any]]:
        """The SQL with each expanding parameter rendered for the length of its list in ``values``, and what
        binds ``values`` to it."""
        lengths = tuple(len(values[name]) for name in self.expanding)
        found = self.renderings.get(lengths)
        if found is not None:
            return found
        state = self.compiled.construct_expanded_state(values)
        # Each rendered parameter's source: (its name, None) or, for one item of an expanding list, (the
        # list's name, its index).
        source: dict[str, tuple[str, int | None]] = {
            item: (name, i) for name, items in state.parameter_expansion.items() for i, item in enumerate(items)
        }
        names = list(state.positiontup or ()) if self.compiled.positional else list(state.parameters)
        steps = []
        for item in names:
            name, index = source.get(item, (item, None))
            proc = self.compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            steps.append((item, name, index, proc))

        def value(values: Mapping[str, Any], name: str, index: int | None, proc: Any) -> Any:
            v = values[name] if index is None else values[name][index]
            return proc(v) if proc is not None else v

        def positional(values: Mapping[str, Any]) -> tuple[Any, ...]:
            return tuple(value(values, name, index, proc) for _item, name, index, proc in steps)

        def named(values: Mapping[str, Any]) -> dict[str, Any]:
            return {item: value(values, name, index, proc) for item, name, index, proc in steps}

        if len(self.renderings) >= _EXPANSIONS:
            self.renderings.clear()
        found = self.renderings[lengths] = (state.statement, positional if self.compiled.positional else named)
        return found
