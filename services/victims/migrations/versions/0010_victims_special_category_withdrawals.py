"""victims: when a victim withdrew the consent to its special-category attributes

Revision ID: 0010
Revises: 0009

``special_category_withdrawals``: one row per victim whose consent was withdrawn (``WithdrawConsent``), with
its time, kept until consent is given again (``RecordSpecialCategories``) or the workspace's content is
destroyed (retention). A retried ``WithdrawConsent`` finds the attributes gone and answers with this time,
as the first call did; before, it answered without ``destroyed_at``. Withdrawals made before this revision
were not kept: their retry still answers without it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "special_category_withdrawals",
        sa.Column("victim_ref", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("victim_ref", name=op.f("pk_special_category_withdrawals")),
    )
    op.create_index(
        op.f("ix_special_category_withdrawals_workspace_id"),
        "special_category_withdrawals",
        ["workspace_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_special_category_withdrawals_workspace_id"), table_name="special_category_withdrawals")
    op.drop_table("special_category_withdrawals")
