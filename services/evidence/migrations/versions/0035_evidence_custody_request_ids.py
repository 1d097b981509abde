"""custody_log: the client's request id of an act, so that a retry records nothing twice; answers emptied

Revision ID: 0035
Revises: 0034

RecordCustodyEvent and RequestExport take the client's ``request_id``: an entry keeps it, with the digest of
the request it came with, and the same caller's retry with the same id is answered with that entry instead of
a second one (the chain of custody is evidence: a second "transferred" entry would be a false statement in
it). One entry per (item, caller, request id): a unique index where an id is given. Entries written before
keep none ("").

The proto file changed (the form of a stored answer is a digest of the file), so every stored answer
(``evidence_requests.answer``) is emptied, and the service's background job writes each again once it serves.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GIVEN = "request_id <> ''"


def upgrade() -> None:
    with op.batch_alter_table("custody_log") as batch:
        batch.add_column(sa.Column("request_id", sa.String(64), server_default="", nullable=False))
        batch.add_column(sa.Column("request_digest", sa.String(64), server_default="", nullable=False))
        batch.create_index(
            "uq_custody_log_request",
            ["item_id", "user_id", "request_id"],
            unique=True,
            sqlite_where=sa.text(_GIVEN),
            postgresql_where=sa.text(_GIVEN),
        )
    op.execute("UPDATE evidence_requests SET answer = NULL WHERE answer IS NOT NULL")


def downgrade() -> None:
    op.execute("UPDATE evidence_requests SET answer = NULL WHERE answer IS NOT NULL")
    with op.batch_alter_table("custody_log") as batch:
        batch.drop_index("uq_custody_log_request", sqlite_where=sa.text(_GIVEN), postgresql_where=sa.text(_GIVEN))
        batch.drop_column("request_digest")
        batch.drop_column("request_id")
