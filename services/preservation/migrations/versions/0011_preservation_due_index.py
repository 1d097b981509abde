"""preservation: the warning scan's index holds only the orders with a warning to send

Revision ID: 0011
Revises: 0010

``ix_preservation_orders_due`` replaces ``ix_preservation_orders_next_alert``: the same column, but partial,
holding only the orders with a warning still to send (``next_alert_at`` not NULL; NULL for an order whose
clock does not run, once lifted, expired or produced, and for a replica), so that it stays the size of the
live orders whatever the number of closed ones, and "next_alert_at <= now" is a range scan of it.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text('next_alert_at IS NOT NULL')


def upgrade() -> None:
    op.create_index(
        'ix_preservation_orders_due', 'preservation_orders', ['next_alert_at'], sqlite_where=LIVE, postgresql_where=LIVE
    )
    op.drop_index('ix_preservation_orders_next_alert', table_name='preservation_orders')


def downgrade() -> None:
    op.create_index('ix_preservation_orders_next_alert', 'preservation_orders', ['next_alert_at'])
    op.drop_index('ix_preservation_orders_due', table_name='preservation_orders')
