"""The policy's READ rule (``jitlib.policy.readable``) rendered as a SQL filter for list queries.

A store describes how its table answers the rule's three questions (which workspace, is it restricted,
is a jurisdiction a party) and gets a WHERE clause; the rule itself stays in the policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_

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
