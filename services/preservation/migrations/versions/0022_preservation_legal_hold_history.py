"""preservation: legal holds keep their history (one row per hold set); the retention sweep's claim on a workspace

Revision ID: 0022
Revises: 0021

``legal_holds`` had one row per thing held, overwritten by each set: a set after a release erased who
released it and when. Now each hold set is a row of its own (``id``): a set while one is active releases it
as renewed (``superseded_by``), and at most one hold per (workspace_id, record_type, record_id) is active
(the partial unique index ``ux_legal_holds_active``). ``set_by_id``, ``request_id`` and ``request_digest``
key a set by its caller's request (a retry answers the first hold); ``released_by_id`` and
``release_request_id`` a release. Each existing row becomes one hold, active or released as it was, with
no request id (its caller's id was not kept).

``workspace_keys.shredding_since``: the retention sweep's claim on a workspace while it erases the stream
copies before destroying the key; a legal hold is refused meanwhile (``jitlib.retention_sweep``).
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
_KEEP = ("workspace_id", "record_type", "record_id", "sealed_reason", "set_by", "set_by_jurisdiction", "set_at",
         "released_at", "released_by")  # fmt: skip


def _old_columns() -> list[sa.Column]:
    return [
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("sealed_reason", sa.LargeBinary(), nullable=False),
        sa.Column("set_by", sa.String(length=255), nullable=False),
        sa.Column("set_by_jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("set_at", TS, nullable=False),
        sa.Column("released_at", TS, nullable=True),
        sa.Column("released_by", sa.String(length=255), server_default="", nullable=False),
    ]


def _rows(columns: list[sa.Column]) -> list[dict[str, object]]:
    table = sa.table("legal_holds", *(sa.column(c.name, c.type) for c in columns))
    return [dict(r) for r in op.get_bind().execute(sa.select(table)).mappings()]


def upgrade() -> None:
    rows = _rows(_old_columns())
    op.drop_table("legal_holds")
    table = op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("sealed_reason", sa.LargeBinary(), nullable=False),
        sa.Column("set_by_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("set_by", sa.String(length=255), nullable=False),
        sa.Column("set_by_jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("set_at", TS, nullable=False),
        sa.Column("request_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("request_digest", sa.String(length=64), server_default="", nullable=False),
        sa.Column("released_at", TS, nullable=True),
        sa.Column("released_by_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("released_by", sa.String(length=255), server_default="", nullable=False),
        sa.Column("release_request_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("superseded_by", sa.String(length=36), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    active = sa.text("released_at IS NULL")
    op.create_index(
        "ux_legal_holds_active",
        "legal_holds",
        ["workspace_id", "record_type", "record_id"],
        unique=True,
        sqlite_where=active,
        postgresql_where=active,
    )
    asked = sa.text("request_id != ''")
    op.create_index(
        "ux_legal_holds_request",
        "legal_holds",
        ["set_by_id", "request_id"],
        unique=True,
        sqlite_where=asked,
        postgresql_where=asked,
    )
    released = sa.text("release_request_id != ''")
    op.create_index(
        "ux_legal_holds_release_request",
        "legal_holds",
        ["released_by_id", "release_request_id"],
        unique=True,
        sqlite_where=released,
        postgresql_where=released,
    )
    if rows:
        op.bulk_insert(table, [{**r, "id": str(uuid.uuid4())} for r in rows])
    with op.batch_alter_table("workspace_keys") as batch:
        batch.add_column(sa.Column("shredding_since", TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspace_keys") as batch:
        batch.drop_column("shredding_since")
    # One row per thing held again: its active hold, else the last one set (the history before is lost).
    kept: dict[tuple[object, object, object], dict[str, object]] = {}
    for r in sorted(_rows(_old_columns()), key=lambda r: (r["released_at"] is None, str(r["set_at"]))):
        kept[(r["workspace_id"], r["record_type"], r["record_id"])] = {k: r[k] for k in _KEEP}
    op.drop_index("ux_legal_holds_release_request", table_name="legal_holds")
    op.drop_index("ux_legal_holds_request", table_name="legal_holds")
    op.drop_index("ux_legal_holds_active", table_name="legal_holds")
    op.drop_table("legal_holds")
    table = op.create_table(
        "legal_holds",
        *_old_columns(),
        sa.PrimaryKeyConstraint("workspace_id", "record_type", "record_id", name=op.f("pk_legal_holds")),
    )
    if kept:
        op.bulk_insert(table, list(kept.values()))
