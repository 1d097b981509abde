"""preservation: production_requested_at, when production of an order's data was last requested

Revision ID: 0009
Revises: 0008

``preservation_orders.production_requested_at``: the platform's time to produce data (the scorecard) runs
from here to ``produced_at``. Orders stored before it whose stopped clock recorded when production was
requested (``clock_stopped_at``, EPOC_PR and BUDAPEST_ART29) take that instant; the others stay unset and
are not in the time to produce.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('preservation_orders') as batch:
        batch.add_column(sa.Column('production_requested_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE preservation_orders SET production_requested_at = clock_stopped_at "
        "WHERE clock_stopped_at IS NOT NULL AND state IN ('PRODUCTION_REQUESTED', 'PRODUCED')"
    )


def downgrade() -> None:
    with op.batch_alter_table('preservation_orders') as batch:
        batch.drop_column('production_requested_at')
