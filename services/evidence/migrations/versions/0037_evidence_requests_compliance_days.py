"""evidence_requests: the days the enforcing state gives the provider to comply (Reg. (EU) 2023/1543 Art. 16(3));
answers emptied

Revision ID: 0037
Revises: 0036

``compliance_days``: when the enforcing state recognised a transferred EPOC, the days it set for the provider
to comply or oppose, from which the request's COMPLIANCE deadline is counted in its calendar (jitlib.legal
EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE); 0 before a recognition. Rows recognised before this revision keep 0:
no COMPLIANCE deadline is invented for them, and their PRODUCE deadline, superseded by the recognition, no
longer runs (the start's recount, ``deadlines.COUNTING`` 4, rewrites their stored deadlines).

The proto gained the field (and a deadline kind), so every stored answer (``answer``, revision 0026) is in the
former form: the column is emptied, and the service's background job writes each again once it serves (a list
answers a row from its columns until then).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_requests") as batch:
        batch.add_column(sa.Column("compliance_days", sa.Integer(), server_default="0", nullable=False))
    op.execute("UPDATE evidence_requests SET answer = NULL WHERE answer IS NOT NULL")


def downgrade() -> None:
    # The former code opens none of the answers written under this form either: emptied again.
    op.execute("UPDATE evidence_requests SET answer = NULL WHERE answer IS NOT NULL")
    with op.batch_alter_table("evidence_requests") as batch:
        batch.drop_column("compliance_days")
