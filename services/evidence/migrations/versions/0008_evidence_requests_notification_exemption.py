"""evidence_requests: notification_exemption_reason

Revision ID: 0008
Revises: 0007

An EPOC for traffic or content data without notification of the enforcing state records why none is needed
(Reg. (EU) 2023/1543 Art. 8(2); jitlib.legal EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON). The text is sealed
with the request's other text (``sealed``); this column stays empty, as the other sealed columns do. Rows
sealed before read it as "".
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('evidence_requests') as batch:
        batch.add_column(sa.Column('notification_exemption_reason', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('evidence_requests') as batch:
        batch.drop_column('notification_exemption_reason')
