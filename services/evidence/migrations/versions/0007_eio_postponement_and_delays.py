"""evidence: where a postponed EIO resumes, how long its clocks were suspended, notified delays

Revision ID: 0007
Revises: 0006

A postponed EIO (Directive 2014/41 Art. 15) resumes in the state it was postponed from
(``postponed_from``, since ``postponed_at``), and the deadline that ran then is suspended while postponed
(``decision_suspended_seconds``, ``execution_suspended_seconds``). A request postponed when this runs is
given the state it was postponed from (before the recognition decision when it has none) and
``postponed_at`` = its last change, the postponement. ``evidence_delays`` holds the latest delay the
executing state notified per request (Art. 12(5), 12(6)), its reason sealed under the workspace's key.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('evidence_requests') as batch:
        batch.add_column(sa.Column('postponed_from', sa.String(length=20), server_default='', nullable=False))
        batch.add_column(sa.Column('postponed_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('decision_suspended_seconds', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('execution_suspended_seconds', sa.Integer(), server_default='0', nullable=False))
    requests = sa.table(
        'evidence_requests',
        sa.column('state', sa.String),
        sa.column('decided_at', sa.DateTime(timezone=True)),
        sa.column('updated_at', sa.DateTime(timezone=True)),
        sa.column('postponed_from', sa.String),
        sa.column('postponed_at', sa.DateTime(timezone=True)),
    )
    op.execute(
        requests.update()
        .where(requests.c.state == 'POSTPONED')
        .values(
            postponed_from=sa.case((requests.c.decided_at.is_(None), 'ACKNOWLEDGED'), else_='IN_EXECUTION'),
            postponed_at=requests.c.updated_at,
        )
    )
    op.create_table(
        'evidence_delays',
        sa.Column('request_id', sa.String(length=36), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('deadline', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('expected_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('notified_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('notified_by_id', sa.String(length=64), nullable=False),
        sa.Column('notified_by_name', sa.String(length=255), nullable=False),
        sa.Column('notified_by_jurisdiction', sa.String(length=16), nullable=False),
        sa.Column('sealed', sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ['request_id'],
            ['evidence_requests.id'],
            name=op.f('fk_evidence_delays_request_id_evidence_requests'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('request_id', name=op.f('pk_evidence_delays')),
    )


def downgrade() -> None:
    op.drop_table('evidence_delays')
    with op.batch_alter_table('evidence_requests') as batch:
        batch.drop_column('execution_suspended_seconds')
        batch.drop_column('decision_suspended_seconds')
        batch.drop_column('postponed_at')
        batch.drop_column('postponed_from')
