"""evidence: the workspace's id index carries what a page of requests walked in id order tests

Revision ID: 0027
Revises: 0026

A list with a deadline window whose requests are many is walked in id order (``RecordTable._window_page``
on SQLite; PostgreSQL's plan, which walks ``pk_evidence_requests`` and reads each request's row to test
the window). ``(workspace_id, id, next_deadline_at, restricted, addressee_reader)`` lets the walk test the
window and the READ rule's columns on the index and read only the rows they keep; it replaces
``(workspace_id, id)``, whose queries it serves as well. See bench/README.md (Lists, the fifteenth pass).
"""

from collections.abc import Sequence

from alembic import op


revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_evidence_requests_workspace_walk",
        "evidence_requests",
        ["workspace_id", "id", "next_deadline_at", "restricted", "addressee_reader"],
    )
    op.drop_index("ix_evidence_requests_workspace_id_id", table_name="evidence_requests")


def downgrade() -> None:
    op.create_index("ix_evidence_requests_workspace_id_id", "evidence_requests", ["workspace_id", "id"])
    op.drop_index("ix_evidence_requests_workspace_walk", table_name="evidence_requests")
