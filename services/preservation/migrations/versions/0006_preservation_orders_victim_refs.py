"""preservation: victim_refs, the victims an order concerns by pseudonym

Revision ID: 0006
Revises: 0005

``preservation_orders.victim_refs``: comma-separated pseudonyms from the victims service
(``V-NL-0007``), in clear: they are no words about the victim, and ListOrders filters by them. Existing rows
concern no victim by reference.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('preservation_orders') as batch:
        batch.add_column(sa.Column('victim_refs', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('preservation_orders') as batch:
        batch.drop_column('victim_refs')
