"""The statements a unit of work runs, counted for its span, and the INSERTs of the create path run below
SQLAlchemy's execution machinery (``CompiledInsert``), in one place."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

#: The statements of the unit of work running in this context, counted for its span (None: not counted).
statements: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("jit_db_statements", default=None)


def count_statement() -> None:
    """One more statement in the running unit of work's ``db.statement_count``."""
    counter = statements.get()
    if counter is not None:
        counter[0] += 1


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
        compiled = insert(self.table).compile(dialect=dialect, column_keys=list(keys))
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

        plan = (str(compiled), positional if compiled.positional else named)
        self._plans[(dialect.name, dialect.driver, dialect.paramstyle, *keys)] = plan
        return plan

    def execute(self, session: Session, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
        """Insert one row (a mapping) or several (a sequence of mappings, each with the same keys), in the
        session's transaction."""
        batch: Sequence[Mapping[str, Any]] = [rows] if isinstance(rows, Mapping) else rows
        if not batch:
            return
        conn = session.connection()
        dialect = conn.dialect
        keys = tuple(batch[0])
        plan = self._plans.get((dialect.name, dialect.driver, dialect.paramstyle, *keys))
        sql, convert = plan or self._plan(dialect, keys)
        params = [convert(r) for r in batch]
        count_statement()
        cursor = conn.connection.cursor()
        try:
            if len(params) == 1:
                cursor.execute(sql, params[0])
            else:
                cursor.executemany(sql, params)
        except dialect.loaded_dbapi.Error as e:
            raise DBAPIError.instance(sql, params, e, dialect.loaded_dbapi.Error, dialect=dialect) from e
        finally:
            cursor.close()
