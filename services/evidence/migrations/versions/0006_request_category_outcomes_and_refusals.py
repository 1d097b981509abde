"""evidence requests: per-category outcomes, refusals, submission

Revision ID: 0006
Revises: 0005

Issue 15, item 9: each requested data category is refused (on a ground) or executed on its own
(category_outcomes, JSON of enum names and times), every refusal of every submission is kept (refusals),
and a refused request may be clarified and resubmitted (submission, 1 as first issued). Rows from before
this revision have every category open, no refusal recorded per category (a REFUSED row keeps its
refusal_ground) and are their first submission.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('evidence_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category_outcomes', sa.Text(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('refusals', sa.Text(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('submission', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('evidence_requests', schema=None) as batch_op:
        batch_op.drop_column('submission')
        batch_op.drop_column('refusals')
        batch_op.drop_column('category_outcomes')
