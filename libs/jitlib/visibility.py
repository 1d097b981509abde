"""The policy's READ rule (``jitlib.policy.readable``) rendered as a SQL filter for list queries.

A store describes how its table answers the rule's three questions (which workspace, is it restricted,
is a jurisdiction a party) and gets a WHERE clause; the rule itself stays in the policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    and_,
    delete,
    exists,
    false,
    insert,
    or_,
)
from sqlalchemy.orm import Session

from jitlib.policy import VisibilityScope, readable

SqlExpr = ColumnElement[bool]


@dataclass(frozen=True)
class SqlTerms:
    """``jitlib.policy.Terms`` as SQLAlchemy expressions over one table."""

    #: The record's workspace id column.
    workspace: Any
    #: True for a record everyone in its workspace may read.
    open_to_workspace: SqlExpr
    #: For a jurisdiction, true when it is a party of the record (an EXISTS on a parties table, say).
    party: Callable[[str], SqlExpr]

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


def readable_sql(scope: VisibilityScope, terms: SqlTerms) -> SqlExpr:
    """The WHERE clause that keeps exactly the rows ``scope`` may read."""
    return readable(scope, terms)


def visible_in(
    row: Any, scope: VisibilityScope, terms: SqlTerms, workspace_ids: Iterable[str], states: Iterable[Any] = ()
) -> list[Any]:
    """The conditions every List query of a record table starts with: rows of ``workspace_ids`` that
    ``scope`` may read (``readable_sql``) and, when the filter names any, in one of ``states`` (enum members,
    stored by value). The caller adds its own filters."""
    conditions: list[Any] = [row.workspace_id.in_(sorted(workspace_ids)), readable_sql(scope, terms)]
    if states:
        conditions.append(row.state.in_(sorted(s.value for s in states)))
    return conditions


@dataclass(frozen=True)
class PartyIndex:
    """The parties of a kind of record, one row per (record, jurisdiction): how a list query answers the
    READ rule's "is this jurisdiction a party" for restricted records. Each service declares one in its own
    metadata (so its migrations own the table) and keeps it in step with the record."""

    table: Table
    #: The column holding the record's id.
    key: Column[str]

    @classmethod
    def declare(cls, metadata: MetaData, name: str, *, record_table: str, key: str, index: str) -> PartyIndex:
        table = Table(
            name,
            metadata,
            Column(key, String(36), ForeignKey(f"{record_table}.id", ondelete="CASCADE"), primary_key=True),
            Column("jurisdiction", String(16), primary_key=True),
        )
        Index(index, table.c.jurisdiction, table.c[key])
        return cls(table, table.c[key])

    def terms(self, record_id: Any, workspace: Any, open_to_workspace: SqlExpr) -> SqlTerms:
        """The READ rule's terms over the record table whose id column is ``record_id``."""
        jurisdiction = self.table.c.jurisdiction
        return SqlTerms(
            workspace=workspace,
            open_to_workspace=open_to_workspace,
            party=lambda j: exists().where(self.key == record_id, jurisdiction == j),
        )

    def write(self, session: Session, record_id: str, parties: Iterable[str], *, replace: bool = False) -> None:
        """Record ``parties`` of a record (replacing what was there when ``replace``)."""
        if replace:
            session.execute(delete(self.table).where(self.key == record_id))
        rows = [{self.key.name: record_id, "jurisdiction": j} for j in sorted(set(parties))]
        if rows:
            session.execute(insert(self.table), rows)
