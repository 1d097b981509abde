"""tasks: audit entries recorded with their change, linked into the chain just after (issue 17)

Revision ID: 0010
Revises: 0009

``audit_pending``: a change's transaction writes its audit entries here, their content fixed, without
taking the chain head's lock; the service's chainer (``jitlib.audit.Chainer``) moves them into
``audit_log`` a few milliseconds after the commit, each with its seq and hashes, in ``id`` order.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'audit_pending',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('time_zone', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('username', sa.String(length=255), nullable=False),
        sa.Column('jurisdiction', sa.String(length=16), nullable=False),
        sa.Column('operation', sa.String(length=128), nullable=False),
        sa.Column('record_type', sa.String(length=64), nullable=False),
        sa.Column('record_id', sa.String(length=64), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_pending')),
    )


def downgrade() -> None:
    # Entries still pending are linked by the chainer at its last stop; any left would be lost here.
    op.drop_table('audit_pending')
