"""messaging: a workspace key row may carry only a claim (no key)

Revision ID: 0015
Revises: 0014

``workspace_keys.wrapped`` may be NULL: the row the retention scan's claim (or a legal hold's lock) makes for
a workspace that has no key yet carries the claim and no key material (``services.messaging.keys``). The key
is put in that row when the workspace's first channel key is made; a claim let go deletes a row still
without a key. A deletion certificate names only keys that wrapped something.

Downgrade: the rows without a key (they hold nothing but a claim) are deleted first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workspace_keys") as batch:
        batch.alter_column("wrapped", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM workspace_keys WHERE wrapped IS NULL")
    with op.batch_alter_table("workspace_keys") as batch:
        batch.alter_column("wrapped", existing_type=sa.LargeBinary(), nullable=False)
