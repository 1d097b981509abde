"""tasks: the victims each task names, one row per (record, pseudonym)

Revision ID: 0016
Revises: 0015

A list of one victim's tasks tested ``victim_refs`` (a comma-separated column) of every task of the
workspace: 68-260 ms a page in 100,000 on PostgreSQL for a victim named by few of them. ``task_victims`` holds hold
each (record, pseudonym), indexed by pseudonym and record id, so such a list reads the victim's records
alone, in id order (``jitlib.visibility.VictimIndex``; bench/README.md, Lists, the sixteenth pass). Filled
here from the records already stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (the records' table, the victims' table, its column of the record's id, its index)
_NAMED = (("tasks", "task_victims", "task_id", "ix_task_victims_victim_task"),)


def upgrade() -> None:
    conn = op.get_bind()
    for records, victims, key, index in _NAMED:
        op.create_table(
            victims,
            sa.Column(key, sa.String(length=36), nullable=False),
            sa.Column("victim_ref", sa.String(length=32), nullable=False),
            sa.ForeignKeyConstraint(
                [key], [f"{records}.id"], name=op.f(f"fk_{victims}_{key}_{records}"), ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint(key, "victim_ref", name=op.f(f"pk_{victims}")),
        )
        op.create_index(index, victims, ["victim_ref", key], unique=False)
        stored = conn.execute(sa.text(f"SELECT id, victim_refs FROM {records} WHERE victim_refs <> ''"))
        named = [{"id": i, "ref": ref} for i, refs in stored for ref in sorted(set(filter(None, refs.split(","))))]
        if named:
            conn.execute(sa.text(f"INSERT INTO {victims} ({key}, victim_ref) VALUES (:id, :ref)"), named)


def downgrade() -> None:
    for _records, victims, _key, index in reversed(_NAMED):
        op.drop_index(index, table_name=victims)
        op.drop_table(victims)
