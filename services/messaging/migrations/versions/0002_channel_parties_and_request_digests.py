"""channel parties (visibility in SQL) and request digests (idempotent creates)

Revision ID: 0002
Revises: 0001

- ``channel_parties``: one row per jurisdiction party to a channel (its origin and members), so list
  queries filter restricted channels in SQL with the policy's READ rule. Filled from ``channels``.
- ``channels.request_digest`` and ``messages.request_digest``: the fingerprint of the create request, to
  tell a genuine replay of a ``request_id`` from its reuse with other content. Rows written before this
  revision have none (NULL or empty): a replay of such a request is refused as a reuse.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('channel_parties',
    sa.Column('channel_id', sa.String(length=36), nullable=False),
    sa.Column('jurisdiction', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_channel_parties_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel_id', 'jurisdiction', name=op.f('pk_channel_parties'))
    )
    with op.batch_alter_table('channel_parties', schema=None) as batch_op:
        batch_op.create_index('ix_channel_parties_jurisdiction_channel', ['jurisdiction', 'channel_id'], unique=False)

    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_digest', sa.String(length=64), nullable=True))

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_digest', sa.String(length=64), server_default='', nullable=False))

    # Every existing channel's parties: its origin and its members.
    conn = op.get_bind()
    channels = sa.table('channels', sa.column('id', sa.String), sa.column('origin_jurisdiction', sa.String),
                        sa.column('members', sa.Text))
    parties = sa.table('channel_parties', sa.column('channel_id', sa.String), sa.column('jurisdiction', sa.String))
    rows = []
    for channel_id, origin, members in conn.execute(sa.select(channels.c.id, channels.c.origin_jurisdiction,
                                                              channels.c.members)):
        for jurisdiction in sorted({origin, *(m for m in (members or '').split(',') if m)}):
            rows.append({'channel_id': channel_id, 'jurisdiction': jurisdiction})
    if rows:
        op.bulk_insert(parties, rows)


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('request_digest')

    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('request_digest')

    with op.batch_alter_table('channel_parties', schema=None) as batch_op:
        batch_op.drop_index('ix_channel_parties_jurisdiction_channel')

    op.drop_table('channel_parties')
