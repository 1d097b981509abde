"""tasks: the workspace's id index carries what a page walked in id order tests

Revision ID: 0015
Revises: 0014

A list in a due window whose tasks are many is walked in id order (``RecordTable._window_page`` on
SQLite; PostgreSQL's plan, which walks ``pk_tasks`` and reads each task's row to test the window).
``(workspace_id, id, due_at, restricted)`` lets the walk test the window and the READ rule's
``restricted`` on the index and read only the rows they keep; it replaces ``(workspace_id, id)``, whose
queries it serves as well. On PostgreSQL it also keeps a due window's generic plan (a statement prepared
after five runs) off the window's index, whose sort of every task in the window cost 8-13 ms a page in
100,000. See bench/README.md (Lists, the fifteenth pass).
"""

from collections.abc import Sequence

from alembic import op


revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tasks_workspace_walk", "tasks", ["workspace_id", "id", "due_at", "restricted"])
    op.drop_index("ix_tasks_workspace_id_id", table_name="tasks")


def downgrade() -> None:
    op.create_index("ix_tasks_workspace_id_id", "tasks", ["workspace_id", "id"])
    op.drop_index("ix_tasks_workspace_walk", table_name="tasks")
