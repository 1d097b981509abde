"""tasks: legal holds a prosecutor of the lead sets on a workspace or one of its records

Revision ID: 0007
Revises: 0006

``legal_holds``: while a row is active (``released_at`` NULL) the service's retention sweep deletes nothing
of its workspace (rule LEGAL_HOLD). The reason is sealed under the workspace's key (``sealed_reason``).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'legal_holds',
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('record_type', sa.String(length=32), nullable=False),
        sa.Column('record_id', sa.String(length=64), nullable=False),
        sa.Column('sealed_reason', sa.LargeBinary(), nullable=False),
        sa.Column('set_by', sa.String(length=255), nullable=False),
        sa.Column('set_by_jurisdiction', sa.String(length=16), nullable=False),
        sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('released_by', sa.String(length=255), server_default='', nullable=False),
        sa.PrimaryKeyConstraint('workspace_id', 'record_type', 'record_id', name=op.f('pk_legal_holds')),
    )


def downgrade() -> None:
    op.drop_table('legal_holds')
