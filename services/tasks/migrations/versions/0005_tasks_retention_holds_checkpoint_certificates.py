"""tasks: retention: a workspace's legal hold, retention years and proceedings' close; the audit
checkpoint; deletion certificates

Revision ID: 0005
Revises: 0004

``workspaces`` (the directory) gains what ``jitlib.retention`` reads of a workspace: ``legal_hold`` (a
reason, "" when none), ``retention_years`` (NULL: the node's default) and ``proceedings_closed_on``.
``audit_checkpoint`` holds the last pruned audit entry (seq, hash, when, by whom) once entries older than
3 years are pruned (Reg. (EU) 2023/969 Art. 25); ``deletion_certificates`` what each crypto-shredding
destroyed.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('workspaces') as batch:
        batch.add_column(sa.Column('legal_hold', sa.Text(), server_default='', nullable=False))
        batch.add_column(sa.Column('retention_years', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('proceedings_closed_on', sa.String(length=10), server_default='', nullable=False))
    op.create_table(
        'audit_checkpoint',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.Column('pruned_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('pruned_by', sa.String(length=255), nullable=False),
        sa.Column('entries_pruned', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoint')),
    )
    op.create_table(
        'deletion_certificates',
        sa.Column('id', sa.String(length=100), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_deletion_certificates')),
    )


def downgrade() -> None:
    op.drop_table('deletion_certificates')
    op.drop_table('audit_checkpoint')
    with op.batch_alter_table('workspaces') as batch:
        batch.drop_column('proceedings_closed_on')
        batch.drop_column('retention_years')
        batch.drop_column('legal_hold')
