"""preservation: removal requests to platforms (issue 18)

Revision ID: 0010
Revises: 0009

``removal_requests``: what a platform was asked to remove, under which basis, its response clock (due_at,
with the clock's source), the platform's answers and re-uploads, the linked preservation order, the victims
by pseudonym; the items, re-uploads, state reason and the reason to go on without preservation are sealed
under the workspace's content key (``sealed``), their own columns empty. ``removal_request_parties``: the
visibility index, as for orders.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('removal_requests',
    sa.Column('basis', sa.String(length=32), nullable=False),
    sa.Column('national_jurisdiction', sa.String(length=16), nullable=False),
    sa.Column('provider_id', sa.String(length=64), nullable=False),
    sa.Column('items', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('clock_seconds', sa.Integer(), nullable=False),
    sa.Column('clock_source', sa.Text(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refusal_reason', sa.String(length=32), nullable=False),
    sa.Column('state_reason', sa.Text(), nullable=False),
    sa.Column('blocked_in', sa.Text(), nullable=False),
    sa.Column('reupload_count', sa.Integer(), nullable=False),
    sa.Column('reuploads', sa.Text(), nullable=False),
    sa.Column('preservation_order_id', sa.String(length=36), nullable=False),
    sa.Column('proceed_without_preservation_reason', sa.Text(), nullable=False),
    sa.Column('victim_refs', sa.Text(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=True),
    sa.Column('origin_jurisdiction', sa.String(length=16), nullable=False),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('shared_with', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.String(length=64), nullable=False),
    sa.Column('created_by_name', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.String(length=64), nullable=False),
    sa.Column('updated_by_name', sa.String(length=255), nullable=False),
    sa.Column('updated_by_jurisdiction', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replicated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('request_digest', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_removal_requests'))
    )
    op.create_index('ix_removal_requests_provider', 'removal_requests', ['provider_id'], unique=False)
    op.create_index('ix_removal_requests_workspace_due', 'removal_requests', ['workspace_id', 'due_at'], unique=False)
    op.create_index('ix_removal_requests_workspace_id_id', 'removal_requests', ['workspace_id', 'id'], unique=False)
    op.create_index('ix_removal_requests_workspace_state', 'removal_requests', ['workspace_id', 'state'], unique=False)
    op.create_index('uq_removal_requests_creator_request', 'removal_requests', ['created_by_id', 'request_id'], unique=True)
    op.create_table('removal_request_parties',
    sa.Column('removal_id', sa.String(length=36), nullable=False),
    sa.Column('jurisdiction', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['removal_id'], ['removal_requests.id'], name=op.f('fk_removal_request_parties_removal_id_removal_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('removal_id', 'jurisdiction', name=op.f('pk_removal_request_parties'))
    )
    op.create_index('ix_removal_request_parties_jurisdiction_removal', 'removal_request_parties', ['jurisdiction', 'removal_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_removal_request_parties_jurisdiction_removal', table_name='removal_request_parties')
    op.drop_table('removal_request_parties')
    op.drop_index('uq_removal_requests_creator_request', table_name='removal_requests')
    op.drop_index('ix_removal_requests_workspace_state', table_name='removal_requests')
    op.drop_index('ix_removal_requests_workspace_id_id', table_name='removal_requests')
    op.drop_index('ix_removal_requests_workspace_due', table_name='removal_requests')
    op.drop_index('ix_removal_requests_provider', table_name='removal_requests')
    op.drop_table('removal_requests')
