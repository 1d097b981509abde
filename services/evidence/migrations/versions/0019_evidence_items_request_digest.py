"""evidence_items: request_digest

Revision ID: 0019
Revises: 0018

An upload retried with the same request_id is taken as a replay only when its metadata is the same as the
first one's (``request_digest``, as every other create); a different one is REQUEST_ID_REUSED. Items received
before keep '' and are taken as before (same bytes, same request).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('evidence_items') as batch:
        batch.add_column(sa.Column('request_digest', sa.String(length=64), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('evidence_items') as batch:
        batch.drop_column('request_digest')
