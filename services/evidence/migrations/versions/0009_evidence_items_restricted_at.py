"""evidence_requests: items_restricted_at

Revision ID: 0009
Revises: 0008

When the notified enforcing state objects to an emergency EPOC within 96 hours (Reg. 2023/1543 Art. 10(4),
12(1)) after data may have been received, the items received until then are kept but restricted: no
download, export or transfer. ``items_restricted_at`` is that moment (NULL: nothing restricted).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('evidence_requests') as batch:
        batch.add_column(sa.Column('items_restricted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('evidence_requests') as batch:
        batch.drop_column('items_restricted_at')
