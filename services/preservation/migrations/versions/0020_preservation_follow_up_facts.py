"""preservation: the follow-up request's access facts kept with the order; the stored answers emptied

Revision ID: 0020
Revises: 0019

``preservation_orders.follow_up_facts``: what the policy needs to know of the evidence request an order
follows (its origin, addressee, visibility and sharing, as JSON; "" when none is known), recorded by the
evidence consumer when it links the request, so that an order's answers name that request
(``follow_up_request_id``) only to a caller who may read it (security review: its id leaked to readers
of the order who may not read the request). The id is no longer part of an order's stored answer (it is
added per caller when a list is read), so the answers written before are in the former form: the column
is emptied, and the service's background job writes each again once it serves. An order linked before
this revision has no facts: its follow-up is shown to its issuing jurisdiction only, until the request's
next event brings them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("preservation_orders") as batch:
        batch.add_column(sa.Column("follow_up_facts", sa.Text(), server_default="", nullable=False))
    op.execute("UPDATE preservation_orders SET answer = NULL WHERE answer IS NOT NULL")


def downgrade() -> None:
    # The former code opens none of the answers written under this form either: emptied again.
    op.execute("UPDATE preservation_orders SET answer = NULL WHERE answer IS NOT NULL")
    with op.batch_alter_table("preservation_orders") as batch:
        batch.drop_column("follow_up_facts")
