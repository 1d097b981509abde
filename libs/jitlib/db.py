"""Database runtime: engines (SQLite in WAL mode, PostgreSQL), the tables every service shares
(outbox, inbox, dead letters, audit chain, workspace directory) and Alembic migrations."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import keyword
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from select import POLLERR, POLLHUP, POLLIN, poll
from typing import Any, Generic, Protocol, TypeVar, cast

from alembic import command
from alembic.config import Config
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.expression import ColumnClause, UnaryExpression
from sqlalchemy.sql.operators import custom_op
from sqlalchemy.sql.visitors import replacement_traverse

from jitlib.actors import Actor
from jitlib.answers import Answers
from jitlib.clock import as_utc, as_utc_or_none
from jitlib.fields import restored
from jitlib.policy import StoredRecord
from jitlib.sqlexec import (
    CompiledInsert,
    CompiledSelect,
    CompiledUpdate,
    Entry,
    NeedsThread,
    count_statement,
    deferring,
    flush,
    read_transaction,
    refuse_on_loop,
    refuse_writes,
    send_each,
    statement,
    statement_connection,
    transaction,
)
from jitlib.sqlexec import bare_reads as _bare_reads
from jitlib.sqlexec import loop_reads as _loop_reads
from jitlib.sqlexec import on_loop as _on_loop
from jitlib.sqlexec import reading as _reading
from jitlib.sqlexec import statements as _statements
from jitlib.visibility import BoundFilter, PartyIndex, Statements

R = TypeVar("R")

log = logging.getLogger(__name__)
tracer = trace.get_tracer("jitlib.db")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: Every timestamp column: timezone-aware (UTC in, UTC out on both databases).
TS = DateTime(timezone=True)


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def actor_columns() -> tuple[Mapped[str], Mapped[str], Mapped[str]]:
    """The three columns that keep who did something (a ``jitlib.actors.Actor``: id, name, jurisdiction) in
    a row, named by the class body that declares them: ``told_by_id, told_by_name, told_by_jurisdiction =
    actor_columns()``. Named after a role so, ``Fields.actors`` reads and writes them (``actor_values``
    writes them); a log of who did what may name them ``user_id, username, jurisdiction``."""
    return (
        mapped_column(String(64), nullable=False),
        mapped_column(String(255), nullable=False),
        mapped_column(String(16), nullable=False),
    )


def actor_values(role: str, actor: Actor) -> dict[str, str]:
    """The columns of ``role`` (``actor_columns``) that keep ``actor``."""
    return {f"{role}_id": actor.user_id, f"{role}_name": actor.username, f"{role}_jurisdiction": actor.jurisdiction}


class RecordKey:
    """Mixin for a service's main record table: the record's id and workspace, and the id and digest of
    the client request that created it (the idempotency key; each table declares its own unique index on
    creator and request id)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(36))
    request_digest: Mapped[str] = mapped_column(String(64))


class RecordColumns(RecordKey):
    """Mixin for a record table whose rows carry what every governed record has: where it comes from, who
    may see it, its version, and who made and last changed it (``RecordFields`` and ``record_columns``
    translate them to and from the domain record)."""

    origin_jurisdiction: Mapped[str] = mapped_column(String(16))
    restricted: Mapped[bool] = mapped_column(Boolean)
    shared_with: Mapped[str] = mapped_column(Text)  # comma-separated
    version: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[str] = mapped_column(String(64))
    created_by_name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_by_id, updated_by_name, updated_by_jurisdiction = actor_columns()
    updated_at: Mapped[datetime] = mapped_column(TS)
    #: Set on a replica of another node's record: when this node last applied a change from the owner.
    replicated_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


def record_columns(record: StoredRecord) -> dict[str, object]:
    """The common columns a change writes (the creator's are written once, by ``creation_columns``)."""
    return {
        "workspace_id": record.workspace_id,
        "origin_jurisdiction": record.origin_jurisdiction,
        "restricted": record.restricted,
        "shared_with": ",".join(record.shared_with),
        "version": record.version,
        **actor_values("updated_by", record.updated_by),
        "updated_at": record.updated_at,
        "replicated_at": record.replicated_at,
    }


def creation_columns(record: StoredRecord, *, request_id: str, request_digest: str) -> dict[str, object]:
    """The columns written once, when the record is created: its id, the request that made it, its maker."""
    return {
        "id": record.id,
        "request_id": request_id,
        "request_digest": request_digest,
        "created_by_id": record.created_by.user_id,
        "created_by_name": record.created_by.username,
        "created_at": record.created_at,
    }


@dataclass(frozen=True)
class Stored(Generic[R]):
    """A record found by the request id that created it, with that request's digest."""

    record: R
    digest: str


@dataclass(frozen=True)
class Fields:
    """The fields of a record kept in columns of the same name, so that a store names each of them once for
    both directions: ``same`` as they are, ``times`` timestamps (read back in UTC; NULL is None), ``enums``
    by their member's value, ``lists`` tuples of text as comma-separated text, ``actors`` each in the three
    columns of its name (``actor_columns``). What is left (JSON, columns named otherwise) the store reads and
    writes itself."""

    same: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    enums: Mapping[str, type[Enum]] = field(default_factory=dict)
    lists: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        constants: dict[str, Any] = {}
        object.__setattr__(self, "_read", _compiled_reader(self._expressions(constants), constants))

    def _expressions(self, constants: dict[str, Any]) -> list[tuple[str, str]]:
        """What ``read`` puts under each field's name, as a Python expression of ``row`` (``_compiled_reader``):
        ``same`` as they are, ``times`` in UTC (NULL is None), ``enums`` the member of the value (a value
        that is no member: the enum's own error), ``lists`` split on commas, ``actors`` from their three columns.
        A value the code refers to is put in ``constants`` under the name it uses."""
        out = [(name, f"row.{name}") for name in self.same]
        out += [(name, f"_utc_or_none(row.{name})") for name in self.times]
        for name, kind in self.enums.items():
            constants[f"_members_{name}"], constants[f"_kind_{name}"] = {m.value: m for m in kind}, kind
            out.append((name, f"_member(_members_{name}, _kind_{name}, row.{name})"))
        out += [(name, f"_listed(row.{name})") for name in self.lists]
        out += [(name, f"_Actor(row.{name}_id, row.{name}_name, row.{name}_jurisdiction)") for name in self.actors]
        return out

    def read(self, row: object) -> dict[str, Any]:
        """The fields, read from ``row`` (for ``Record(**FIELDS.read(row), ...)``, or ``load``): one dict
        made by a function built for these fields (``_compiled_reader``; a list's page reads 51 rows)."""
        return self._read(row)  # type: ignore[attr-defined, no-any-return]

    def load(self, record: type[R], row: object, **more: Any) -> R:
        """The domain record ``record`` of ``row``: its fields read (``read``) with ``more`` (what the store
        reads itself), as ``record(**FIELDS.read(row), **more)`` makes it but without the dataclass's
        ``__init__`` (``jitlib.fields.restored``): the values were checked when the record was written."""
        values = self.read(row)
        values.update(more)
        return restored(record, values)

    def write(self, record: object) -> dict[str, object]:
        """The columns, taken from ``record`` (for ``{**FIELDS.write(record), ...}``)."""
        values = {name: getattr(record, name) for name in (*self.same, *self.times)}
        values.update((name, getattr(record, name).value) for name in self.enums)
        values.update((name, ",".join(getattr(record, name))) for name in self.lists)
        for name in self.actors:
            values.update(actor_values(name, getattr(record, name)))
        return values


@dataclass(frozen=True)
class RecordFields(Fields):
    """``Fields`` of a record kept in a ``RecordColumns`` row: reading and writing add what every governed
    record has (``_RECORD_EXPRESSIONS`` and ``record_columns``)."""

    def _expressions(self, constants: dict[str, Any]) -> list[tuple[str, str]]:
        return [*_RECORD_EXPRESSIONS, *super()._expressions(constants)]

    def write(self, record: object) -> dict[str, object]:
        return {**record_columns(cast(StoredRecord, record)), **super().write(record)}


#: The domain record's common fields, read from its ``RecordColumns`` row, as ``Fields._expressions``: the
#: reader of a ``RecordFields`` starts with them.
_RECORD_EXPRESSIONS = [
    ("id", "row.id"),
    ("workspace_id", "row.workspace_id"),
    ("origin_jurisdiction", "row.origin_jurisdiction"),
    ("restricted", "row.restricted"),
    ("shared_with", "_listed(row.shared_with)"),
    ("version", "row.version"),
    ("created_by", "_Actor(row.created_by_id, row.created_by_name, row.origin_jurisdiction)"),
    ("created_at", "_utc(row.created_at)"),
    ("updated_by", "_Actor(row.updated_by_id, row.updated_by_name, row.updated_by_jurisdiction)"),
    ("updated_at", "_utc(row.updated_at)"),
    ("replicated_at", "_utc_or_none(row.replicated_at)"),
]


