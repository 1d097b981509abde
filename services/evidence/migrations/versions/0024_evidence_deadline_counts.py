"""evidence: the counts the stored deadlines were brought to (review 38)

Revision ID: 0024
Revises: 0023

``evidence_deadline_counts``: one row per way of counting periods (``deadlines.COUNTING``) the deadlines
stored with the requests were recounted to. The service recounts them at start, before serving, when the
row of its count is missing (``services.evidence.recount``: the count is the domain's, which no migration
imports), so deadlines stored before Reg. 1182/71 was followed (receipt + N x 24 h) move to the end of the
last day as it counts them, once. A new database gets the row at its first start, with nothing to move.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evidence_deadline_counts",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recounted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests_changed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_evidence_deadline_counts")),
    )


def downgrade() -> None:
    # The deadlines stay as recounted; a later upgrade recounts them again (no change then).
    op.drop_table("evidence_deadline_counts")
