"""messaging: the countries that joined a workspace, whose nodes are still to be sent what this node owns in it

Revision ID: 0009
Revises: 0008

``workspace_joins``: a row per pass of sending (``jitlib.joining``), written with the workspace
directory's announcement that added the countries, deleted when the pass is through. Empty at first:
a country added before this revision was sent only what changed after it joined.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workspace_joins",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("countries", sa.String(length=255), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("after_id", sa.String(length=64), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_workspace_joins_due", "workspace_joins", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_workspace_joins_due", table_name="workspace_joins")
    op.drop_table("workspace_joins")
