"""The bodies of the Alembic revisions every service makes alike, for the tables jitlib keeps in each service's
database (``jitlib.db.runtime_tables``): each service's own revision file (its number in its own chain) calls
the body, so the five do not drift apart. A body is frozen once released, as a revision is: a later change to
the table is a new body, called from new revisions."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)


def create_last_changes() -> None:
    """``last_changes``: each versioned record's last change made by a caller, the version it made and the
    fingerprint of the call (``jitlib.changes``), so that a retry of that call answers as it did. Empty at
    first: a change made before it is retried as before (ABORTED VERSION_MISMATCH, re-read it). By workspace
    (``workspace_id``), so that a workspace's retention shred deletes its rows: a fingerprint digests the
    request's text, which an exact guess could confirm."""
    op.create_table(
        "last_changes",
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("record_type", "record_id", name=op.f("pk_last_changes")),
    )
    op.create_index("ix_last_changes_workspace_id", "last_changes", ["workspace_id"])


def drop_last_changes() -> None:
    """Back down: a retry is ABORTED VERSION_MISMATCH again, as before."""
    op.drop_table("last_changes")


def _empty_answers(table: str) -> None:
    """Empty the stored answers of ``table`` (a service's own table name, never input)."""
    t = sa.table(table, sa.column("answer", sa.LargeBinary()))
    op.execute(t.update().where(t.c.answer.is_not(None)).values(answer=None))


def add_workspace_former_members(answers: str | None = None) -> None:
    """``workspaces.former_members`` (comma-separated, "" when none): the jurisdictions an amendment of the
    JIT agreement took out of a workspace (``jitlib.policy.Members``). ``answers``: the service's table of
    records kept in their answered form, emptied (``common.proto`` changed their form; the service writes
    each again once it serves)."""
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("former_members", sa.Text(), server_default="", nullable=False))
    if answers:
        _empty_answers(answers)


def drop_workspace_former_members(answers: str | None = None) -> None:
    """Back down: no jurisdiction taken out (``answers`` emptied again)."""
    if answers:
        _empty_answers(answers)
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("former_members")


# -- legal holds that keep their history (evidence 0034, preservation 0022, tasks 0019, messaging 0011,
# victims 0009) -------------------------------------------------------------------------------------------

_HOLD_KEEP = ("workspace_id", "record_type", "record_id", "sealed_reason", "set_by", "set_by_jurisdiction",
              "set_at", "released_at", "released_by")  # fmt: skip


def _hold_columns_before() -> list[sa.Column]:
    """``legal_holds`` as it was before: one row per thing held."""
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


def _hold_rows() -> list[dict[str, object]]:
    """The rows of ``legal_holds``, the columns both forms have."""
    columns = _hold_columns_before()
    table = sa.table("legal_holds", *(sa.column(c.name, c.type) for c in columns))
    return [dict(r) for r in op.get_bind().execute(sa.select(table)).mappings()]


def _partial_unique(name: str, columns: list[str], where: str) -> None:
    condition = sa.text(where)
    op.create_index(name, "legal_holds", columns, unique=True, sqlite_where=condition, postgresql_where=condition)


def legal_hold_history_upgrade(*, claim: bool) -> None:
    """One row per hold set (``id``), at most one active per thing held (``ux_legal_holds_active``), a set
    and a release keyed by their caller's request; each former row becomes one hold, active or released as
    it was, with no request id. With ``claim``, ``workspace_keys.shredding_since`` too: the retention
    sweep's claim on a workspace while it erases the stream copies (``jitlib.retention_sweep``)."""
    rows = _hold_rows()
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
    _partial_unique("ux_legal_holds_active", ["workspace_id", "record_type", "record_id"], "released_at IS NULL")
    _partial_unique("ux_legal_holds_request", ["set_by_id", "request_id"], "request_id != ''")
    released = ["released_by_id", "release_request_id"]
    _partial_unique("ux_legal_holds_release_request", released, "release_request_id != ''")
    if rows:
        op.bulk_insert(table, [{**r, "id": str(uuid.uuid4())} for r in rows])
    if claim:
        with op.batch_alter_table("workspace_keys") as batch:
            batch.add_column(sa.Column("shredding_since", TS, nullable=True))


def legal_hold_history_downgrade(*, claim: bool) -> None:
    """Back to one row per thing held: its active hold, else the last one set (the history before it is
    lost); with ``claim``, without ``workspace_keys.shredding_since``."""
    if claim:
        with op.batch_alter_table("workspace_keys") as batch:
            batch.drop_column("shredding_since")
    kept: dict[tuple[object, object, object], dict[str, object]] = {}
    for r in sorted(_hold_rows(), key=lambda r: (r["released_at"] is None, str(r["set_at"]))):
        kept[(r["workspace_id"], r["record_type"], r["record_id"])] = {k: r[k] for k in _HOLD_KEEP}
    op.drop_index("ux_legal_holds_release_request", table_name="legal_holds")
    op.drop_index("ux_legal_holds_request", table_name="legal_holds")
    op.drop_index("ux_legal_holds_active", table_name="legal_holds")
    op.drop_table("legal_holds")
    table = op.create_table(
        "legal_holds",
        *_hold_columns_before(),
        sa.PrimaryKeyConstraint("workspace_id", "record_type", "record_id", name=op.f("pk_legal_holds")),
    )
    if kept:
        op.bulk_insert(table, list(kept.values()))
