"""tasks: terms_reason, sealed in its own column

Revision ID: 0004
Revises: 0003

``tasks.terms_reason``: why the issuer last renegotiated a task's due date or priority (RenegotiateTask).
Free text, so sealed under the workspace's content key like the task's other text, in ``sealed_terms``:
``sealed`` binds the fields sealed in it, which rows written before cannot change. Existing rows get an
empty reason, sealed by the service when it starts (``jitlib.sealing.backfill_all``).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('terms_reason', sa.Text(), server_default='', nullable=False))
        batch.add_column(sa.Column('sealed_terms', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('sealed_terms')
        batch.drop_column('terms_reason')