def _compiled_reader(
    expressions: list[tuple[str, str]], constants: Mapping[str, Any]
) -> Callable[[object], dict[str, Any]]:
    """A function of a row that returns ``{name: expression, ...}`` for each of ``expressions`` (a later
    one of the same name wins, as ``dict.update`` would): the fields read in one dict display, each
    attribute read by name in the code, instead of a loop of ``getattr`` calls and the helpers'
    (as ``Fields.read`` did before). Built once per ``Fields``, as ``dataclasses`` builds a class's
    ``__init__``. The names are a store's column names, checked to be identifiers; the only values the code
    refers to are the helpers below and ``constants``, by name."""
    scope: dict[str, Any] = {**_READ_HELPERS, **constants}
    body: dict[str, str] = {}
    for name, expression in expressions:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"not a field name: {name!r}")
        body[name] = expression
    items = ", ".join(f"{name!r}: {expression}" for name, expression in body.items())
    namespace: dict[str, Any] = {}
    exec(f"def read(row):\n    return {{{items}}}\n", scope, namespace)  # noqa: S102 - our own code, above
    return cast(Callable[[object], dict[str, Any]], namespace["read"])


def listed(text: str) -> tuple[str, ...]:
    """A list kept as comma-separated text (``Fields.lists``, a record's ``shared_with``); most are empty."""
    return tuple(filter(None, text.split(","))) if text else ()


def _member(members: dict[Any, Enum], kind: type[Enum], value: Any) -> Enum:
    member = members.get(value)
    return member if member is not None else kind(value)  # not a member: the enum's error


_READ_HELPERS: dict[str, Any] = {
    "_Actor": Actor,
    "_utc": as_utc,
    "_utc_or_none": as_utc_or_none,
    "_listed": listed,
    "_member": _member,
}


class Sealer(Protocol):
    """Seals a record's free-text columns before they are written (``jitlib.sealing.SealedText``)."""

    def seal_columns(
        self, session: Session, columns: dict[str, object], record_id: str, workspace_id: str
    ) -> dict[str, object]: ...


class PartiedRecord(StoredRecord, Protocol):
    """A stored record with the jurisdictions party to it (what its ``PartyIndex`` holds)."""

    @property
    def parties(self) -> frozenset[str]: ...


P = TypeVar("P", bound=PartiedRecord)


#: On SQLite (``RecordTable._window_page``), a window holding fewer rows than this many per record a page
#: asks for is read by sorting its ids; a larger one by walking the list's id order first,
_SMALL_WINDOW = 16
#: at most this many of SQLite's virtual machine instructions per record the page asks for (a walk on the
#: covering index spends 5-9 a row it passes, its party probes and the page's rows read by id included:
#: about 60-120 rows a record), counted by SQLite's progress handler
_WALK_OPS = 640
#: every this many instructions.
_WALK_STEP = 1000


