"""evidence: the stored answers emptied for the form of the proto with the taken-out flags

Revision ID: 0040
Revises: 0039

A stored answer opens only in the form it was written in (``jitlib.answers``: the proto files and the
service's mapping number). The evidence proto gained ``EvidenceRequest.issuer_taken_out`` and
``addressee_taken_out`` (derived when read, never in a stored answer: rules REQUEST_ISSUER_TAKEN_OUT and
REQUEST_ADDRESSEE_TAKEN_OUT), so every answer written before is in the former form: the column is emptied,
and the service's background job writes each again once it serves (a list answers a row from its columns
until then).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE evidence_requests SET answer = NULL WHERE answer IS NOT NULL")


def downgrade() -> None:
    # The former code opens none of the answers written under this form either: emptied again.
    op.execute("UPDATE evidence_requests SET answer = NULL WHERE answer IS NOT NULL")
