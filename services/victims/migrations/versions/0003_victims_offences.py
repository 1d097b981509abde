"""victims: the offences a victim suffered

Revision ID: 0003
Revises: 0002

``victims.offences``: a JSON list of Directive (EU) 2024/1385 categories (codes, not sealed); existing
victims have none.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('victims') as batch:
        batch.add_column(sa.Column('offences', sa.Text(), server_default='[]', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('victims') as batch:
        batch.drop_column('offences')
