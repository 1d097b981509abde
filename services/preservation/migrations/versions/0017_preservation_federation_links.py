"""preservation: the peers the service last started linked to, so that a peer linked since is sent what this node owns

Revision ID: 0017
Revises: 0016

``federation_links``: a row per peer (``JIT_FEDERATION_PEERS``) the service was linked to at its last start
(``jitlib.joining.link_peers``). Made with the one row ``--`` (``joining.NOT_RECORDED``): the first start
under this revision records the peers linked then and sends them nothing again; a peer linked after it is
sent what this node owns in the workspaces its country is a member of.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    links = op.create_table(
        "federation_links",
        sa.Column("country", sa.String(length=8), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("country"),
    )
    op.bulk_insert(links, [{"country": "--", "linked_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("federation_links")
