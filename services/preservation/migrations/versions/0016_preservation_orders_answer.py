"""preservation: each order as ListOrders answers it

Revision ID: 0016
Revises: 0015

``answer``: the order's message as a list answers it, less the clock's ``confirmation_overdue`` and the
caller's allowed actions, sealed under the workspace key (``jitlib.answers``), written with the row. NULL for
the rows before this revision: the service's background job writes them once it serves
(``ix_preservation_orders_answer_missing`` finds them), and until then a list answers those from their
columns, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("preservation_orders") as batch:
        batch.add_column(sa.Column("answer", sa.LargeBinary(), nullable=True))
    op.create_index(
        "ix_preservation_orders_answer_missing",
        "preservation_orders",
        ["id"],
        sqlite_where=sa.text("answer IS NULL"),
        postgresql_where=sa.text("answer IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_preservation_orders_answer_missing", table_name="preservation_orders")
    with op.batch_alter_table("preservation_orders") as batch:
        batch.drop_column("answer")
