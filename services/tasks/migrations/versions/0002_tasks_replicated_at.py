"""tasks: replicated_at

Revision ID: 0002
Revises: 0001

On a federation of per-country nodes, a record whose origin is another country is held here as a
read-only replica of the owner's; ``replicated_at`` is when this node last applied a change from the owner
(NULL on the owner's own records, and on every record of a single node).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('replicated_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('replicated_at')
