"""evidence_requests: the listed offence (Annex IV, Annex D) and the maximum sentence; answers emptied

Revision ID: 0031
Revises: 0030

``listed_offence``: the category of Reg. (EU) 2023/1543 Annex IV (an EPOC) or Directive 2014/41/EU Annex D
(an EIO) the issuer indicated, "" for none; ``max_sentence_months``: the maximum custodial sentence or
detention order for it in the issuing state, in months, 0 for none. With at least 36 months the request is
not refused for lack of double criminality (jitlib.legal EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY,
EIO_ANNEX_D_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY). Rows before this revision indicated none.

The proto gained both fields, so every stored answer (``answer``, revision 0026) is in the former form: the
column is emptied, and the service's background job writes each again once it serves (a list answers a row
from its columns until then).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_requests") as batch:
        batch.add_column(sa.Column("listed_offence", sa.String(length=48), server_default="", nullable=False))
        batch.add_column(sa.Column("max_sentence_months", sa.Integer(), server_default="0", nullable=False))
    op.execute("UPDATE evidence_requests SET answer = NULL WHERE answer IS NOT NULL")


def downgrade() -> None:
    # The former code opens none of the answers written under this form either: emptied again.
    op.execute("UPDATE evidence_requests SET answer = NULL WHERE answer IS NOT NULL")
    with op.batch_alter_table("evidence_requests") as batch:
        batch.drop_column("max_sentence_months")
        batch.drop_column("listed_offence")
