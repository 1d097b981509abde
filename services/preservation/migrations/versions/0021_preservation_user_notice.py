"""preservation: the provider's notice to the account holder on each order; the stored answers emptied

Revision ID: 0021
Revises: 0020

``preservation_orders.user_notice_status`` and ``user_notice_suppressed_until``: whether the provider may
notify the account holder (often the suspect) that their data were preserved, and while a non-disclosure
order suppresses that notice, when it ends (legal PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES). An order
stored before has PENDING (the provider's default: nothing suppressed it here). ``notice_alert_at``: when
the warning scanner must next warn of that end (NULL: none to send), with its partial index for the scan.
An order's answer now carries its notice, so the answers written before are in the former form: the
column is emptied, and the service's background job writes each again once it serves.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("preservation_orders") as batch:
        batch.add_column(sa.Column("user_notice_status", sa.String(16), server_default="PENDING", nullable=False))
        batch.add_column(sa.Column("user_notice_suppressed_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("notice_alert_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_preservation_orders_notice_due",
        "preservation_orders",
        ["notice_alert_at"],
        sqlite_where=sa.text("notice_alert_at IS NOT NULL"),
        postgresql_where=sa.text("notice_alert_at IS NOT NULL"),
    )
    op.execute("UPDATE preservation_orders SET answer = NULL WHERE answer IS NOT NULL")


def downgrade() -> None:
    # The former code opens none of the answers written under this form either: emptied again.
    op.execute("UPDATE preservation_orders SET answer = NULL WHERE answer IS NOT NULL")
    op.drop_index("ix_preservation_orders_notice_due", table_name="preservation_orders")
    with op.batch_alter_table("preservation_orders") as batch:
        batch.drop_column("notice_alert_at")
        batch.drop_column("user_notice_suppressed_until")
        batch.drop_column("user_notice_status")
