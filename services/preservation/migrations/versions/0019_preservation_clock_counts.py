"""preservation: the counts the stored running clocks were brought to (an EPOC-PR counted as EU law counts)

Revision ID: 0019
Revises: 0018

``preservation_clock_counts``: one row per way of counting the clocks' periods (``domain.COUNTING``) the
expiries stored with the running orders were recounted to. The service recounts them at start, before
serving, when the row of its count is missing (``services.preservation.recount``: the count is the
domain's, which no migration imports), so an EPOC-PR's expiry stored as receipt + 60 x 24 h in UTC moves to
the end of the last day as Reg. 1182/71 Art. 3 counts it in the provider's establishment, once. A new
database gets the row at its first start, with nothing to move.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "preservation_clock_counts",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recounted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("orders_changed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_preservation_clock_counts")),
    )


def downgrade() -> None:
    # The expiries stay as recounted; a later upgrade recounts them again (nothing moves then).
    op.drop_table("preservation_clock_counts")
