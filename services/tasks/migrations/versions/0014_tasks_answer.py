"""tasks: each task as ListTasks answers it

Revision ID: 0014
Revises: 0013

``answer``: the task's message as a list answers it, less the caller's allowed actions and the clock's
``overdue``, sealed under the workspace key (``jitlib.answers``), written with the row. NULL for the rows
before this revision: the service's background job writes them once it serves (``ix_tasks_answer_missing`` finds them), and until
then a list answers those from their columns, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("answer", sa.LargeBinary(), nullable=True))
    op.create_index(
        "ix_tasks_answer_missing",
        "tasks",
        ["id"],
        sqlite_where=sa.text("answer IS NULL"),
        postgresql_where=sa.text("answer IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_answer_missing", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("answer")
