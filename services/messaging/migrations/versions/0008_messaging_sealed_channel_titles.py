"""messaging: a restricted channel's title sealed at rest (review 37)

Revision ID: 0008
Revises: 0007

``channels.sealed_title`` and ``channels.title_key_version``: the title of a restricted channel (what its
opener wrote) sealed under the channel's data key of that version, its clear ``title`` column emptied.
NULL for the other kinds (a workspace channel's title is the workspace's name, a thread's names its
record) and for the rows written before: the service seals their titles at start, before serving
(``services.messaging.content.seal_clear_titles``, a step of ``jitlib.sealing.backfill_all``), since no
migration opens keys.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTERs (no table copy).
    op.add_column("channels", sa.Column("sealed_title", sa.LargeBinary(), nullable=True))
    op.add_column("channels", sa.Column("title_key_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    # No key opens here: the titles sealed since the upgrade go with the column (the older version reads "").
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("title_key_version")
        batch.drop_column("sealed_title")
