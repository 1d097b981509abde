"""preservation-order replica: origin and visibility

Revision ID: 0002
Revises: 0001

The replica of preservation orders keeps what the policy needs about an order: its origin (issuing)
jurisdiction, whether it is restricted, and whom it is shared with. Only the order's issuing side may link
a request to it, and a request's view shows the order only to those who may read it (security review,
finding #1). Rows replicated before this revision have no origin (""), are restricted and shared with
nobody: no request links to such an order and no view shows it until the order's next event refreshes it.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('preservation_orders_replica', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin_jurisdiction', sa.String(length=16), server_default='', nullable=False))
        batch_op.add_column(sa.Column('restricted', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('shared_with', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('preservation_orders_replica', schema=None) as batch_op:
        batch_op.drop_column('shared_with')
        batch_op.drop_column('restricted')
        batch_op.drop_column('origin_jurisdiction')
