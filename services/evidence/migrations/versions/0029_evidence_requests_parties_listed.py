"""evidence: each request's parties listed in its own row

Revision ID: 0029
Revises: 0028

``parties``: the jurisdictions party to the request, each between commas (``,DE,NL,``), written with every
write of the row as its ``evidence_request_parties`` rows are (``jitlib.visibility.PartyIndex``
``listed``). A page on PostgreSQL tests the READ rule's "is this jurisdiction a party" on it, in the row it
reads anyway, instead of probing ``evidence_request_parties`` once for each restricted request it passes
(bench/README.md, Lists, the twentieth pass). Filled here from ``evidence_request_parties``, the rows
already stored; a row listing none is seen by no party of a restricted request, never by more.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (the records' table, its parties' table, that table's column of the record's id)
_LISTED = (("evidence_requests", "evidence_request_parties", "request_id"),)


def upgrade() -> None:
    conn = op.get_bind()
    for records, parties, key in _LISTED:
        with op.batch_alter_table(records) as batch:
            batch.add_column(sa.Column("parties", sa.Text(), server_default="", nullable=False))
        listed: dict[str, set[str]] = {}
        for record_id, jurisdiction in conn.execute(sa.text(f"SELECT {key}, jurisdiction FROM {parties}")):
            listed.setdefault(record_id, set()).add(jurisdiction)
        rows = [{"id": i, "parties": "".join(f",{j}" for j in sorted(js)) + ","} for i, js in listed.items()]
        if rows:
            conn.execute(sa.text(f"UPDATE {records} SET parties = :parties WHERE id = :id"), rows)


def downgrade() -> None:
    for records, _parties, _key in reversed(_LISTED):
        with op.batch_alter_table(records) as batch:
            batch.drop_column("parties")
