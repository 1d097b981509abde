"""The scorecard's reads (SQLAlchemy 2): the orders (and, once they are stored here, the removal requests)
of some workspaces that a caller may read, by the same READ rule as the lists (``store.PARTIES``). Queries
only; what they count is ``scorecard_domain``."""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from jitlib.policy import VisibilityScope
from services.preservation import store
from services.preservation.domain import Order, OrderState
from services.preservation.store import OrderRow


def visible_orders(session: Session, scope: VisibilityScope, workspace_ids: frozenset[str]) -> list[Order]:
    """The issued orders of ``workspace_ids`` that ``scope`` may read (a draft asks a platform nothing).
    Their sealed text is not opened: the scorecard reads codes and dates only."""
    conditions = store.PARTIES.visible_in(scope, workspace_ids)
    conditions.append(OrderRow.state != OrderState.DRAFT.value)
    return [store.to_domain(r) for r in session.scalars(select(OrderRow).where(and_(*conditions)))]
