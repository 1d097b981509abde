"""evidence_items: sensitive

Revision ID: 0012
Revises: 0011

An evidence item may be marked sensitive (intimate images and the like; Directive 2012/29/EU Art. 21(1),
Directive (EU) 2024/1385 Art. 5): its content opens only with a purpose for the roles the policy names, and
it leaves only with a second person's approval. Items received before are not sensitive.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('evidence_items') as batch:
        batch.add_column(sa.Column('sensitive', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('evidence_items') as batch:
        batch.drop_column('sensitive')
