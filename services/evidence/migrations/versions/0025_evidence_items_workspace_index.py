"""evidence: an index of the items by workspace, in id order

Revision ID: 0025
Revises: 0024

``ix_evidence_items_workspace`` (workspace_id, id): the items of a workspace, read in id order when a
country that joins it is sent them (``store.owned_items``, ``jitlib.joining``) and when its shred reaches
them; without it each of those walked every item of the node.
"""

from collections.abc import Sequence

from alembic import op


revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_evidence_items_workspace", "evidence_items", ["workspace_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_evidence_items_workspace", table_name="evidence_items")
