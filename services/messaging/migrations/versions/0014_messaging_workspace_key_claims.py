"""messaging: the retention scan's claim on a workspace's key row

Revision ID: 0014
Revises: 0013

``workspace_keys.shredding_since``: the retention scan's claim on a workspace while it erases the
workspace's events from JIT_MESSAGING before destroying its keys (``services.messaging.notices``, as
``jitlib.retention_sweep`` does in the other services); a legal hold is refused meanwhile.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workspace_keys") as batch:
        batch.add_column(sa.Column("shredding_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspace_keys") as batch:
        batch.drop_column("shredding_since")
