"""preservation: the stored answers emptied for the form of the proto with issuer_taken_out

Revision ID: 0025
Revises: 0024

A stored answer opens only in the form it was written in (``jitlib.answers``: the proto files and the
service's mapping number). The preservation proto gained ``PreservationOrder.issuer_taken_out`` (derived when
read, never in a stored answer: rule ORDER_ISSUER_TAKEN_OUT), so every answer written before is in the former
form: the column is emptied, and the service's background job writes each again once it serves (a list
answers a row from its columns until then).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE preservation_orders SET answer = NULL WHERE answer IS NOT NULL")


def downgrade() -> None:
    # The former code opens none of the answers written under this form either: emptied again.
    op.execute("UPDATE preservation_orders SET answer = NULL WHERE answer IS NOT NULL")
