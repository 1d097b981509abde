"""The policy's READ rule (``jitlib.policy.readable``) rendered as a SQL filter for list queries.

A store describes how its table answers the rule's questions (which workspace, is it restricted, is a
jurisdiction a party, is it addressed to a jurisdiction that reads it from outside the workspace) and gets
a WHERE clause; the rule itself stays in the policy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    Table,
    and_,
    delete,
    false,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from jitlib.clock import Window
from jitlib.policy import VisibilityScope, readable
from jitlib.sqlexec import CompiledInsert

SqlExpr = ColumnElement[bool]


def list_holds(column: Any, value: str) -> ColumnElement[bool]:
    """True for the rows whose comma-separated list column (``jitlib.db.Fields.lists``) holds ``value`` as one
    of its items (not as part of one); ``value`` must hold no comma. The same SQL on SQLite and PostgreSQL."""
    return (literal(",") + column + literal(",")).contains(f",{value},", autoescape=True)  # type: ignore[no-any-return]


def in_window(column: Any, window: Window) -> list[ColumnElement[bool]]:
    """The conditions that keep the rows whose timestamp ``column`` falls in ``window`` (``Window.holds`` as
    SQL: the start in, the end out; none for an open side)."""
    conditions: list[ColumnElement[bool]] = []
    if window.start is not None:
        conditions.append(column >= window.start)
    if window.end is not None:
        conditions.append(column < window.end)
    return conditions


@dataclass(frozen=True)
class SqlTerms:
    """``jitlib.policy.Terms`` as SQLAlchemy expressions over one table."""

    #: The record's workspace id column.
    workspace: Any
    #: True for a record everyone in its workspace may read.
    open_to_workspace: SqlExpr
    #: For a jurisdiction, true when it is a party of the record (an EXISTS on a parties table, say).
    party: Callable[[str], SqlExpr]
    #: For a jurisdiction, true when the record is addressed to it as an instrument its addressee reads
    #: from outside the workspace too (``RecordAccess.outside_reader``); None for a kind of record that
    #: has no such addressee (always false).
    addressee: Callable[[str], SqlExpr] | None = None

    def false(self) -> SqlExpr:
        return false()

    def all_of(self, *terms: SqlExpr) -> SqlExpr:
        return and_(*terms)

    def any_of(self, *terms: SqlExpr) -> SqlExpr:
        return or_(*terms)

    def workspace_in(self, workspaces: frozenset[str]) -> SqlExpr:
        return self.workspace.in_(sorted(workspaces))  # type: ignore[no-any-return]

    def not_restricted(self) -> SqlExpr:
        return self.open_to_workspace

    def has_party(self, jurisdiction: str) -> SqlExpr:
        return self.party(jurisdiction)

    def addressed_to(self, jurisdiction: str) -> SqlExpr:
        return false() if self.addressee is None else self.addressee(jurisdiction)


def readable_sql(scope: VisibilityScope, terms: SqlTerms) -> SqlExpr:
    """The WHERE clause that keeps exactly the rows ``scope`` may read."""
    return readable(scope, terms)


@dataclass(frozen=True)
class PartyIndex:
    """The parties of a kind of record, one row per (record, jurisdiction): how a list query answers the
    READ rule's "is this jurisdiction a party" for restricted records. Each service declares one for its
    record table, in the same metadata (so its migrations own the table), and keeps it in step with the
    record."""

    table: Table
    #: The column holding the record's id.
    key: Column[str]
    #: The record table's row class (its ``id``, ``workspace_id``, ``restricted`` and ``state`` columns).
    row: Any
    #: How the record table answers the READ rule: its workspace, "open to the whole workspace" (not
    #: ``restricted``), "is this jurisdiction a party" (a row here) and, for records read by an addressee
    #: outside the workspace, "is it addressed to this jurisdiction" (a column of the record table).
    terms: SqlTerms

    @classmethod
    def declare(cls, row: Any, name: str, *, key: str, index: str, outside_reader: str = "") -> PartyIndex:
        """Declare the table ``name`` of the parties of the records mapped by ``row``; ``key`` names its
        column of the record's id, ``index`` its index by jurisdiction. ``outside_reader`` names the record
        table's column holding ``RecordAccess.outside_reader`` ("" when none), for a kind of record whose
        addressee reads it from outside the workspace."""
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
        return cls(table, record_key, row, terms)

    def visible_in(
        self,
        scope: VisibilityScope,
        workspace_ids: Iterable[str] | None,
        states: Iterable[Any] = (),
        *,
        victim_ref: str = "",
        **equal: object,
    ) -> list[Any]:
        """The conditions every List query of the record table starts with: rows of ``workspace_ids`` (of
        any workspace when None: the READ rule alone decides) that ``scope`` may read (``readable_sql``),
        when the filter names any in one of ``states`` (enum members, stored by value), naming the victim
        ``victim_ref`` when one is asked for (the record's ``victim_refs`` list holds it), and whose column
        equals each value of ``equal`` that was asked for (not empty). The caller adds its other filters."""
        conditions: list[Any] = [readable_sql(scope, self.terms)]
        if workspace_ids is not None:
            conditions.insert(0, self.row.workspace_id.in_(sorted(workspace_ids)))
        if states:
            conditions.append(self.row.state.in_(sorted(s.value for s in states)))
        if victim_ref:
            conditions.append(list_holds(self.row.victim_refs, victim_ref))
        conditions += [getattr(self.row, name) == value for name, value in equal.items() if value]
        return conditions

    def write(self, session: Session, record_id: str, parties: Iterable[str], *, replace: bool = False) -> None:
        """Record ``parties`` of a record (replacing what was there when ``replace``)."""
        if replace:
            session.execute(delete(self.table).where(self.key == record_id))
        rows = [{self.key.name: record_id, "jurisdiction": j} for j in sorted(set(parties))]
        if rows:
            _insert(self.table).execute(session, rows)


@functools.cache
def _insert(table: Table) -> CompiledInsert:
    """The INSERT of a parties table, compiled once: every create writes its record's parties."""
    return CompiledInsert(table)
