"""The bodies of the Alembic revisions every service makes alike, for the tables jitlib keeps in each service's
database (``jitlib.db.runtime_tables``): each service's own revision file (its number in its own chain) calls
the body, so the five do not drift apart. A body is frozen once released, as a revision is: a later change to
the table is a new body, called from new revisions."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_last_changes() -> None:
    """``last_changes``: each versioned record's last change made by a caller, the version it made and the
    fingerprint of the call (``jitlib.changes``), so that a retry of that call answers as it did. Empty at
    first: a change made before it is retried as before (ABORTED VERSION_MISMATCH, re-read it)."""
    op.create_table(
        "last_changes",
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("record_type", "record_id", name=op.f("pk_last_changes")),
    )


def drop_last_changes() -> None:
    """Back down: a retry is ABORTED VERSION_MISMATCH again, as before."""
    op.drop_table("last_changes")
