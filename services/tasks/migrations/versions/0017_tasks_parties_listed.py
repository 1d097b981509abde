"""tasks: each task's parties listed in its own row

Revision ID: 0017
Revises: 0016

``parties``: the jurisdictions party to the task, each between commas (``,DE,NL,``), written with every
write of the row as its ``task_parties`` rows are (``jitlib.visibility.PartyIndex`` ``listed``). A page on
PostgreSQL tests the READ rule's "is this jurisdiction a party" on it, in the row it reads anyway, instead
of probing ``task_parties`` once for each restricted task it passes (bench/README.md, Lists, the twentieth
pass). Filled here from ``task_parties``, the rows already stored; a row listing none is seen by no party
of a restricted task, never by more.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (the records' table, its parties' table, that table's column of the record's id)
_LISTED = (("tasks", "task_parties", "task_id"),)


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
