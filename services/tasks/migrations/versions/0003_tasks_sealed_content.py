"""tasks: case content sealed at rest

Revision ID: 0003
Revises: 0002

``workspace_keys``: one data key per workspace, wrapped by the node's key-encryption key (NULL once the
workspace is crypto-shredded). ``tasks.sealed``: the title, description, state reason and outcome, sealed
under that key; their clear columns are emptied. Rows that exist when this runs stay readable (``sealed``
NULL) and are sealed by the service when it starts (``jitlib.sealing.backfill_all``), before it serves.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'workspace_keys',
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('wrapped', sa.LargeBinary(), nullable=True),
        sa.Column('kek_id', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('workspace_id', name=op.f('pk_workspace_keys')),
    )
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('sealed', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('sealed')
    op.drop_table('workspace_keys')
