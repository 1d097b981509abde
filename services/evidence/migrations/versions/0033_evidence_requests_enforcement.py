"""evidence_requests: the enforcement of an EPOC by the enforcing state (Reg. (EU) 2023/1543 Art. 16); answers
emptied

Revision ID: 0033
Revises: 0032

``enforcing_jurisdiction``: the state an EPOC was transferred to for enforcement ("" before a transfer);
``enforcement_requested_at``: when it received the order (its 5 working days to decide run from there);
``enforcement_decided_at`` and ``enforcement_refusal_ground``: its recognition decision, and the ground of
Art. 16(4) when it refused ("" when it recognised or has not decided). Rows before this revision were never
transferred.

The proto gained the fields (and two states, a deadline kind), so every stored answer (``answer``, revision
0026) is in the former form: the column is emptied, and the service's background job writes each again once
it serves (a list answers a row from its columns until then).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_requests") as batch:
        batch.add_column(sa.Column("enforcing_jurisdiction", sa.String(length=16), server_default="", nullable=False))
        batch.add_column(sa.Column("enforcement_requested_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("enforcement_decided_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("enforcement_refusal_ground", sa.String(length=48), server_default="", nullable=False)
        )
    op.execute("UPDATE evidence_requests SET answer = NULL WHERE answer IS NOT NULL")


def downgrade() -> None:
    # The former code opens none of the answers written under this form either: emptied again.
    op.execute("UPDATE evidence_requests SET answer = NULL WHERE answer IS NOT NULL")
    with op.batch_alter_table("evidence_requests") as batch:
        batch.drop_column("enforcement_refusal_ground")
        batch.drop_column("enforcement_decided_at")
        batch.drop_column("enforcement_requested_at")
        batch.drop_column("enforcing_jurisdiction")
