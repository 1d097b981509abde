"""messaging: a workspace's claim names the scanner that holds it

Revision ID: 0016
Revises: 0015

``workspace_keys.shredding_by``: the retention scanner whose claim ``shredding_since`` is (its id,
``notices.RetentionScanner.owner``). Two messaging processes scanning one database each erase under the
claim, but only its holder lets it go (``jitlib.sealing.WorkspaceClaims.release``): a scan whose erasure fails
no longer lets go of a claim another one is still erasing under. A claim made before this revision has no
holder: the next scan that claims its workspace takes it.

Downgrade: the column is dropped (the claims stay, without a holder).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workspace_keys") as batch:
        batch.add_column(sa.Column("shredding_by", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspace_keys") as batch:
        batch.drop_column("shredding_by")
