"""preservation: clocks from receipt, stopped and resumed by production requests

Revision ID: 0004
Revises: 0003

``received_at``: when the provider received the order; the EPOC-PR, Budapest Art. 29 and national clocks
start there (jitlib.legal: EPOC_PR_CLOCK_FROM_RECEIPT, ...). ``clock_stopped_at`` and
``clock_remaining_seconds``: while a production request stops an EPOC-PR's or Budapest Art. 29 order's
clock, when it stopped and the time that was left, given back if the request fails.

Orders stored before this revision: ``received_at`` is their issue time (the law's default, and what this
version records when no receipt time is stated). Their expiries are left as they are: a running order keeps
the expiry counted from its confirmation (no expiry moves under a user without an event), and an order
still ISSUED gets its clock counted from receipt when the provider's confirmation is recorded
(``domain._confirm``: an order without an expiry gets one). A stopped order whose production request fails
gets the expiry counted from receipt, never one in the past (``domain._resumed_expiry``).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('preservation_orders') as batch:
        batch.add_column(sa.Column('received_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('clock_stopped_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('clock_remaining_seconds', sa.Integer(), nullable=True))
    op.execute("UPDATE preservation_orders SET received_at = issued_at WHERE issued_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('preservation_orders') as batch:
        batch.drop_column('clock_remaining_seconds')
        batch.drop_column('clock_stopped_at')
        batch.drop_column('received_at')
