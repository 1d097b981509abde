"""evidence: a custody entry's purpose and recipient sealed under the workspace's key

Revision ID: 0015
Revises: 0014

``custody_log.sealed``: the purpose and recipient of an entry written from now on, sealed under the item's
workspace key (``jitlib.sealing.seal_payload``, bound to the item and the entry's seq), the clear columns
left empty, so that a crypto-shredded workspace leaves no readable copy of them (rule RETENTION_EVIDENCE).
Entries written before keep their text in the clear columns (NULL here) until their workspace is shredded,
which erases it.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('custody_log') as batch:
        batch.add_column(sa.Column('sealed', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('custody_log') as batch:
        batch.drop_column('sealed')