class RecordTable(Generic[P]):
    """A service's main record table (a ``RecordColumns`` row class): the indexes every such table has,
    its reads by id and by the request that made a record, its id-ordered pages, and its writes, its
    parties (``PartyIndex``) and the victims its records name (the parties' ``VictimIndex``) kept in step
    with each write. The store gives the columns of its own fields
    (``columns``, with ``record_columns``, as ``RecordFields.write`` does; the creator's are written once,
    by ``insert``) and how a row becomes a record (``load``; it may read more with the session)."""

    def __init__(
        self,
        row: type[RecordColumns],
        parties: PartyIndex,
        columns: Callable[[P], dict[str, object]],
        load: Callable[[Session, Any], P],
        *,
        sealed: Sealer | None = None,
        answers: Answers | None = None,
        walked: tuple[str, ...] = (),
    ) -> None:
        """``answers``: the records kept in the form their List answers them (``jitlib.answers``), written
        with each row; ``page(..., columns=...)`` reads them. ``walked``: the columns a page walked in id
        order tests besides the id (a window's column, the READ rule's), carried by the workspace's id
        index after the id (``ix_<table>_workspace_walk``) so that a walk tests them on the index and reads
        only the rows they keep; without them that index is ``ix_<table>_workspace_id_id``."""
        self.row = row
        self.parties = parties
        self._clear_columns = columns
        self._sealed = sealed
        self.answers = answers
        self._load = load
        # Its idempotency key (creator, request id), unique, and (workspace, id) for the pages of its List.
        table = cast(Table, row.__table__)  # type: ignore[attr-defined]
        Index(f"uq_{table.name}_creator_request", table.c.created_by_id, table.c.request_id, unique=True)
        if walked:
            Index(f"ix_{table.name}_workspace_walk", table.c.workspace_id, table.c.id, *(table.c[c] for c in walked))
        else:
            Index(f"ix_{table.name}_workspace_id_id", table.c.workspace_id, table.c.id)
        # Compiled once, executed on the DBAPI cursor: no ORM identity-map work, no statement construction
        # and none of SQLAlchemy's per-statement execution machinery on the hot create path.
        self._insert = CompiledInsert(table)
        # A change's write (by id, guarded by the version read) and its read by id, the same way: the UPDATE
        # compiled once per set of columns, the SELECT (locking the row or not) compiled once per dialect.
        self._update_row = CompiledUpdate(table, table.c.id, table.c.version)
        by_id = select(table).where(table.c.id == bindparam("record_id"))
        self._get = CompiledSelect(by_id)
        self._get_for_update = CompiledSelect(by_id.with_for_update())
        self._table = table
        #: The page statements of each set of columns a page is read with (None: all), each of each
        #: ``BoundFilter`` shape seen (with a cursor or not), built and compiled once; on SQLite and, in one
        #: select (``_whole_page_statement``), on PostgreSQL.
        self._statements: dict[tuple[bool, tuple[str, ...] | None, bool, bool], Statements] = {}
        self._names = CompiledSelect(select(table)).names
        #: A window's size (``_window_page``), of each shape: built from its own conditions, not the READ rule.
        self._window_size = Statements(
            lambda window: CompiledSelect(self._window_size_statement(window)), conditions=BoundFilter.window_conditions
        )

    def get(self, session: Session, record_id: str, *, for_update: bool = False) -> P | None:
        """The record ``record_id`` (its row locked until the end of the transaction when ``for_update``).
        Its row read as a page's rows are (``page``: on the transaction's cursor, its text opened, no ORM
        object); every get and every change of every service reads one."""
        from jitlib.sealing import opened_rows  # sealing builds on this module

        statement = self._get_for_update if for_update else self._get
        found = statement.converted(session, {"record_id": record_id})
        if not found:
            return None
        return self._load(session, opened_rows(session, self._table, found, statement.names)[0])

    def owned_page(
        self,
        session: Session,
        workspace_id: str,
        owner: str,
        after_id: str,
        changed_since: datetime | None,
        limit: int,
    ) -> list[P]:
        """The records of ``workspace_id`` that ``owner``'s node owns, ids after ``after_id`` in id order, at
        most ``limit``; only those changed at or after ``changed_since`` when given (``jitlib.joining``)."""
        row = self.row
        query = select(row).where(row.workspace_id == workspace_id, row.origin_jurisdiction == owner, row.id > after_id)
        if changed_since is not None:
            query = query.where(row.updated_at >= changed_since)
        return [self._load(session, r) for r in session.scalars(query.order_by(row.id).limit(limit))]

    def find_by_request(self, session: Session, user_id: str, request_id: str) -> Stored[P] | None:
        """The record ``user_id`` created by the request ``request_id``, with that request's digest."""
        row = session.scalar(
            select(self.row).where(self.row.created_by_id == user_id, self.row.request_id == request_id)
        )
        return Stored(self._load(session, row), row.request_digest) if row is not None else None

    def page(
        self,
        session: Session,
        flt: BoundFilter,
        *,
        after_id: str,
        limit: int,
        columns: tuple[str, ...] | None = None,
    ) -> Sequence[Any]:
        """The rows that meet ``flt`` (``PartyIndex.bound`` and the list's own filters), in id (creation)
        order, after ``after_id``; at most ``limit``: read-only objects with the row's columns (or only
        ``columns``) as attributes, its sealed text opened (``sealing.opened_rows``) when read.

        A keyset page: no OFFSET, so a deep page costs what the first does. On SQLite the page's ids are
        chosen first, then its rows read by id: where an index covers the filter (a due window), the
        candidates are sorted by id without reading their rows; a window is read as ``_window_page`` says.
        On PostgreSQL, whose plans walk an index in id order and read each candidate's row to test the
        filter in either form, the page is one select of its rows (``_whole_page_statement``): the same
        rows without reading them twice, the READ rule's party test read from the row's own list of its
        parties where the kind has one (``BoundFilter.listed_conditions``), not probed in the parties'
        table. The statement of each shape is built once and kept (``Statements``; its values, the cursor
        and the limit bound when it runs)."""
        from jitlib.sealing import opened_rows  # sealing builds on this module

        params = {**flt.params, "limit": limit, "after_id": after_id}
        sqlite = session.get_bind().dialect.name == "sqlite"
        if sqlite and flt.windows and "workspaces" in flt.shape:
            rows = self._window_page(session, flt, params, columns, after=bool(after_id))
        else:
            if after_id and not flt.cursored:
                flt = flt.extended("after", lambda: self.row.id > bindparam("after_id"))
            rows = self._page_statements(not sqlite, columns).of(flt).converted(session, params)
        # Plain tuples on the DBAPI cursor, not ORM objects nor SQLAlchemy rows: a page is read to be
        # answered, never changed; the ORM's identity map and load event per row, and SQLAlchemy's
        # execution and result set-up, cost more than the query (each row's text is then opened).
        return opened_rows(session, self._table, rows, self._names if columns is None else columns)

    def _page_statements(
        self, whole: bool, columns: tuple[str, ...] | None, *, sort: bool = False, walk: bool = False
    ) -> Statements:
        """The page statements (``_whole_page_statement`` when ``whole``, else ``_page_statement``, its ids
        sorted when ``sort``, its window tested as ``_walk_conditions`` when ``walk``) of the rows'
        ``columns`` (None: every column)."""
        found = self._statements.get((whole, columns, sort, walk))
        if found is None:
            selected = [self._table] if columns is None else [self._table.c[c] for c in columns]
            if whole:
                found = Statements(
                    lambda conditions: CompiledSelect(self._whole_page_statement(conditions, selected)),
                    conditions=BoundFilter.listed_conditions,
                )
            else:
                found = Statements(
                    lambda conditions: CompiledSelect(self._page_statement(conditions, selected, sort)),
                    conditions=_walk_conditions if walk else BoundFilter.conditions,
                )
            self._statements[whole, columns, sort, walk] = found
        return found

    def answered_page(
        self, session: Session, flt: BoundFilter, *, after_id: str, limit: int, columns: tuple[str, ...]
    ) -> list[tuple[Any, bytes | None, P | None]]:
        """``page``'s rows, read with their id, version, workspace and stored answer (``answers``) and
        ``columns``: each row, its answer opened (None where it does not open), and, for those, the record
        read by id as ``get`` reads it (None too when it was deleted since the page was read: a withdrawn
        replica, on PostgreSQL, whose read's statements each see what is committed when it runs)."""
        if self.answers is None:
            raise TypeError(f"{self._table.name} keeps no answers")
        names = ("id", "version", "workspace_id", self.answers.column, *columns)
        return self.answered(session, self.page(session, flt, after_id=after_id, limit=limit, columns=names))

    def answered(self, session: Session, rows: Sequence[Any]) -> list[tuple[Any, bytes | None, P | None]]:
        """Rows of a page whose first values are the record's id, version, workspace and stored answer (a
        page of its own order: ``answered_page``, or a store's): each row, its answer opened, and where that
        does not open the record read by id (``answered_page``)."""
        if self.answers is None:
            raise TypeError(f"{self._table.name} keeps no answers")
        opened = self.answers.opened(session, rows, id=0, version=1, workspace=2, answer=3)
        return [(r, a, self.get(session, r[0]) if a is None else None) for r, a in zip(rows, opened, strict=True)]

    def _window_page(
        self,
        session: Session,
        flt: BoundFilter,
        params: dict[str, Any],
        columns: tuple[str, ...] | None,
        *,
        after: bool,
    ) -> list[Any]:
        """A page of a list with a window (``BoundFilter.windows``: due dates, deadlines) on SQLite, which
        plans without statistics: either it sorts the ids of the whole window (on the window's index), every
        one tested for the READ rule first, or it walks the list in id order and tests each row until the
        page is full. The first costs what the window holds (2.3 ms for the 3,400 tasks of a 14-day window
        in 100,000), the second what lies between the page's records (0.3 ms there; the whole workspace
        for a window holding a day). So: a window holding fewer than ``_SMALL_WINDOW`` candidates a record
        asked for is sorted; a larger one is walked, its cost bounded (``_walked``: at most ``_WALK_OPS`` of
        SQLite's instructions a record asked for), and sorted when that walk did not fill the page. The same
        rows either way (bench/README.md, Lists).

        The walk tests the window and the READ rule's columns on the workspace's id index where it carries
        them (``walked``), as it then covers the walk; the sort orders by ``+id``, which no index gives,
        so that SQLite does not take that index for a sorted window too (a walk of the whole workspace)."""
        limit, small = params["limit"], _SMALL_WINDOW * params["limit"]
        if self._window_size.of(flt).rows(session, **params, most=small)[0][0] >= small:
            walk = flt.extended("walk>", lambda: self.row.id > bindparam("after_id")) if after else flt
            rows = _walked(session, self._page_statements(False, columns, walk=True).of(walk), params, limit)
            if rows is not None and len(rows) == limit:
                return rows
        if after:
            # Unary + keeps SQLite from walking the id index from the cursor: the window's index chooses.
            flt = flt.extended("+after", lambda: self._unindexed_id > bindparam("after_id"))
        return self._page_statements(False, columns, sort=True).of(flt).converted(session, params)

    def _page_statement(self, conditions: list[Any], selected: list[Any], sort: bool = False) -> Any:
        """The page's ids chosen (in the order of ``+id`` when ``sort``: the same order, given by no index),
        then its rows read by id."""
        order = self._unindexed_id if sort else self._table.c.id
        ids = select(self.row.id).where(*conditions).order_by(order).limit(bindparam("limit")).correlate(None)
        return select(*selected).where(self._table.c.id.in_(ids)).order_by(self._table.c.id)

    @functools.cached_property
    def _unindexed_id(self) -> UnaryExpression[str]:
        """``+id``: the id, which SQLite then takes from no index (neither to find rows nor to order them)."""
        return UnaryExpression(self._table.c.id, operator=custom_op("+"))

    def _whole_page_statement(self, conditions: list[Any], selected: list[Any]) -> Any:
        """``_page_statement``'s rows in one select, for PostgreSQL: its plan of the ids (an index scan in id
        order, each candidate's row read for the filter, stopping at the limit) then read every row of the
        page again by its primary key, sorted (EXPLAIN ANALYZE, 100,000 tasks: 0.28 -> 0.12 ms)."""
        return select(*selected).where(*conditions).order_by(self._table.c.id).limit(bindparam("limit"))

    def _window_size_statement(self, window: list[Any]) -> Any:
        """How many rows of the list's workspaces the window's conditions keep, counted up to ``most``."""
        workspaces = self.row.workspace_id.in_(bindparam("workspaces", expanding=True))
        candidates = select(literal(1)).where(workspaces, *window).limit(bindparam("most")).subquery()
        return select(func.count()).select_from(candidates)

    def _columns(self, session: Session, record: P) -> dict[str, object]:
        columns = self._clear_columns(record)
        if self.parties.listed:  # the row's own list of its parties, in step with the parties' rows
            columns[self.parties.listed] = PartyIndex.listed_value(record.parties)
        if self.answers is not None:
            columns.update(self.answers.columns(session, record))
        if self._sealed is None:
            return columns
        return self._sealed.seal_columns(session, columns, record.id, record.workspace_id)

    def insert(self, session: Session, record: P, *, request_id: str, request_digest: str) -> None:
        """Write a new record, made by the client request ``request_id`` (its idempotency key)."""
        creation = creation_columns(record, request_id=request_id, request_digest=request_digest)
        self._insert.execute(session, {**creation, **self._columns(session, record)})
        self.parties.write_record(session, record.id, record.parties, record)

    def insert_many(self, session: Session, records: Sequence[P]) -> None:
        """Write many new records at once, each made by a request of its own id (a benchmark's or an
        import's rows; a client's create goes through ``insert``): sealed as ``insert`` seals them, in one
        statement for the records and one for their parties."""
        rows = [
            {**creation_columns(r, request_id=r.id, request_digest=""), **self._columns(session, r)} for r in records
        ]
        parties = [{self.parties.key.name: r.id, "jurisdiction": j} for r in records for j in sorted(set(r.parties))]
        if rows:
            self._insert.execute(session, rows)
        if parties:
            session.execute(insert(self.parties.table), parties)
        victims = self.parties.victims
        named = [v for r in records for v in victims.rows(r.id, cast(Any, r).victim_refs)] if victims else []
        if victims is not None and named:
            session.execute(insert(victims.table), named)

    def update_if_version(self, session: Session, record: P, expected_version: int, **extra: object) -> bool:
        """Write the record's new state (and ``extra`` columns of the row) only if nobody changed it since
        ``expected_version`` was read; False when someone did. Its parties and the victims it names are
        written again with it."""
        if not self._update(session, record, expected_version, **extra):
            return False
        self.parties.write_record(session, record.id, record.parties, record, replace=True)
        return True

    def write_replica(self, session: Session, record: P, exists: bool, **extra: object) -> None:
        """Store another node's record as its owner sent it (``jitlib.replicas``): no version check, the
        owner's version is the one that counts; its parties (the visibility index) and victims are written
        again."""
        if exists:
            self._update(session, record, None, **extra)
            self.parties.write_record(session, record.id, record.parties, record, replace=True)
            return
        # A replica was not created by a request on this node: its own id stands in as the request id.
        self.insert(session, record, request_id=record.id, request_digest="")

    def delete_replica(self, session: Session, record_id: str) -> None:
        """Drop another node's record that this node's country is no longer entitled to (its owner's
        withdrawal, ``jitlib.replicas``): its parties and its row, text and all (its victims' rows with it:
        their foreign key cascades)."""
        self.parties.write(session, record_id, (), replace=True)
        session.execute(delete(self._table).where(self._table.c.id == record_id))

    def _update(self, session: Session, record: P, expected_version: int | None, /, **extra: object) -> bool:
        """Write the record's columns (and ``extra``) to its row, if its version is ``expected_version`` when
        that is given; whether the row was written."""
        values = {**self._columns(session, record), **extra}
        return self._update_row.execute(session, record.id, values, guard=expected_version) == 1


