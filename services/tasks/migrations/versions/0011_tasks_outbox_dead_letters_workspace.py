"""tasks: the workspace of each outbox row and dead letter, so that its shred deletes them (review 37)

Revision ID: 0011
Revises: 0010

``outbox.workspace_id`` and ``dead_letters.workspace_id``: the workspace of the event a row holds (""
for none), indexed, so that a workspace's shred deletes its rows (``jitlib.sealing.destroy_payloads``).
NULL for the rows written before: the service names their workspace at start, before serving
(``jitlib.sealing.backfill_all``; their payloads are sealed, which no migration opens).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTERs (no table copy: an outbox keeps every event it published).
    op.add_column("outbox", sa.Column("workspace_id", sa.String(length=64), nullable=True))
    op.create_index("ix_outbox_workspace", "outbox", ["workspace_id"])
    op.add_column("dead_letters", sa.Column("workspace_id", sa.String(length=64), nullable=True))
    op.create_index("ix_dead_letters_workspace", "dead_letters", ["workspace_id"])


def downgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_index("ix_dead_letters_workspace")
        batch.drop_column("workspace_id")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_workspace")
        batch.drop_column("workspace_id")
