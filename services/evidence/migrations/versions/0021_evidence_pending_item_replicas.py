"""evidence: another node's item that arrives before its request waits for it (review 37, federation #5)

Revision ID: 0021
Revises: 0020

``pending_item_replicas``: on a node entitled to a request of one node and its items received on another,
the two come on two streams in no order between them. An item whose request is not here yet was retried,
then set aside for good (its row's foreign key to ``evidence_requests``); it now waits here, its state
sealed under the workspace's key, until the request's replica is written (``services.evidence.app``).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'pending_item_replicas',
        sa.Column('item_id', sa.String(length=36), nullable=False),
        sa.Column('evidence_request_id', sa.String(length=36), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('state', sa.LargeBinary(), nullable=False),
        sa.Column('parked_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('item_id', name=op.f('pk_pending_item_replicas')),
    )
    op.create_index('ix_pending_item_replicas_request', 'pending_item_replicas', ['evidence_request_id'])


def downgrade() -> None:
    # Items still waiting for their request are lost: their holder sends them again at their next custody event.
    op.drop_index('ix_pending_item_replicas_request', table_name='pending_item_replicas')
    op.drop_table('pending_item_replicas')
