"""tasks: indexes that serve ListTasks' filters in id order (keyset pages)

Revision ID: 0009
Revises: 0008

A list is ordered by id and pages after the last id it returned. ``(workspace_id, state, id)`` gives a
state filter its rows already in that order (no sort, no scan of the other states); it replaces
``(workspace_id, state)``. ``(workspace_id, due_at, restricted, id)`` covers a due window: the rows in the
window, the visibility test's ``restricted`` and the ids to sort, without reading the table; it replaces
``(workspace_id, due_at)``. See bench/README.md (Lists).
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_tasks_workspace_state_id', 'tasks', ['workspace_id', 'state', 'id'])
    op.create_index('ix_tasks_workspace_due_visible', 'tasks', ['workspace_id', 'due_at', 'restricted', 'id'])
    op.drop_index('ix_tasks_workspace_state', table_name='tasks')
    op.drop_index('ix_tasks_workspace_due', table_name='tasks')


def downgrade() -> None:
    op.create_index('ix_tasks_workspace_due', 'tasks', ['workspace_id', 'due_at'])
    op.create_index('ix_tasks_workspace_state', 'tasks', ['workspace_id', 'state'])
    op.drop_index('ix_tasks_workspace_due_visible', table_name='tasks')
    op.drop_index('ix_tasks_workspace_state_id', table_name='tasks')
