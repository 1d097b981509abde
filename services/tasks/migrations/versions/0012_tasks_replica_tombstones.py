"""tasks: replica_tombstones, the peers' tasks withdrawn from this node's country (fix 38)

Revision ID: 0012
Revises: 0011

``replica_tombstones``: each task a peer's node withdrew from this node's country (a restricted task
reassigned away from it), its owner and the withdrawal's version (``jitlib.replicas``), so that an older
event of the task delivered after the withdrawal (a redelivery, a link resuming out of order) does not
write the copy back. Ids and a version only; empty at first (the copies withdrawn before it are gone, and
their older events were consumed long ago).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "replica_tombstones",
        sa.Column("aggregate_type", sa.String(length=64), nullable=False),
        sa.Column("aggregate_id", sa.String(length=64), nullable=False),
        sa.Column("origin_jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("aggregate_type", "aggregate_id", name=op.f("pk_replica_tombstones")),
    )


def downgrade() -> None:
    op.drop_table("replica_tombstones")
