"""preservation: the orders' stored answers emptied for the form of the proto with PRODUCTION_NOT_COUNTED

Revision ID: 0018
Revises: 0017

A stored answer opens only in the form it was written in (``jitlib.answers``: the proto files and the
service's mapping number). The preservation proto gained the warning kind and the outcome of a linked request
that is not the order's production request, so every answer written before is in the former form: the column
is emptied, and the service's background job writes each again once it serves (a list answers a row from its
columns until then).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE preservation_orders SET answer = NULL WHERE answer IS NOT NULL")


def downgrade() -> None:
    # The former code opens none of the answers written under this form either: emptied again.
    op.execute("UPDATE preservation_orders SET answer = NULL WHERE answer IS NOT NULL")
