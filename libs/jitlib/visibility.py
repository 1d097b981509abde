"""The policy's READ rule (``jitlib.policy.readable``) rendered as a SQL filter for list queries.

A store describes how its table answers the rule's questions (which workspace, is it restricted, is a
jurisdiction a party, is it addressed to a jurisdiction that reads it from outside the workspace) and gets
a WHERE clause; the rule itself stays in the policy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Delete,
    ForeignKey,
    Index,
    String,
    Table,
    and_,
    bindparam,
    delete,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from jitlib.clock import Window
from jitlib.policy import VisibilityScope, readable
from jitlib.sqlexec import CompiledInsert
from jitlib.validate import VICTIM_REF_MAX

SqlExpr = ColumnElement[bool]


@dataclass(frozen=True)
class SqlTerms:
    """``jitlib.policy.Terms`` as SQLAlchemy expressions over one table, the caller's values as bound
    parameters (``scope_workspaces``, ``scope_jurisdiction``: ``PartyIndex.bound`` binds them), not literals:
    the same WHERE clause for every caller of the same shape, built once."""

    #: The record's workspace id column.
    workspace: Any
    #: True for a record everyone in its workspace may read.
    open_to_workspace: SqlExpr
    #: For a jurisdiction (a bound parameter), true when it is a party of the record (an EXISTS on a
    #: parties table, say).
    party: Callable[[Any], SqlExpr]
    #: For a jurisdiction, true when the record is addressed to it as an instrument its addressee reads
    #: from outside the workspace too (``RecordAccess.outside_reader``); None for a kind of record that
    #: has no such addressee (always false).
    addressee: Callable[[Any], SqlExpr] | None = None

    def false(self) -> SqlExpr:
        return false()

    def all_of(self, *terms: SqlExpr) -> SqlExpr:
        return and_(*terms)

    def any_of(self, *terms: SqlExpr) -> SqlExpr:
        return or_(*terms)

    def workspace_in(self, workspaces: frozenset[str]) -> SqlExpr:
        return self.workspace.in_(bindparam("scope_workspaces", expanding=True))  # type: ignore[no-any-return]

    def not_restricted(self) -> SqlExpr:
        return self.open_to_workspace

    def has_party(self, jurisdiction: str) -> SqlExpr:
        return self.party(bindparam("scope_jurisdiction"))

    def addressed_to(self, jurisdiction: str) -> SqlExpr:
        return false() if self.addressee is None else self.addressee(bindparam("scope_jurisdiction"))


@dataclass
class BoundFilter:
    """A list's WHERE clause as its *shape* (which conditions it has) and its *values* (bound when it runs),
    so that ``RecordTable.page`` builds and compiles the statement of each shape once, not once per call
    (building a page's statement with the READ rule cost more than its query; bench/README.md, Lists).
    ``PartyIndex.bound`` starts one with the READ rule and the filters every list has; a store ``add``s its
    own. Two filters of the same shape give the same SQL; their values never enter the statement."""

    #: What the statement depends on, besides the table (the cache key of its statement).
    shape: list[Any]
    #: How to build each condition (called once per shape).
    builders: list[Callable[[], Any]]
    #: The bound parameters' values.
    params: dict[str, Any]
    #: How to build each condition that keeps a range of a column other than the id (a window of dates),
    #: which an index of that column serves out of the list's id order (``RecordTable.page``); also in
    #: ``builders``.
    windows: list[Callable[[], Any]] = field(default_factory=list)
    #: A condition keeps only the ids after a page's cursor (``after_id``) itself: the page adds none of
    #: its own (``RecordTable.page``).
    cursored: bool = False
    #: How to build the READ rule (the first of ``builders``, ``PartyIndex.bound``) with its party test on
    #: the record's own list of its parties (``PartyIndex.declare`` ``listed``), for ``listed_conditions``;
    #: None for a kind of record without one.
    listed: Callable[[], Any] | None = None

    def add(self, name: str, build: Callable[[], Any], *, window: bool = False, **params: Any) -> None:
        """Add the condition ``build()`` (which names its values as ``bindparam(<key of params>)``); ``window``
        when it keeps a range of a column other than the id."""
        self.shape.append(name)
        self.builders.append(build)
        self.params.update(params)
        if window:
            self.windows.append(build)

    def add_window(self, name: str, column: Any, window: Window) -> None:
        """Keep the rows whose timestamp ``column`` falls in ``window`` (``Window.holds`` as SQL: the start
        in, the end out; no condition for an open side), its sides bound as ``<name>_start`` and ``<name>_end``."""
        if window.start is not None:
            self.add(
                f"{name}>=",
                lambda: column >= bindparam(f"{name}_start"),
                window=True,
                **{f"{name}_start": window.start},
            )
        if window.end is not None:
            self.add(f"{name}<", lambda: column < bindparam(f"{name}_end"), window=True, **{f"{name}_end": window.end})

    def conditions(self) -> list[Any]:
        return [c for build in self.builders for c in _as_list(build())]

    def listed_conditions(self) -> list[Any]:
        """Its conditions, the READ rule's party test read from the record's own column (``listed``) instead
        of probing the parties' table, where the kind of record has that column and the filter no window;
        else ``conditions``. A window keeps the probe: with a test that cheap on each row, PostgreSQL's
        planner walks the primary key, reading every row to test the window on it, rather than the
        workspace's walk index that tests the window on the index and reads only the rows in it
        (tests/integration/test_list_plans_postgresql.py; bench/README.md, Lists, the twentieth pass)."""
        if self.listed is None or self.windows:
            return self.conditions()
        return [*_as_list(self.listed()), *(c for build in self.builders[1:] for c in _as_list(build()))]

    def window_conditions(self) -> list[Any]:
        """The conditions of its windows (``add(window=True)``) alone."""
        return [c for build in self.windows for c in _as_list(build())]

    def other_conditions(self) -> list[Any]:
        """Its conditions but its windows'."""
        windows = {id(build) for build in self.windows}
        return [c for build in self.builders if id(build) not in windows for c in _as_list(build())]

    def extended(self, name: str, build: Callable[[], Any], **params: Any) -> BoundFilter:
        """A copy with the condition ``build()`` added (``add``); this filter is left as it was."""
        copy = BoundFilter(
            [*self.shape], [*self.builders], {**self.params}, [*self.windows], self.cursored, self.listed
        )
        copy.add(name, build, **params)
        return copy


class Statements:
    """The statement of each ``BoundFilter`` shape one query meets, built once (by ``build``, from the
    filter's conditions) and kept, so a call neither builds nor keys a statement: it binds the filter's
    values (``params``). For a list with its own order or cursor; ``RecordTable.page`` keeps its pages so."""

    def __init__(
        self,
        build: Callable[[list[Any]], Any],
        *,
        most: int = 256,
        conditions: Callable[[BoundFilter], list[Any]] = BoundFilter.conditions,
    ) -> None:
        self._build = build
        #: Which of a filter's conditions its statements are built from (all of them, by default).
        self._conditions = conditions
        #: At most this many statements kept (a shape is a combination of filters: a few dozen).
        self._most = most
        self._built: dict[tuple[Any, ...], Any] = {}

    def of(self, flt: BoundFilter) -> Any:
        """The statement of ``flt``'s shape (built on its first call)."""
        key = tuple(flt.shape)
        stmt = self._built.get(key)
        if stmt is None:
            if len(self._built) >= self._most:
                self._built.clear()
            stmt = self._built[key] = self._build(self._conditions(flt))
        return stmt

    def scalars(self, session: Session, flt: BoundFilter, **params: Any) -> Any:
        """``Session.scalars`` of ``flt``'s statement, with its values and ``params`` (a limit, say)."""
        return session.scalars(self.of(flt), {**flt.params, **params})

    def execute(self, session: Session, flt: BoundFilter, **params: Any) -> Any:
        """``Session.execute`` of ``flt``'s statement, with its values and ``params``."""
        return session.execute(self.of(flt), {**flt.params, **params})


def _equals(row: Any, name: str) -> Any:
    return getattr(row, name) == bindparam(f"eq_{name}")


def _as_list(condition: Any) -> list[Any]:
    return list(condition) if isinstance(condition, list | tuple) else [condition]


@dataclass(frozen=True)
class VictimIndex:
    """The victims a kind of record names, one row per (record, pseudonym): how a list of one victim's
    records (``victim_ref``) finds them without testing every record's ``victim_refs`` (a comma-separated
    column) of the workspace. Its index (pseudonym, record id) gives a victim's records in id order, the
    list's order, so a page of them reads only its own rows, and a victim with none costs one probe
    (bench/README.md, Lists, the sixteenth pass). Written with each write of the record (``RecordTable``),
    in the same transaction. Declared in the record table's metadata (its migrations own it)."""

    table: Table
    #: The column holding the record's id.
    key: Column[str]

    @classmethod
    def declare(cls, row: Any, name: str, *, key: str, index: str) -> VictimIndex:
        """Declare the table ``name`` of the victims of the records mapped by ``row``; ``key`` names its
        column of the record's id, ``index`` its index by pseudonym."""
        records: Table = row.__table__
        table = Table(
            name,
            records.metadata,
            Column(key, String(36), ForeignKey(f"{records.name}.id", ondelete="CASCADE"), primary_key=True),
            Column("victim_ref", String(VICTIM_REF_MAX), primary_key=True),
        )
        Index(index, table.c.victim_ref, table.c[key])
        return cls(table, table.c[key])

    def rows(self, record_id: str, victim_refs: Iterable[str]) -> list[dict[str, str]]:
        return [{self.key.name: record_id, "victim_ref": v} for v in sorted(set(victim_refs))]

    def write(self, session: Session, record_id: str, victim_refs: Iterable[str]) -> None:
        """Record the victims ``victim_refs`` of a record (its rows removed first: ``PartyIndex.write_record``)."""
        rows = self.rows(record_id, victim_refs)
        if rows:
            _insert(self.table).execute(session, rows)

    @functools.cached_property
    def _delete(self) -> Delete:
        return delete(self.table).where(self.key == bindparam("record_id"))

    def names(self, row: Any) -> Any:
        """The condition "the record names the victim bound as ``victim_ref``": its id among those this
        index holds for the victim. (A test of the row's own ``victim_refs`` beside it made PostgreSQL's
        planner expect one row, and sort every record of a victim named by many instead of walking them in
        id order.)"""
        # From a page's cursor on (``after_id``, "" on a first page: ``BoundFilter.cursored``), so that a deep
        # page is found from this index as a first page is, not by walking the list from the cursor. So a
        # list in another order (soonest expiry or due first) binds its cursor's id under a name of its own.
        named = select(self.key).where(
            self.table.c.victim_ref == bindparam("victim_ref"), self.key > bindparam("after_id", value="")
        )
        return row.id.in_(named)


@dataclass(frozen=True)
class PartyIndex:
    """The parties of a kind of record, one row per (record, jurisdiction): how a list query answers the
    READ rule's "is this jurisdiction a party" for restricted records. Each service declares one for its
    record table, in the same metadata (so its migrations own the table), and keeps it in step with the
    record.

    A kind of record may also list its parties in a column of its own row (``declare`` ``listed``: ``,NL,DE,``,
    written with every write of the row by ``jitlib.db.RecordTable``, as these rows are): a PostgreSQL page
    tests the rule's party test on that column of the row it reads anyway (``BoundFilter.listed_conditions``)
    instead of probing this table once for each restricted candidate (0.15-0.25 ms of a page of 50;
    bench/README.md, Lists, the twentieth pass). SQLite keeps the probe: its walks test the rule on the
    workspace's covering index, with no row read, and the probe of this table's key is a covered one."""

    table: Table
    #: The column holding the record's id.
    key: Column[str]
    #: The record table's row class (its ``id``, ``workspace_id``, ``restricted`` and ``state`` columns).
    row: Any
    #: How the record table answers the READ rule: its workspace, "open to the whole workspace" (not
    #: ``restricted``), "is this jurisdiction a party" (a row here) and, for records read by an addressee
    #: outside the workspace, "is it addressed to this jurisdiction" (a column of the record table).
    terms: SqlTerms
    #: The victims the records name, for a kind of record that names victims (its lists filter by one).
    victims: VictimIndex | None = None
    #: The record table's column listing the record's parties (``listed_value``), "" when it has none; and
    #: ``terms`` with the party test on that column.
    listed: str = ""
    listed_terms: SqlTerms | None = None

    @classmethod
    def declare(
        cls,
        row: Any,
        name: str,
        *,
        key: str,
        index: str,
        outside_reader: str = "",
        victims: VictimIndex | None = None,
        listed: str = "",
    ) -> PartyIndex:
        """Declare the table ``name`` of the parties of the records mapped by ``row``; ``key`` names its
        column of the record's id, ``index`` its index by jurisdiction. ``outside_reader`` names the record
        table's column holding ``RecordAccess.outside_reader`` ("" when none), for a kind of record whose
        addressee reads it from outside the workspace. ``victims``: the index of the victims the records
        name, kept in step with them as the parties are (``jitlib.db.RecordTable``). ``listed`` names the record
        table's column listing the record's parties (``listed_value``), for a PostgreSQL page to test."""
        records: Table = row.__table__
        table = Table(
            name,
            records.metadata,
            Column(key, String(36), ForeignKey(f"{records.name}.id", ondelete="CASCADE"), primary_key=True),
            Column("jurisdiction", String(16), primary_key=True),
        )
        Index(index, table.c.jurisdiction, table.c[key])
        record_key, jurisdiction = table.c[key], table.c.jurisdiction
        terms = SqlTerms(
            workspace=row.workspace_id,
            open_to_workspace=row.restricted.is_(False),
            # OFFSET 0 keeps PostgreSQL from turning the EXISTS under the rule's OR into a hashed subplan,
            # which reads every party row of the jurisdiction once per query (a whole-table scan before a
            # 50-row page); with it, each candidate row is one probe of the parties' primary key. The
            # same rows either way; SQLite probes the key already. See bench/README.md (Lists).
            party=lambda j: select(literal(1)).where(record_key == row.id, jurisdiction == j).offset(0).exists(),
            addressee=(lambda j: getattr(row, outside_reader) == j) if outside_reader else None,
        )
        listed_terms = None
        if listed:
            column = getattr(row, listed)
            # Each party between commas, and the jurisdiction looked for between commas too: "EU" is not in
            # ",EUROPOL,". strpos, not LIKE: a value's % or _ would be a wildcard there.
            comma = literal_column("','", String)
            listed_terms = replace(terms, party=lambda j: func.strpos(column, comma + j + comma) > literal_column("0"))
        return cls(table, record_key, row, terms, victims, listed, listed_terms)

    @staticmethod
    def listed_value(parties: Iterable[str]) -> str:
        """A record's parties as its ``listed`` column holds them: each between commas, in order (``,DE,NL,``)."""
        return "".join(f",{j}" for j in sorted(set(parties))) + ","

    def bound(
        self,
        scope: VisibilityScope,
        workspace_ids: Iterable[str] | None,
        states: Iterable[Any] = (),
        *,
        victim_ref: str = "",
        **equal: object,
    ) -> BoundFilter:
        """The conditions every List query of the record table starts with, as a ``BoundFilter``: rows of
        ``workspace_ids`` (of any workspace when None: the READ rule alone decides) that ``scope`` may read
        (``jitlib.policy.readable`` rendered by ``terms``), when the filter names any in one of ``states``
        (enum members, stored by value), naming the victim ``victim_ref`` when one is asked for (found in the
        ``victims`` index, its ``victim_refs`` list holding it), and whose column equals each value of
        ``equal`` that was asked for (not empty). The caller ``add``s its other filters; the values are
        bound when the statement runs, never built into it."""
        row, terms = self.row, self.terms
        listed = self.listed_terms
        flt = BoundFilter(
            ["read", scope.may_read_content, bool(scope.workspaces)],
            [lambda: readable(scope, terms)],
            {"scope_jurisdiction": scope.jurisdiction},
            listed=None if listed is None else lambda: readable(scope, listed),
        )
        if scope.workspaces:
            flt.params["scope_workspaces"] = sorted(scope.workspaces)
        if workspace_ids is not None:
            flt.add(
                "workspaces",
                lambda: row.workspace_id.in_(bindparam("workspaces", expanding=True)),
                workspaces=sorted(workspace_ids),
            )
        values = sorted(s.value for s in states)
        if values:
            flt.add("states", lambda: row.state.in_(bindparam("states", expanding=True)), states=values)
        if victim_ref:
            victims = self.victims
            if victims is None:
                raise TypeError(f"{self.table.name}: its records name no victims")
            flt.add("victim_ref", lambda: victims.names(row), victim_ref=victim_ref)
            flt.cursored = True  # its ids from the victims' index begin after the page's cursor
        for name, value in equal.items():
            if value:
                bound: dict[str, Any] = {f"eq_{name}": value}
                flt.add(f"eq:{name}", functools.partial(_equals, row, name), **bound)
        return flt

    @functools.cached_property
    def _delete(self) -> Delete:
        """The DELETE of a record's parties, built once (its cache key computed once, not per change)."""
        return delete(self.table).where(self.key == bindparam("record_id"))

    def write(self, session: Session, record_id: str, parties: Iterable[str], *, replace: bool = False) -> None:
        """Record ``parties`` of a record (replacing what was there when ``replace``)."""
        if replace:
            session.execute(self._delete, {"record_id": record_id})
        rows = [{self.key.name: record_id, "jurisdiction": j} for j in sorted(set(parties))]
        if rows:
            _insert(self.table).execute(session, rows)

    def write_record(
        self, session: Session, record_id: str, parties: Iterable[str], record: Any, *, replace: bool = False
    ) -> None:
        """Record a record's parties and, for a kind with a ``victims`` index, the victims it names (its
        ``victim_refs``, read of ``record``), replacing what was there when ``replace``. On
        PostgreSQL both are deleted by one statement (the victims' DELETE a data-modifying CTE of the
        parties'), one round trip as the parties' alone took; the new rows wait with the unit's other
        INSERTs (``CompiledInsert``)."""
        victims = self.victims
        if victims is None:
            self.write(session, record_id, parties, replace=replace)
            return
        if replace and session.get_bind().dialect.name == "postgresql":
            session.execute(self._delete_both, {"record_id": record_id})
        elif replace:
            session.execute(self._delete, {"record_id": record_id})
            session.execute(victims._delete, {"record_id": record_id})
        self.write(session, record_id, parties)
        victims.write(session, record_id, record.victim_refs)

    @functools.cached_property
    def _delete_both(self) -> Delete:
        assert self.victims is not None
        return self._delete.add_cte(self.victims._delete.cte("gone_victims"))


@functools.cache
def _insert(table: Table) -> CompiledInsert:
    """The INSERT of a parties table, compiled once: every create writes its record's parties."""
    return CompiledInsert(table)
