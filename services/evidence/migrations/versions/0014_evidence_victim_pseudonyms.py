"""evidence: victim_pseudonyms, the workspaces' victims as the victims service announces them

Revision ID: 0014
Revises: 0013

``victim_pseudonyms``: (workspace, pseudonym) pairs learnt from the victims service's events
(``jitlib.victimdir``), so that a new record names only a victim the workspace registered. The pseudonym
only: no identity. Filled by the service's consumer from the start of the victims stream.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'victim_pseudonyms',
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('pseudonym', sa.String(length=32), nullable=False),
        sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('workspace_id', 'pseudonym', name=op.f('pk_victim_pseudonyms')),
    )


def downgrade() -> None:
    op.drop_table('victim_pseudonyms')