def _walked(session: Session, walk: CompiledSelect, params: Mapping[str, Any], limit: int) -> list[Any] | None:
    """The rows of ``walk`` (a page of ``limit`` walked in id order on SQLite, ``RecordTable._window_page``),
    or None when it spent its budget first: ``_WALK_OPS`` instructions of SQLite's virtual machine a record
    asked for, counted on its connection by SQLite's progress handler, which interrupts the statement
    (``SQLITE_INTERRUPT``; a SELECT interrupted leaves its read transaction as it was). What bounds the walk
    is what it costs, not a count of rows found beforehand: the bound it had, the id so many rows ahead
    (an ``OFFSET`` on the workspace's index), took a third of the walk's own time (bench/README.md, Lists,
    the nineteenth pass). The handler counts every ``_WALK_STEP`` instructions: SQLite calls it at a
    statement's step counter modulo that number, carried over from the prepared statement's earlier runs,
    so only the count of its calls bounds each run alike."""
    conn = statement_connection(session)
    # What the unit deferred goes out first, never under the handler: an INSERT interrupted inside a
    # transaction rolls the whole transaction back.
    flush(conn)
    dbapi: Any = conn.connection.driver_connection
    budget = max(1, _WALK_OPS * limit // _WALK_STEP)
    calls = 0

    def spent() -> bool:
        nonlocal calls
        calls += 1
        return calls > budget

    dbapi.set_progress_handler(spent, _WALK_STEP)
    try:
        return walk.converted(session, params)
    except DBAPIError as e:
        if calls > budget and getattr(e.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT:
            return None
        raise
    finally:
        dbapi.set_progress_handler(None, 0)


def _walk_conditions(flt: BoundFilter) -> list[Any]:
    """``flt``'s conditions for a walk of the list in id order on SQLite (``RecordTable._window_page``), its
    window's (``BoundFilter.windows``) with each column they test read as ``+column``: a walk tests them on
    every row it passes, and a column's NUMERIC affinity (a timestamp's ``DATETIME``) had SQLite try to
    read each stored text and each bound text as a number in every comparison before comparing them as
    texts; without the affinity the same texts are compared as they are (the same rows: a timestamp is
    stored and bound as text), in half the time (bench/README.md, Lists, the nineteenth pass). Only the
    walk's: a window read on its own index seeks there by the column itself."""
    return [*flt.other_conditions(), *(replacement_traverse(c, {}, _unaffined) for c in flt.window_conditions())]


def _unaffined(element: Any, **_kw: Any) -> Any:
    """A table's column as ``+column`` (no affinity), for ``replacement_traverse``; None leaves ``element``."""
    if isinstance(element, ColumnClause) and element.table is not None:
        return UnaryExpression(element, operator=custom_op("+"))
    return None


@dataclass(frozen=True)
class RuntimeTables:
    outbox: Table
    inbox: Table
    dead_letters: Table
    audit_log: Table
    audit_head: Table
    #: Audit entries committed with their change and not linked into the chain yet (``jitlib.audit.record``;
    #: the chainer moves them into ``audit_log``, ``jitlib.audit.link``).
    audit_pending: Table
    workspaces: Table
    #: Where the audit chain now starts, once entries older than 3 years were pruned (``jitlib.audit.prune``).
    audit_checkpoint: Table
    #: What each crypto-shredding destroyed (``jitlib.retention.Certificate``, rule DELETION_CERTIFICATE).
    deletion_certificates: Table
    #: Legal holds a prosecutor of the lead set in this service (``jitlib.retention_service``, LEGAL_HOLD).
    legal_holds: Table
    #: Countries that joined a workspace, whose nodes are still to be sent what this node owns in it
    #: (``jitlib.joining``).
    workspace_joins: Table
    #: The peers this service last started linked to (``JIT_FEDERATION_PEERS``): one linked since is sent
    #: what this node owns in the workspaces its country is a member of (``jitlib.joining.link_peers``).
    federation_links: Table
    #: Each versioned record's last change made by a caller: the fingerprint of the request that made it and
    #: the version it made, so that a retry of that request answers as its first call did (``jitlib.changes``).
    last_changes: Table


def runtime_tables(metadata: MetaData) -> RuntimeTables:
    """Declare the shared runtime tables inside a service's own metadata (so its migrations own them)."""
    ts = DateTime(timezone=True)
    outbox = Table(
        "outbox",
        metadata,
        Column("id", String(36), primary_key=True),  # the event id, also Nats-Msg-Id
        Column("subject", String(255), nullable=False),
        Column("event_type", String(128), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", Text, nullable=False),  # JSON: W3C trace context of the writing span
        Column("created_at", ts, nullable=False),
        Column("published_at", ts, nullable=True),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text, nullable=True),
        # The envelope's workspace ("" for none; NULL: written before this column, until the start's backfill):
        # what a workspace's shred deletes (``jitlib.sealing.destroy_payloads``).
        Column("workspace_id", String(64), nullable=True),
    )
    Index(
        "ix_outbox_pending",
        outbox.c.id,
        sqlite_where=outbox.c.published_at.is_(None),
        postgresql_where=outbox.c.published_at.is_(None),
    )
    Index("ix_outbox_workspace", outbox.c.workspace_id)
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(100), nullable=False),
        Column("event_id", String(100), nullable=False),
        Column("processed_at", ts, nullable=False),
        PrimaryKeyConstraint("consumer", "event_id"),
    )
    dead_letters = Table(
        "dead_letters",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("consumer", String(100), nullable=False),
        Column("event_id", String(64), nullable=True),
        Column("subject", String(255), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("error", Text, nullable=False),
        Column("deliveries", Integer, nullable=False),
        Column("recorded_at", ts, nullable=False),
        # As the outbox's: the dead-lettered event's workspace, what its shred deletes.
        Column("workspace_id", String(64), nullable=True),
    )
    Index("ix_dead_letters_workspace", dead_letters.c.workspace_id)
    audit_log = Table(
        "audit_log",
        metadata,
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
        Column("occurred_at", ts, nullable=False),
        Column("time_zone", String(64), nullable=False),
        Column("user_id", String(64), nullable=False),
        Column("username", String(255), nullable=False),
        Column("jurisdiction", String(16), nullable=False),
        Column("operation", String(128), nullable=False),
        Column("record_type", String(64), nullable=False),
        Column("record_id", String(64), nullable=False),
        Column("workspace_id", String(64), nullable=False),
        Column("outcome", String(16), nullable=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
    )
    audit_head = Table(
        "audit_head",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
        Column("hash", String(64), nullable=False),
    )
    audit_pending = Table(
        "audit_pending",
        metadata,
        # The order entries are linked in (an entry's place in the chain is its ``seq``, given when linked).
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        *(Column(c.name, c.type, nullable=False) for c in audit_log.c if c.name not in ("seq", "prev_hash", "hash")),
    )
    workspaces = Table(
        "workspaces",
        metadata,
        Column("id", String(64), primary_key=True),
        Column("name", String(255), nullable=False),
        Column("lead", String(16), nullable=False),
        Column("members", Text, nullable=False),  # comma-separated jurisdiction codes
        Column("legal_basis", Text, nullable=False),
        Column("starts_on", String(10), nullable=False),
        Column("ends_on", String(10), nullable=False),
        Column("status", String(16), nullable=False),
        Column("version", Integer, nullable=False),
        Column("updated_at", ts, nullable=False),
        # Retention (``jitlib.retention``): a legal hold's reason ("" when none), the workspace's own years
        # (NULL: the node's default), the day its proceedings were recorded closed ("" while they run).
        Column("legal_hold", Text, nullable=False, server_default=""),
        Column("retention_years", Integer, nullable=True),
        Column("proceedings_closed_on", String(10), nullable=False, server_default=""),
        # Jurisdictions taken out of the workspace (comma-separated; ``policy.Members.former``).
        Column("former_members", Text, nullable=False, server_default=""),
    )
    audit_checkpoint = Table(
        "audit_checkpoint",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        # The last pruned entry: the first kept one links to its hash.
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
        Column("hash", String(64), nullable=False),
        Column("pruned_at", ts, nullable=False),
        Column("pruned_by", String(255), nullable=False),
        Column("entries_pruned", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    )
    deletion_certificates = Table(
        "deletion_certificates",
        metadata,
        Column("id", String(100), primary_key=True),
        Column("workspace_id", String(64), nullable=False),
        Column("issued_at", ts, nullable=False),
        Column("body", Text, nullable=False),  # canonical JSON (``Certificate.canonical``)
        Column("digest", String(64), nullable=False),
    )
    legal_holds = Table(
        "legal_holds",
        metadata,
        # One row per hold as set (``jitlib.retention_service``): a set and a release never overwrite an
        # earlier hold, so its history keeps each of them.
        Column("id", String(36), primary_key=True),
        Column("workspace_id", String(64), nullable=False),
        Column("record_type", String(32), nullable=False),  # "" for the whole workspace
        Column("record_id", String(64), nullable=False),
        Column("sealed_reason", LargeBinary, nullable=False),  # the reason, sealed under the workspace's key
        Column("set_by_id", String(64), nullable=False, server_default=""),
        Column("set_by", String(255), nullable=False),
        Column("set_by_jurisdiction", String(16), nullable=False),
        Column("set_at", ts, nullable=False),
        # The setter's request id and the digest of the request: a retry answers this hold, the same id
        # with other content is refused ("" for a hold set before holds kept their history).
        Column("request_id", String(64), nullable=False, server_default=""),
        Column("request_digest", String(64), nullable=False, server_default=""),
        Column("released_at", ts, nullable=True),
        Column("released_by_id", String(64), nullable=False, server_default=""),
        Column("released_by", String(255), nullable=False, server_default=""),
        # The releaser's request id ("" when none: renewed, or released before releases carried one).
        Column("release_request_id", String(64), nullable=False, server_default=""),
        # The hold set in its place when a set renewed it ("" when a release ended it).
        Column("superseded_by", String(36), nullable=False, server_default=""),
    )
    # At most one active hold per thing held, whatever races: the loser of two concurrent first sets fails
    # here and is answered cleanly (``retention_service.set_hold``).
    active = legal_holds.c.released_at.is_(None)
    Index(
        "ux_legal_holds_active",
        legal_holds.c.workspace_id,
        legal_holds.c.record_type,
        legal_holds.c.record_id,
        unique=True,
        sqlite_where=active,
        postgresql_where=active,
    )
    Index(
        "ux_legal_holds_request",
        legal_holds.c.set_by_id,
        legal_holds.c.request_id,
        unique=True,
        sqlite_where=legal_holds.c.request_id != "",
        postgresql_where=legal_holds.c.request_id != "",
    )
    Index(
        "ux_legal_holds_release_request",
        legal_holds.c.released_by_id,
        legal_holds.c.release_request_id,
        unique=True,
        sqlite_where=legal_holds.c.release_request_id != "",
        postgresql_where=legal_holds.c.release_request_id != "",
    )
    workspace_joins = Table(
        "workspace_joins",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("workspace_id", String(64), nullable=False),
        Column("countries", String(255), nullable=False),  # comma-separated jurisdiction codes
        Column("due_at", ts, nullable=False),
        # The second pass's: only what changed since (NULL: the first pass, every record).
        Column("changed_since", ts, nullable=True),
        # Where the pass is: the index of the kind of record being sent and the last id sent of it.
        Column("kind", Integer, nullable=False),
        Column("after_id", String(64), nullable=False),
        Column("sent", Integer, nullable=False),
    )
    Index("ix_workspace_joins_due", workspace_joins.c.due_at)
    federation_links = Table(
        "federation_links",
        metadata,
        # A peer's country, or ``joining.NOT_RECORDED`` until the first start records the peers.
        Column("country", String(8), primary_key=True),
        Column("linked_at", ts, nullable=False),
    )
    last_changes = Table(
        "last_changes",
        metadata,
        Column("record_type", String(32), primary_key=True),
        Column("record_id", String(64), primary_key=True),
        # The version the change made, and the SHA-256 of (caller, RPC, request) that made it: a digest only.
        Column("version", Integer, nullable=False),
        Column("fingerprint", String(64), nullable=False),
        # Its record's workspace: the workspace's retention shred deletes its rows (``sealing.destroy_payloads``).
        Column("workspace_id", String(64), nullable=False, index=True),
    )
    return RuntimeTables(
        outbox,
        inbox,
        dead_letters,
        audit_log,
        audit_head,
        audit_pending,
        workspaces,
        audit_checkpoint,
        deletion_certificates,
        legal_holds,
        workspace_joins,
        federation_links,
        last_changes,
    )


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def insert_or_nothing(session: Session, table: Table) -> Any:
    """``INSERT INTO table ... ON CONFLICT DO NOTHING`` in the session's dialect: a row another transaction
    wrote first (another replica of the service, another scan) is left as it is. Give it ``.values``; to
    learn whether this one wrote the row, ``.returning`` a column (psycopg reports rowcount -1 either way)."""
    dialect: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


T = TypeVar("T")


class Write(Protocol):
    """Runs ``fn`` in a write transaction of its own and returns what it returns (``Database.write_sync``):
    what a start-time backfill takes to write its batches (``jitlib.server.ServiceSpec.backfills``)."""

    def __call__(self, fn: Callable[[Session], T], /) -> T: ...


class Database:
    """The service's database, used through short synchronous units of work.

    Why synchronous: an async driver pays a thread hand-off per statement (aiosqlite) and SQLAlchemy's
    async layer a greenlet switch per call; a create with five statements then costs milliseconds. Here
    a unit of work is one plain function: on SQLite it runs inline on the event loop (each statement
    takes microseconds and the process is the only writer), on PostgreSQL it runs on a worker thread, one
    hand-off per unit of work, so the loop keeps serving while the database answers; a create's unit runs
    on the loop first and, when its one deferred statement is all it sends, awaits it there on an async
    connection (``write`` ``on_loop``), with no hand-off at all; and a list's page, whose statements are
    ``CompiledSelect``s, is read on the loop in a greenlet, each of them awaited there (``read``
    ``on_loop``): one greenlet switch each way per statement, no thread.
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = sync_url(url)
        self.sqlite = is_sqlite(self.url)
        if self.sqlite:
            self.engine = create_engine(
                self.url,
                echo=echo,
                connect_args={"timeout": 30, "check_same_thread": False},
                poolclass=QueuePool,
                pool_size=SQLITE_POOL_SIZE,
                max_overflow=SQLITE_POOL_OVERFLOW,
            )
            _sqlite_pragmas(self.engine)
            self._executor: ThreadPoolExecutor | None = None
            path = self.engine.url.database
            self._checkpointer = _Checkpointer(path) if path and path != ":memory:" else None
        else:
            self.engine = create_engine(
                self.url,
                echo=echo,
                pool_size=pool_size,
                max_overflow=pool_size,
                # No pre-ping (a round trip at every checkout): a connection the server closed is found at
                # checkout without one (``_drop_closed``), and a unit of work that finds its connection
                # lost before it committed anything runs again on a new one (``write_sync``).
                connect_args=_PG_CONNECT_ARGS,
            )
            self._executor = ThreadPoolExecutor(
                max_workers=pool_size, thread_name_prefix="db", initializer=self._worker_started
            )
            self._checkpointer = None
        #: PostgreSQL: the connections the event loop sends a unit's one statement on (``write`` ``on_loop``),
        #: and the connection a unit running on the loop is bound to, on which nothing is sent.
        self._loop_statements = (
            _LoopStatements(self.engine, min(pool_size, LOOP_CONNECTIONS))
            if not self.sqlite and self.engine.dialect.driver == "psycopg"
            else None
        )
        self._loop_conn: Connection | None = None
        #: What ``on_commit`` registered, called by a unit run on the loop once its statement answered.
        self._on_commit: list[Callable[[Session], None]] = []
        self.system = "sqlite" if self.sqlite else "postgresql"
        #: SQLite's write units: one connection kept checked out for them, used by one unit at a time (SQLite
        #: has one writer at a time in any case), so a write pays no pool checkout, check-in or reset.
        self._write_conn: Connection | None = None
        self._write_lock = threading.Lock()
        #: SQLite: the thread ``streamed`` reads run on, one at a time (``_sqlite_streamed``; started at the first).
        self._long_reader = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-long-read") if self.sqlite else None
        )
        #: PostgreSQL's worker threads: each keeps one connection checked out for its units of work, read or
        #: write (one unit at a time on a thread), so a unit pays no pool checkout, reset or check-in; as
        #: many as the threads, which the pool's size matches. ``_kept_all``: every one, closed at dispose.
        self._kept = threading.local()
        self._kept_all: set[Connection] = set()
        _count_statements(self.engine)
        if not self.sqlite:
            _drop_closed(self.engine)
            _flush_before_statements(self.engine)
        #: Copied into every session's ``info``: what the service's stores find there (``jitlib.sealing``
        #: puts its content keys here before the first session opens).
        self.info: dict[str, Any] = {}
        self._reader = sessionmaker(self.engine, expire_on_commit=False, info=self.info)
        # Writers take SQLite's write lock at BEGIN, so two writers never deadlock on a lock upgrade.
        self._writer = sessionmaker(
            self.engine.execution_options(jit_write=True), expire_on_commit=False, info=self.info
        )

    async def _run(self, fn: Callable[[], T], executor: ThreadPoolExecutor | None = None) -> T:
        """``fn`` on ``executor`` (else the database's worker threads; inline on the loop on SQLite)."""
        executor = executor or self._executor
        if executor is None:
            return fn()
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()  # keep the trace context for the transaction's span
        return await loop.run_in_executor(executor, ctx.run, fn)

    def _traced(self, mode: str, unit: Callable[[], T]) -> T:
        """Run a unit of work as one span (``db read`` or ``db write``, a child of the caller's), which
        counts its SQL statements (``db.statement_count``): one span per transaction, not one per
        statement, so tracing a create costs one span, not ten."""
        if not is_instrumentation_enabled():  # e.g. the relay's idle polling
            return unit()
        if _parent_left_out():  # the unit's events carry its parent's trace context on
            return unit()
        counter = [0]
        token = _statements.set(counter)
        try:
            with tracer.start_as_current_span(
                f"db {mode}", kind=trace.SpanKind.CLIENT, attributes={"db.system": self.system}
            ) as span:
                try:
                    return unit()
                finally:
                    span.set_attribute("db.statement_count", counter[0])
        finally:
            _statements.reset(token)

    async def read(self, fn: Callable[[Session], T], *, streamed: bool = False, on_loop: bool = False) -> T:
        """Run ``fn(session)`` in a read transaction (rolled back at the end). ``streamed``: it reads rows
        from a server-side cursor (``yield_per``), which PostgreSQL keeps only inside a transaction block,
        and all its statements read one snapshot: on PostgreSQL the transaction is REPEATABLE READ, READ
        ONLY (at READ COMMITTED each statement reads what was committed when it starts, so a long walk
        read beside its first statement's results what other transactions committed meanwhile: an audit
        chain's head from before a pruning with the checkpoint from after it); on SQLite a read
        transaction reads one snapshot of the WAL already.

        On PostgreSQL (a worker thread's kept connection) its statements run in autocommit, each a
        transaction of its own: what they see is what they saw inside one, since at PostgreSQL's READ
        COMMITTED, the services' level, each statement of a transaction takes a snapshot of its own anyway,
        and the ``BEGIN`` and ``ROLLBACK`` around them were two round trips to the server for nothing (about
        0.3 ms alone; a list page's read 0.4-0.6 ms faster without them, bench/README.md, Lists, the tenth
        pass). Only reads: any other statement is refused (``sqlexec.ReadOnly``) instead of being rolled
        back. With ``streamed``, in a transaction as before.

        On SQLite (inline on the loop, one unit at a time) a read runs on the writers' kept connection, in a
        read transaction (``BEGIN``, not ``BEGIN IMMEDIATE``) rolled back at its end, its statements
        refused as on PostgreSQL when they are not reads (``_sqlite_read``). A ``streamed`` one, a walk of
        a whole table, runs on a thread and a connection of its own instead (``_sqlite_streamed``).

        ``on_loop`` (a list's page): on PostgreSQL ``fn`` is first run on the event loop (``_read_on_loop``),
        its SELECTs awaited there; when it would send anything else, it runs again on a worker thread. Only
        while one of the loop's connections is free: with all of them busy (a burst of creates and lists),
        the read goes to a worker thread at once rather than queue behind the loop's writes."""
        if on_loop and not streamed and self._loop_statements is not None and self._loop_statements.free():
            done = await self._read_on_loop(fn)
            if done is not None:
                return done[0]

        def unit() -> T:
            if self.sqlite:
                return self._sqlite_streamed(fn) if streamed else self._sqlite_read(fn)
            conn = self._worker_connection()
            if conn is None or streamed:
                with self._reader() if conn is None else self._reader(bind=conn) as session:
                    if streamed:  # before any other statement of the transaction, as PostgreSQL requires
                        session.execute(_ONE_SNAPSHOT)
                    return fn(session)
            dbapi: Any = conn.connection.driver_connection
            dbapi.autocommit = True
            try:
                return self._read_only(conn, fn)
            finally:
                if not dbapi.closed:
                    try:
                        dbapi.autocommit = False
                    except Exception:
                        # Left in autocommit, its next write unit would not be one transaction: a connection
                        # that cannot leave it (lost, its state unknown) is let go, and the next unit opens
                        # another (``_worker_connection``). What the read raised, if anything, goes on.
                        conn.invalidate()

        def retried() -> T:
            try:
                return self._traced("read", unit)
            except DBAPIError as e:
                if self.sqlite or not e.connection_invalidated:
                    raise
                return self._traced("read", unit)  # its connection was lost: a read is safe to run again

        return await self._run(retried, self._long_reader if streamed else None)

    async def _read_on_loop(self, fn: Callable[[Session], T]) -> tuple[T] | None:
        """``read`` ``on_loop``: ``(fn's result,)``, or None when ``fn`` must run on a worker thread.

        ``fn`` runs on the event loop in a greenlet (SQLAlchemy's ``greenlet_spawn``, as its asyncio
        extension runs a synchronous function): each SELECT it runs below SQLAlchemy's execution
        (``CompiledSelect``: a page, a workspace's key) goes out in autocommit on a connection the loop
        awaits (``_LoopStatements``), as a read on a worker thread runs in autocommit, and the greenlet
        resumes with its rows (``jitlib.sqlexec.loop_reads``): no hand-off to a thread and back, no GIL
        passed between them, and the loop serves other calls while the server answers. Any other statement
        (through SQLAlchemy's session: an ORM read) raises ``NeedsThread`` before it is sent: that run is
        dropped and ``fn`` runs again from the start on a worker thread, as does one whose connection was
        lost. Its session is bound to the connection the loop's units share (``_loop_connection``), on
        which nothing is sent and no transaction begun."""
        from sqlalchemy.util import greenlet_spawn

        assert self._loop_statements is not None
        conn = self._loop_connection()
        fetch = self._loop_statements.fetch

        def unit() -> T:
            reads, on_loop = _loop_reads.set(fetch), _on_loop.set(True)
            try:
                return self._traced("read", lambda: self._read_only(conn, fn))
            finally:
                _on_loop.reset(on_loop)
                _loop_reads.reset(reads)

        try:
            return (await greenlet_spawn(unit),)
        except NeedsThread:
            return None
        except DBAPIError as e:
            if not e.connection_invalidated:
                raise
            return None  # its connection was lost: a read is safe to run again, there

    def _sqlite_streamed(self, fn: Callable[[Session], T]) -> T:
        """A SQLite ``streamed`` read (an auditor's verify of the whole audit chain: about 1.2 s a 100,000
        entries here) on the long reads' thread, on a pooled connection of its own, not inline on the event
        loop under the writers' lock as a short read runs (``_sqlite_read``): the loop serves every other
        call meanwhile, and the writers go on, since a read transaction of the WAL keeps its snapshot,
        taken at its first statement, whatever commits after it."""
        with self.engine.connect() as conn:
            return self._read_only(conn, fn)

    async def write(self, fn: Callable[[Session], T], *, on_loop: bool = False) -> T:
        """Run ``fn(session)`` in a write transaction, committed when ``fn`` returns normally.

        ``on_loop`` (a create's unit). On SQLite, whose units run on the loop in any case, ``fn`` first runs
        with its INSERT rows deferred and no statement sent; when those rows are all it wrote, they go out
        in a transaction of their own on the writers' connection (``_sqlite_deferred``), below SQLAlchemy's
        session transaction. On PostgreSQL ``fn`` is first run on the event loop, where it may send
        no statement. When all it wrote are INSERT rows deferred into one statement (``jitlib.sqlexec.
        deferring``), that statement goes out in autocommit on a connection the loop awaits
        (``_LoopStatements``): the same one transaction, without the hand-off to a worker thread and back,
        nor the GIL passed between them. When it would send anything else (a workspace's key read or made,
        an ORM write), that run is dropped unsent (``jitlib.sqlexec.NeedsThread``) and ``fn`` runs again
        from the start on a worker thread, as any unit does: so ``fn`` must keep nothing of a run but what
        it returns and writes through its session."""
        if on_loop and self._loop_statements is not None:
            done = await self._write_on_loop(fn)
            if done is not None:
                return done[0]
        return await self._run(lambda: self.write_sync(fn, deferred=on_loop))

    def _deferred_run(self, conn: Connection, fn: Callable[[Session], T]) -> tuple[T, list[Entry], Session] | None:
        """``fn`` run on a session bound to ``conn`` with its ``CompiledInsert`` rows deferred and no statement
        allowed (``jitlib.sqlexec.on_loop``): (its result, the rows it deferred, its closed session) when
        those rows are all it wrote, for the caller to send; None when it would send anything else or wrote
        through the ORM or added a listener of its own commit (nothing of that run is kept: a transaction it
        began is rolled back when its session closes). The first step of a create's unit on either backend
        (``_write_on_loop``, ``_sqlite_deferred``)."""
        session = self._writer(bind=conn)
        token = _on_loop.set(True)
        try:
            # Its rows wait in the batch on ``conn`` without the session's transaction begun (nothing is sent).
            with session, deferring(conn) as batch:
                listeners = len(session.dispatch.after_commit)
                result = fn(session)
                if session.new or session.dirty or session.deleted or len(session.dispatch.after_commit) != listeners:
                    raise NeedsThread  # ORM writes to flush, or a listener of this session's own commit
                return result, batch.entries, session
        except NeedsThread:
            return None
        finally:
            _on_loop.reset(token)

    async def _write_on_loop(self, fn: Callable[[Session], T]) -> tuple[T] | None:
        """``write`` ``on_loop``: ``(fn's result,)`` once committed, or None when ``fn`` must run on a worker
        thread (nothing of this run was sent). Traced as one ``db write`` span from ``fn``'s start, as
        ``_traced`` traces a unit on a worker thread."""
        assert self._loop_statements is not None
        started = time.time_ns()
        conn = self._loop_connection()
        run = self._deferred_run(conn, fn)
        if run is None:
            return None
        result, entries, session = run
        # The session is closed before the statement goes out: the loop's other units bind their own to the
        # same connection meanwhile. Once the statement answered, the commit's listeners (``on_commit``: the
        # chainer's wake) are called as its commit would call them, here on the loop.
        if entries:
            sql, params, _ = statement(conn.dialect, entries)
            sent = self._loop_statements.send(sql, params)
            if is_instrumentation_enabled() and not _parent_left_out():
                span = tracer.start_span(
                    "db write",
                    kind=trace.SpanKind.CLIENT,
                    attributes={"db.system": self.system, "db.statement_count": 1},
                    start_time=started,
                )
                with trace.use_span(span, end_on_exit=True):
                    await sent
            else:
                await sent
        for committed in self._on_commit:
            committed(session)
        return (result,)

    def _loop_connection(self) -> Connection:
        """The connection a unit running on the event loop is bound to (its dialect, its session's
        transaction): nothing is sent on it, and it is checked as a worker thread's kept one is."""
        conn = self._loop_conn
        if conn is None or conn.closed or conn.invalidated or _server_closed(conn.connection.dbapi_connection):
            if conn is not None and not conn.closed:
                conn.invalidate()
                conn.close()
            conn = self._loop_conn = self.engine.connect()
        elif conn.in_transaction():
            conn.rollback()
        return conn

    def write_sync(self, fn: Callable[[Session], T], *, deferred: bool = False) -> T:
        """``write`` in the calling thread (before the service serves, or in a worker thread). ``deferred``
        (SQLite; ``write`` ``on_loop``): tried as ``_sqlite_deferred`` first.

        On PostgreSQL the unit's INSERT rows through ``CompiledInsert`` are deferred and sent as one
        statement (``jitlib.sqlexec.deferring``); a unit that wrote nothing else sends them as a
        transaction of their own, without ``BEGIN`` and ``COMMIT``. A unit whose connection is found lost
        before anything of it could have committed (by ``fn``, or by a statement inside its transaction)
        runs once more on a new connection; a loss while committing is raised, since the commit may
        have happened."""
        if self.sqlite:
            return self._traced("write", lambda: self._sqlite_write(fn, deferred=deferred))

        def unit() -> T:
            conn = self._worker_connection()
            with self._writer() if conn is None else self._writer(bind=conn) as session, deferring() as batch:
                session.begin()
                result = fn(session)  # on an error the session's close rolls back
                session.flush()  # the ORM's pending writes, if any, go first (and the batch with them)
                try:
                    batch.send(alone=True)
                    session.commit()
                except DBAPIError as e:
                    raise _Committing(e) from e
                return result

        for attempt in (1, 2):
            try:
                return self._traced("write", unit)
            except DBAPIError as e:
                if attempt == 2 or not e.connection_invalidated:
                    raise
            except _Committing as e:
                raise e.error from None
        raise AssertionError("unreachable")

    def _sqlite_read(self, fn: Callable[[Session], T]) -> T:
        """A SQLite read unit on the writers' kept connection (``_sqlite_connection``): its session's ``BEGIN``
        a plain one (``_reading``: no write lock taken), rolled back when the session closes; a statement
        that is not a read refused (``sqlexec.ReadOnly``). SQLite resets a connection's page cache whenever
        another connection has written since its last read: a list's page read on a pooled connection
        after its audit entry was written on this one re-read every page it touched (a page of tasks 0.12
        ms more, by state 0.24, in a due window 0.46; bench/README.md, Lists, the eleventh pass). On the
        connection that wrote, the cache holds, and no pool checkout, reset or check-in is paid. The read
        transaction is the driver's own (``sqlexec.read_transaction``): SQLAlchemy's is begun only for a
        statement sent through it, and then joins the driver's (``_on_begin``)."""
        with self._write_lock:
            conn = self._sqlite_connection()
            return read_transaction(conn, lambda: self._read_only(conn, fn))

    def _read_only(self, conn: Connection, fn: Callable[[Session], T]) -> T:
        """``fn(session)`` on ``conn`` as a read unit (``_reading``): a statement that is not a read refused
        (``sqlexec.ReadOnly``), and on SQLite its ``BEGIN`` a plain one."""
        token = _reading.set(True)
        try:
            with self._reader(bind=conn) as session:
                return fn(session)
        finally:
            _reading.reset(token)

    def _sqlite_connection(self) -> Connection:
        """The writers' kept connection (``_write_conn``; the caller holds ``_write_lock``): one SQLAlchemy
        found broken or closed is let go and another opened."""
        conn = self._write_conn
        if conn is None or conn.closed or conn.invalidated:
            if conn is not None:
                conn.close()
            conn = self._write_conn = self.engine.connect().execution_options(jit_write=True)
        return conn

    def _sqlite_write(self, fn: Callable[[Session], T], *, deferred: bool = False) -> T:
        """A SQLite write unit on the writers' kept connection: the session begins (``BEGIN IMMEDIATE``) and
        commits or rolls back its transaction on it, as on a pooled one; a connection SQLAlchemy found
        broken is let go and the next unit opens another. Every ``SQLITE_CHECKPOINT_EVERY`` units the WAL is
        checkpointed by a thread of its own (``_Checkpointer``), not by a commit on the event loop.
        ``deferred``: tried as ``_sqlite_deferred`` first."""
        with self._write_lock:
            conn = self._sqlite_connection()
            try:
                if deferred:
                    done = self._sqlite_deferred(conn, fn)
                    if done is not None:
                        return done[0]
                with self._writer(bind=conn) as session, session.begin():
                    return fn(session)
            finally:
                if self._checkpointer is not None:
                    self._checkpointer.written()

    def _sqlite_deferred(self, conn: Connection, fn: Callable[[Session], T]) -> tuple[T] | None:
        """A create's unit on SQLite (``write`` ``on_loop``): ``fn`` runs with its ``CompiledInsert`` rows
        deferred and no statement allowed (``jitlib.sqlexec.on_loop``); when those rows are all it wrote,
        they are sent on ``conn``'s driver connection between ``BEGIN IMMEDIATE`` and ``COMMIT``, one
        statement per INSERT (``sqlexec.send_each``), and the commit's listeners called as the session's
        commit calls them: ``(fn's result,)``. The same statements in one transaction as the session's,
        without the session's transaction, its connection's begin and commit events and their objects (a
        fifth of a create's unit in a profile, bench/README.md). None when ``fn`` would send anything else
        (a workspace's key read or made, an ORM write, an UPDATE): nothing of that run is kept (a
        transaction it began is rolled back when its session closes), and ``fn`` runs again as any unit."""
        run = self._deferred_run(conn, fn)
        if run is None:
            return None
        result, entries, session = run
        if entries:
            transaction(conn, lambda: send_each(conn, entries))
        for committed in self._on_commit:
            committed(session)
        return (result,)

    def _worker_started(self) -> None:
        self._kept.conn = None

    def _worker_connection(self) -> Connection | None:
        """The calling worker thread's kept connection (PostgreSQL; None on any other thread), checked as the
        pool checks one at checkout (``_server_closed``: no round trip): one the server closed, or that
        SQLAlchemy found lost (the unit of work that met it runs again), is let go and another opened."""
        kept = self._kept
        if not hasattr(kept, "conn"):
            return None
        conn: Connection | None = kept.conn
        if conn is not None and (conn.closed or conn.invalidated or _server_closed(conn.connection.dbapi_connection)):
            with self._write_lock:
                self._kept_all.discard(conn)
            if not conn.closed:
                conn.invalidate()  # its DBAPI connection is discarded, not handed back to the pool
                conn.close()
            conn = None
        elif conn is not None and conn.in_transaction():  # never join a transaction a unit left open
            conn.rollback()
        if conn is None:
            conn = kept.conn = self.engine.connect()
            with self._write_lock:
                self._kept_all.add(conn)
        return conn

    def on_commit(self, callback: Callable[[Session], None]) -> None:
        """Call ``callback(session)`` after each write transaction commits, in the thread that committed
        (a worker thread on PostgreSQL, or the event loop's for a unit run there, ``write`` ``on_loop``):
        what a unit of work left in ``session.info`` tells it what to do."""
        event.listen(self._writer, "after_commit", callback)
        self._on_commit.append(callback)

    def dispose(self) -> None:
        with self._write_lock:
            if self._write_conn is not None:
                self._write_conn.close()
                self._write_conn = None
            if self._loop_conn is not None:
                self._loop_conn.close()
                self._loop_conn = None
        if self._loop_statements is not None:
            self._loop_statements.close()
        if self._checkpointer is not None:
            self._checkpointer.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self._long_reader is not None:
            self._long_reader.shutdown(wait=True)
        with self._write_lock:
            kept, self._kept_all = self._kept_all, set()
        for conn in kept:
            conn.close()
        self.engine.dispose()


def _parent_left_out() -> bool:
    """Whether the current span is one its sampler left out: a child of it is not recorded either (the
    providers' samplers are parent-based, ``jitlib.telemetry``), so a unit's span would be made for nothing."""
    parent = trace.get_current_span().get_span_context()
    return parent.is_valid and not parent.trace_flags.sampled


def _count_statements(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        refuse_on_loop()
        refuse_writes(statement)
        count_statement()


def _flush_before_statements(engine: Engine) -> None:
    """Send a unit of work's deferred INSERTs (``jitlib.sqlexec.deferring``) before any other statement of
    it runs, so its reads and updates see its writes."""

    @event.listens_for(engine, "before_execute")
    def _flush(conn: Connection, *_args: Any) -> None:
        refuse_on_loop()
        flush(conn)


def _drop_closed(engine: Engine) -> None:
    """At checkout, a connection the server closed (its process ended: a restart, ``pg_terminate_backend``,
    an idle timeout) is replaced without a round trip: an idle connection has nothing to read unless the
    server said goodbye (its last error, then the end of the stream), so a readable socket or a connection
    psycopg already knows is broken is handed to the pool as disconnected (SQLAlchemy's documented
    ``DisconnectionError`` at checkout), which opens another."""

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if _server_closed(dbapi_connection):
            raise DisconnectionError("the server closed the connection")


def _server_closed(dbapi_connection: Any) -> bool:
    """Whether an idle psycopg connection is closed, or its server said goodbye (its socket is readable)."""
    if dbapi_connection.closed:
        return True
    poller = poll()
    poller.register(dbapi_connection.fileno(), POLLIN | POLLERR | POLLHUP)
    return bool(poller.poll(0))


#: The most connections the event loop sends units' statements on at once (``_LoopStatements``): a create's
#: statement takes 1-3 ms, so at 1,200 creates a second (c16) about 1 to 3 are in flight; 4 served as many
#: calls a second as 10 in turns (bench/README.md, "the create's unit on the loop"), with fewer connections.
LOOP_CONNECTIONS = 4

#: How the service connects to PostgreSQL. Timestamps come back in UTC whatever the server's zone, as
#: datetime.UTC itself, which jitlib.clock.as_utc passes through instead of converting (psycopg maps the zone
#: "UTC" to it, and "Etc/UTC", the zone initdb often picks, to a ZoneInfo).
_PG_CONNECT_ARGS = {"options": "-c TimeZone=UTC"}
#: A streamed read's transaction on PostgreSQL (``Database.read``): one snapshot, taken at its first query.
_ONE_SNAPSHOT = text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


class _LoopStatements:
    """PostgreSQL connections in autocommit on which the event loop sends a unit of work's one statement
    and awaits its answer (``Database.write`` ``on_loop``): PostgreSQL runs it as a transaction of its own,
    committed with its fsync before it answers; and a read's SELECTs, each awaited for its rows
    (``Database.read`` ``on_loop``). Opened as the units need them, at most ``size`` at once, kept between
    units; made with the engine's own connection arguments (its psycopg adapters)."""

    def __init__(self, engine: Engine, size: int) -> None:
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._args = tuple(args)
        self._kwargs = {**kwargs, **_PG_CONNECT_ARGS, "autocommit": True}
        self._dialect = engine.dialect
        self._size = size
        self._idle: list[tuple[Any, Any, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._free = asyncio.Semaphore(size)

    async def send(self, sql: str, params: Any) -> None:
        """Run ``sql`` (numbered parameters, ``jitlib.sqlexec.statement``) once with ``params``, counted; a
        driver error is raised as SQLAlchemy's (``IntegrityError`` for a duplicate key: nothing of it was
        written). A connection lost while it ran is raised too, never retried: the commit may have happened."""
        count_statement()
        await self._run(sql, params, fetch=False)

    def free(self) -> bool:
        """Whether a statement sent now would find a connection free (none of the ``size`` in use)."""
        return self._loop is not asyncio.get_running_loop() or not self._free.locked()

    async def fetch(self, sql: str, params: Any) -> list[Any]:
        """The rows of the SELECT ``sql`` (the driver's named parameters, as a ``CompiledSelect`` compiled
        for psycopg) run once with ``params`` (``Database.read`` ``on_loop``; counted by its caller), as the
        driver gives them. A driver error is raised as SQLAlchemy's; a lost connection with
        ``connection_invalidated``, for the caller to read again elsewhere."""
        return await self._run(sql, params, fetch=True)

    async def _run(self, sql: str, params: Any, *, fetch: bool) -> list[Any]:
        import psycopg

        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # connections and the semaphore belong to one loop
            self.close()
            self._loop, self._free = loop, asyncio.Semaphore(self._size)
        async with self._free:
            try:
                taken = self._take() or await self._open()
            except psycopg.Error as e:
                raise self._error(sql, params, e, lost=True) from e
            conn = taken[0]
            cursor = taken[2] if fetch else taken[1]
            rows: list[Any] = []
            try:
                if fetch:
                    # Results in binary: a page's sealed text and answers as their bytes, not hex to decode
                    # (a page of 51 requests 0.47 -> 0.42 ms); the same values (no column of an enum or
                    # other type psycopg has no binary loader for is read so).
                    await cursor.execute(sql, params, binary=True)
                    rows = await cursor.fetchall()
                else:
                    await cursor.execute(sql, params)
            except psycopg.Error as e:
                lost = bool(conn.broken or conn.closed)
                self._keep(taken, lost)
                raise self._error(sql, params, e, lost=lost) from e
            except BaseException:  # cancelled while it ran: the connection's state is unknown
                self._keep(taken, True)
                raise
            self._keep(taken, False)
            return rows

    async def _open(self) -> tuple[Any, Any, Any]:
        """A new connection, with the raw cursor its writes run on and the cursor its reads run on (kept
        with it: made once per connection, not per statement)."""
        import psycopg

        conn = await psycopg.AsyncConnection.connect(*self._args, **self._kwargs)
        return conn, psycopg.AsyncRawCursor(conn), conn.cursor()

    def _take(self) -> tuple[Any, Any, Any] | None:
        """An idle connection and its cursor, not one the server closed while it was idle (``_server_closed``)."""
        while self._idle:
            taken = self._idle.pop()
            if not _server_closed(taken[0]):
                return taken
            taken[0].pgconn.finish()
        return None

    def _keep(self, taken: tuple[Any, Any, Any], lost: bool) -> None:
        if lost:
            taken[0].pgconn.finish()
        else:
            self._idle.append(taken)

    def _error(self, sql: str, params: Any, e: Exception, *, lost: bool) -> DBAPIError:
        import psycopg

        return cast(
            DBAPIError,
            DBAPIError.instance(sql, params, e, psycopg.Error, dialect=self._dialect, connection_invalidated=lost),
        )

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn, *_ in idle:
            conn.pgconn.finish()


class _Committing(Exception):
    """A unit of work's error once it began to commit (its last deferred rows, perhaps as the lone statement
    that commits it, then ``COMMIT``): raised as it is, never retried (``Database.write_sync``)."""

    def __init__(self, error: DBAPIError) -> None:
        super().__init__(str(error))
        self.error = error


#: A SQLite database's connections: 2 kept, 2 more under load (one writer at a time in any case).
SQLITE_POOL_SIZE = 2
SQLITE_POOL_OVERFLOW = 2
#: SQLite's page cache per connection, in KiB (``PRAGMA cache_size`` takes a negative number for KiB).
SQLITE_CACHE_KIB = 16 * 1024
#: The WAL is checkpointed by ``_Checkpointer``'s thread once every this many write units...
SQLITE_CHECKPOINT_EVERY = 32
#: ... and by a commit itself (SQLite's ``wal_autocheckpoint``, 1,000 pages by default) only once the WAL
#: holds this many pages (16 MiB of 4 KiB pages): the WAL's bound. The thread's checkpoints copy the WAL
#: into the database file while commits go on, but the WAL starts again from its beginning only after a
#: checkpoint that no commit interrupted, which a steady stream of writes may never leave room for.
SQLITE_WAL_PAGES = 4000


#: How many times ``_Checkpointer`` tries a checkpoint that found the database busy, and how long apart.
_CHECKPOINT_TRIES = 20
_CHECKPOINT_RETRY_SECONDS = 0.05


class _Checkpointer:
    """SQLite's WAL checkpoints off the event loop. A commit that finds the WAL over
    ``wal_autocheckpoint`` pages checkpoints it inline: it copies the WAL's pages into the database file
    and fsyncs both (``synchronous=NORMAL``), so about one create in eighty took milliseconds instead of
    a tenth of one, and every call waiting on the loop with it. Here a thread with a connection of its own
    runs ``PRAGMA wal_checkpoint(PASSIVE)`` after every ``SQLITE_CHECKPOINT_EVERY`` write units: it waits
    for no reader or writer (the writer goes on committing meanwhile), the sqlite3 module lets go of the
    GIL while it runs, and the syncs are the same (the WAL before the copy, the database after it).
    A commit still checkpoints when the WAL reaches ``SQLITE_WAL_PAGES`` (the thread fell behind, or never
    found the WAL at rest): the WAL's bound, a soft one (that checkpoint gives way, busy, while the thread's
    runs, and the next commit tries again). Started at the first checkpoint it is asked for;
    ``stop`` ends it."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._due = threading.Event()
        self._stopping = False
        self._units = 0
        self._thread: threading.Thread | None = None

    def written(self) -> None:
        """A write unit ended (called under the writers' lock)."""
        self._units += 1
        if self._units < SQLITE_CHECKPOINT_EVERY or self._stopping:
            return
        self._units = 0
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
            self._thread.start()
        self._due.set()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            while True:
                self._due.wait()
                self._due.clear()
                if self._stopping:
                    return
                self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        """One checkpoint; one that found the database busy (another checkpoint running, the WAL being
        reset by a commit) is tried again a little later rather than left to the next units: after a burst
        of writes there may be none for a long time. After ``_CHECKPOINT_TRIES`` a commit at the bound, or
        the next units, checkpoint."""
        for _ in range(_CHECKPOINT_TRIES):
            try:
                if not conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0]:
                    return
                problem = "busy"
            except sqlite3.Error as e:
                problem = str(e)
            if self._stopping:
                return
            time.sleep(_CHECKPOINT_RETRY_SECONDS)
        log.warning("WAL checkpoint failed %d times (%s); the next units or a commit will", _CHECKPOINT_TRIES, problem)

    def stop(self) -> None:
        self._stopping = True
        self._due.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions are not serialisable).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # A page cache of 16 MiB per connection (SQLite's default is 2 MiB, 500 pages): a scan of a few hundred
        # rows spread over the table (the preservation warning scan's batch of 500) then stays in it
        # between scans instead of being read again from the OS each time.
        cursor.execute(f"PRAGMA cache_size={-SQLITE_CACHE_KIB}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        driver = conn.connection.driver_connection
        if _bare_reads.get() and driver.in_transaction:
            return  # a read unit's transaction, begun on the driver (``sqlexec.read_transaction``): joined
        # A writer's unit takes the write lock at BEGIN; a read unit on the same connection does not (_reading).
        immediate = conn.get_execution_options().get("jit_write", False) and not _reading.get()
        # Straight to the driver: a BEGIN needs no statement cache, events or span.
        driver.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def alembic_config(migrations_dir: Path, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def sync_url(url: str) -> str:
    """The synchronous driver URL (an aiosqlite URL from older settings is accepted and converted)."""
    return url.replace("sqlite+aiosqlite", "sqlite", 1)


def migrate(migrations_dir: Path, url: str, revision: str = "head") -> None:
    """Apply the service's Alembic migrations. Synchronous: call it before serving, or in a thread."""
    command.upgrade(alembic_config(migrations_dir, sync_url(url)), revision)
