"""evidence_requests: each request as ListRequests answers it

Revision ID: 0026
Revises: 0025

``answer``: the request as a list answers it (its message less its order's id, its deadlines' ``overdue``
and the caller's actions, with its deadlines and which transitions its clocks allow when), sealed under
the workspace key (``jitlib.answers``), written with the row. NULL for the rows before this revision: the
service's background job writes them once it serves (``ix_evidence_requests_answer_missing`` finds them), and until then a list
answers those from their columns, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_requests") as batch:
        batch.add_column(sa.Column("answer", sa.LargeBinary(), nullable=True))
    op.create_index(
        "ix_evidence_requests_answer_missing",
        "evidence_requests",
        ["id"],
        sqlite_where=sa.text("answer IS NULL"),
        postgresql_where=sa.text("answer IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_evidence_requests_answer_missing", table_name="evidence_requests")
    with op.batch_alter_table("evidence_requests") as batch:
        batch.drop_column("answer")
