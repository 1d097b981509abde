"""The scorecard's reads (SQLAlchemy 2): the orders and removal requests of some workspaces that a caller
may read, by the same READ rule as their lists (``store.PARTIES``, ``store.REMOVAL_PARTIES``). Queries only,
of codes and dates (no sealed text is opened); what they count is ``scorecard_domain``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from jitlib.clock import as_utc_or_none
from jitlib.policy import VisibilityScope
from jitlib.visibility import Statements
from services.preservation import scorecard_domain, store
from services.preservation.domain import Order, OrderState
from services.preservation.store import OrderRow, RemovalRow


def visible_orders(session: Session, scope: VisibilityScope, workspace_ids: frozenset[str]) -> list[Order]:
    """The issued orders of ``workspace_ids`` that ``scope`` may read (a draft asks a platform nothing)."""
    return [store.to_domain(r) for r in _ORDERS.scalars(session, store.PARTIES.bound(scope, workspace_ids))]


#: ``visible_orders``' statement of each filter shape, built once.
_ORDERS = Statements(lambda conditions: select(OrderRow).where(*conditions, OrderRow.state != OrderState.DRAFT.value))


def visible_removals(
    session: Session, scope: VisibilityScope, workspace_ids: frozenset[str]
) -> list[scorecard_domain.Removal]:
    """The removal requests of ``workspace_ids`` that ``scope`` may read, as the scorecard reads them."""
    rows = _REMOVALS.execute(session, store.REMOVAL_PARTIES.bound(scope, workspace_ids))
    return [
        scorecard_domain.Removal(
            provider_id=provider,
            state=state,
            sent_at=as_utc_or_none(sent),
            due_at=as_utc_or_none(due),
            removed_at=as_utc_or_none(removed),
            decided_at=as_utc_or_none(decided),
            refusal_reason=reason or "",
            reupload_count=reuploads or 0,
        )
        for provider, state, sent, due, removed, decided, reason, reuploads in rows
    ]


#: ``visible_removals``' statement of each filter shape, built once: codes and dates, no sealed item.
_REMOVALS = Statements(
    lambda conditions: select(
        RemovalRow.provider_id,
        RemovalRow.state,
        RemovalRow.sent_at,
        RemovalRow.due_at,
        RemovalRow.removed_at,
        RemovalRow.decided_at,
        RemovalRow.refusal_reason,
        RemovalRow.reupload_count,
    ).where(*conditions)
)


def visible_records(
    session: Session, scope: VisibilityScope, workspace_ids: frozenset[str]
) -> list[Order | scorecard_domain.Removal]:
    """Both, in one read: what a platform was asked in these workspaces that ``scope`` may read."""
    return [*visible_orders(session, scope, workspace_ids), *visible_removals(session, scope, workspace_ids)]
