"""victims: the statistics' projection and the victims' special-category attributes

Revision ID: 0002
Revises: 0001

``stats_records``: the tasks, evidence requests and preservation orders the statistics count, as codes
(no free text), fed by the tasks, evidence and preservation events. ``victim_special_categories``: a
victim's special-category attributes, recorded with consent for a purpose, everything but the pseudonym
and workspace sealed under the workspace's content key; deleted when consent is withdrawn.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stats_records',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('origin_jurisdiction', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('addressee', sa.String(length=64), nullable=False),
    sa.Column('addressee_jurisdiction', sa.String(length=16), nullable=True),
    sa.Column('instrument', sa.String(length=32), nullable=False),
    sa.Column('offence', sa.String(length=48), nullable=False),
    sa.Column('victim_refs', sa.Text(), nullable=False),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('shared_with', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('produced', sa.Boolean(), nullable=False),
    sa.Column('deadlines', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_records'))
    )
    op.create_index(op.f('ix_stats_records_workspace_id'), 'stats_records', ['workspace_id'], unique=False)
    op.create_table('victim_special_categories',
    sa.Column('victim_ref', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('attributes', sa.Text(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('consent_given_at', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('victim_ref', name=op.f('pk_victim_special_categories'))
    )
    op.create_index(op.f('ix_victim_special_categories_workspace_id'), 'victim_special_categories', ['workspace_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_victim_special_categories_workspace_id'), table_name='victim_special_categories')
    op.drop_table('victim_special_categories')
    op.drop_index(op.f('ix_stats_records_workspace_id'), table_name='stats_records')
    op.drop_table('stats_records')
