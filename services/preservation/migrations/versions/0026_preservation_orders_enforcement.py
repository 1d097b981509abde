"""preservation: the enforcement of an EPOC-PR by the enforcing state (Reg. (EU) 2023/1543 Art. 16); the stored
answers emptied

Revision ID: 0026
Revises: 0025

``preservation_orders.enforcing_jurisdiction``: the state an EPOC-PR was transferred to for enforcement (""
before a transfer); ``enforcement_requested_at``: when it received the order (its 5 working days to decide run
from there); ``enforcement_decided_at`` and ``enforcement_refusal_ground``: its recognition decision, and the
ground of Art. 16(4) of a refusal. ``enforcement_reader``: the enforcing state, which reads the order from
outside its workspace too (the READ rule's ``addressed_to``), with its index; ``enforcement_alert_at``: when the
warning scanner must next warn of the enforcing state's deadline (NULL: none to send), with its partial index.
Orders stored before were never transferred: the defaults. An order's answer now carries its enforcement, so
the answers written before are in the former form: the column is emptied, and the service's background job
writes each again once it serves.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("preservation_orders") as batch:
        batch.add_column(sa.Column("enforcing_jurisdiction", sa.String(16), server_default="", nullable=False))
        batch.add_column(sa.Column("enforcement_requested_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("enforcement_decided_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("enforcement_refusal_ground", sa.String(48), server_default="", nullable=False))
        batch.add_column(sa.Column("enforcement_reader", sa.String(16), server_default="", nullable=False))
        batch.add_column(sa.Column("enforcement_alert_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_preservation_orders_enforcement_due",
        "preservation_orders",
        ["enforcement_alert_at"],
        sqlite_where=sa.text("enforcement_alert_at IS NOT NULL"),
        postgresql_where=sa.text("enforcement_alert_at IS NOT NULL"),
    )
    op.create_index(
        "ix_preservation_orders_enforcement_reader", "preservation_orders", ["enforcement_reader", "id"]
    )
    op.execute("UPDATE preservation_orders SET answer = NULL WHERE answer IS NOT NULL")


def downgrade() -> None:
    # The former code opens none of the answers written under this form either: emptied again.
    op.execute("UPDATE preservation_orders SET answer = NULL WHERE answer IS NOT NULL")
    op.drop_index("ix_preservation_orders_enforcement_reader", table_name="preservation_orders")
    op.drop_index("ix_preservation_orders_enforcement_due", table_name="preservation_orders")
    with op.batch_alter_table("preservation_orders") as batch:
        batch.drop_column("enforcement_alert_at")
        batch.drop_column("enforcement_reader")
        batch.drop_column("enforcement_refusal_ground")
        batch.drop_column("enforcement_decided_at")
        batch.drop_column("enforcement_requested_at")
        batch.drop_column("enforcing_jurisdiction")
