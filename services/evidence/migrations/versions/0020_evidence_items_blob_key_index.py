"""evidence_items: an index on blob_key

Revision ID: 0020
Revises: 0019

The blob sweep (``blobs.BlobSweep``) asks which of the blob files older than its grace period an item
names: ``ix_evidence_items_blob_key`` answers without reading the table.
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_evidence_items_blob_key', 'evidence_items', ['blob_key'])


def downgrade() -> None:
    op.drop_index('ix_evidence_items_blob_key', table_name='evidence_items')
