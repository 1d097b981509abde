"""evidence: case content sealed at rest

Revision ID: 0004
Revises: 0003

``workspace_keys`` becomes the table every service shares (``jitlib.sealing``): ``wrapped_key`` is renamed
``wrapped`` and may be NULL (a workspace crypto-shredded; ``destroyed_at`` says when). The same key seals
the text of requests (title, description, state reason, targets) and items (file name, description,
conditions) in the new ``sealed`` columns; their clear columns are emptied. Rows that exist when this
runs stay readable (``sealed`` NULL) and are sealed by the service when it starts, before it serves.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('workspace_keys') as batch:
        batch.alter_column('wrapped_key', new_column_name='wrapped', existing_type=sa.LargeBinary(), nullable=True)
        batch.add_column(sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('evidence_requests') as batch:
        batch.add_column(sa.Column('sealed', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('evidence_items') as batch:
        batch.add_column(sa.Column('sealed', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('evidence_items') as batch:
        batch.drop_column('sealed')
    with op.batch_alter_table('evidence_requests') as batch:
        batch.drop_column('sealed')
    with op.batch_alter_table('workspace_keys') as batch:
        batch.drop_column('destroyed_at')
        batch.alter_column('wrapped', new_column_name='wrapped_key', existing_type=sa.LargeBinary(), nullable=False)
