"""evidence: indexes that serve ListRequests' filters in id order (keyset pages)

Revision ID: 0016
Revises: 0015

A list is ordered by id and pages after the last id it returned. ``(workspace_id, state, id)`` gives a
state filter its rows already in that order; ``(workspace_id, next_deadline_at, restricted, id)`` covers a
deadline window (``deadline_before``): the rows with a deadline in it, the visibility test's ``restricted``
and the ids to sort, without reading the table. See bench/README.md (Lists).
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_evidence_requests_workspace_state_id', 'evidence_requests', ['workspace_id', 'state', 'id'])
    op.create_index(
        'ix_evidence_requests_workspace_deadline',
        'evidence_requests',
        ['workspace_id', 'next_deadline_at', 'restricted', 'id'],
    )


def downgrade() -> None:
    op.drop_index('ix_evidence_requests_workspace_deadline', table_name='evidence_requests')
    op.drop_index('ix_evidence_requests_workspace_state_id', table_name='evidence_requests')
