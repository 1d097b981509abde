"""evidence_items: the consents to other use sealed with the item's other text

Revision ID: 0036
Revises: 0035

An item's consents to other use (``consents``, JSON: each the use consented to, case text, and the state's
reference) are sealed under the workspace's key with its file name, description and conditions (``sealed``,
``store.SEALED_ITEMS``), so a workspace's shred destroys them too; the column is left empty. No migration
opens a sealed row: the items sealed before keep their consents in clear until the service starts, which seals
them (``store.seal_clear_consents``, a step of ``jitlib.sealing.backfill_all``) and finds them on
``ix_evidence_items_consents_in_clear``, a partial index of the rows whose column is not empty: empty once
that ran, so every later start finds none at once.

Down: the index goes; the consents stay sealed, which the code before this revision does not read (its items
would show none).

(Named 0035, revising 0033: a 0034 may be written beside it; whichever merges second revises the other.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_evidence_items_consents_in_clear",
        "evidence_items",
        ["id"],
        sqlite_where=sa.text("consents <> ''"),
        postgresql_where=sa.text("consents <> ''"),
    )


def downgrade() -> None:
    op.drop_index("ix_evidence_items_consents_in_clear", table_name="evidence_items")
