"""evidence_requests: addressee_reader

Revision ID: 0005
Revises: 0004

An EIO, MLA request or EPOC may be addressed to a state outside the workspace (jitlib.legal
JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES), which reads it as its addressee without being a member.
``addressee_reader`` is that jurisdiction ("" for none): the policy's ``addressed_to`` term in the list
query. Existing rows get it by the same rule as ``EvidenceRequest.access()``: the addressed state, or a
provider's establishment state when it is notified (an EPOC with notification); never for a direct
exchange inside the JIT.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('evidence_requests') as batch:
        batch.add_column(sa.Column('addressee_reader', sa.String(length=16), server_default='', nullable=False))
        batch.create_index('ix_evidence_requests_addressee_reader', ['addressee_reader', 'id'], unique=False)
    requests = sa.table(
        'evidence_requests',
        sa.column('addressee_reader', sa.String),
        sa.column('addressee_jurisdiction', sa.String),
        sa.column('addressee_kind', sa.String),
        sa.column('legal_basis', sa.String),
        sa.column('epoc_procedure', sa.String),
    )
    notified = sa.and_(
        requests.c.legal_basis == 'EPOC',
        requests.c.epoc_procedure.in_(['WITH_NOTIFICATION', 'EMERGENCY_WITH_NOTIFICATION']),
    )
    op.execute(
        requests.update()
        .where(
            requests.c.legal_basis != 'JIT_DIRECT',
            requests.c.addressee_jurisdiction != '',
            sa.or_(requests.c.addressee_kind != 'SERVICE_PROVIDER', notified),
        )
        .values(addressee_reader=requests.c.addressee_jurisdiction)
    )


def downgrade() -> None:
    with op.batch_alter_table('evidence_requests') as batch:
        batch.drop_index('ix_evidence_requests_addressee_reader')
        batch.drop_column('addressee_reader')
