"""victims: each versioned record's last change made by a caller, so that a retry of that call answers as it did

Revision ID: 0012
Revises: 0011

``last_changes``: the version a caller's change made and the fingerprint of the call (a digest of the caller,
the RPC and its request; ``jitlib.changes``). The body is jitlib's, the same in every service
(``jitlib.revisions.create_last_changes``).
"""

from collections.abc import Sequence

from jitlib import revisions

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    revisions.create_last_changes()


def downgrade() -> None:
    revisions.drop_last_changes()
