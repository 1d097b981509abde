"""workspace keys, sealed attachment metadata, record parties from the record's state, closures seen here

Revision ID: 0003
Revises: 0002

Security review (issue 10):

- ``workspace_keys``: each workspace's wrapping key (wrapped by the KEK); channel keys made from now on
  are wrapped by it (``channel_keys.wrapping`` = "workspace"). Existing channel keys stay wrapped by the
  KEK ("kek", the default here) and are still destroyed row by row when their workspace is shredded.
- ``messages.sealed_attachments`` / ``attachments_key_version``: the attachment list (names, media types,
  sizes, digests) sealed like the body. The clear ``messages.attachments`` of existing messages stays
  until their channel is shredded (which erases it); new messages write "[]" there.
- ``channels.restricted``: false for the workspace channel (and, from now on, for the thread of a record
  open to the whole workspace).
- ``records``: the access facts of each record (``addressee_jurisdiction``, ``restricted``,
  ``shared_with``) instead of the ``audience`` its events claimed. Existing rows keep their audience as
  ``shared_with`` (restricted) until the record's next event recomputes them from its state.
- ``workspace_closures.closed_at`` becomes ``seen_closed_at``: when this node's directory first saw the
  workspace closed. Pending closures are dropped (they counted from an event's ``closed_at``); the
  retention scan records each closed workspace again, from now.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('workspace_keys',
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('wrapped', sa.LargeBinary(), nullable=False),
    sa.Column('kek_id', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id', name=op.f('pk_workspace_keys'))
    )

    with op.batch_alter_table('channel_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wrapping', sa.String(length=16), server_default='kek', nullable=False))

    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('restricted', sa.Boolean(), server_default=sa.true(), nullable=False))

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_attachments', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('attachments_key_version', sa.Integer(), nullable=True))

    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('addressee_jurisdiction', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('restricted', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('shared_with', sa.Text(), server_default='', nullable=False))

    conn = op.get_bind()
    channels = sa.table('channels', sa.column('kind', sa.String), sa.column('restricted', sa.Boolean))
    conn.execute(channels.update().where(channels.c.kind == 'WORKSPACE').values(restricted=False))
    records = sa.table(
        'records',
        sa.column('kind', sa.String),
        sa.column('id', sa.String),
        sa.column('origin_jurisdiction', sa.String),
        sa.column('audience', sa.Text),
        sa.column('shared_with', sa.Text),
    )
    rows = conn.execute(sa.select(records.c.kind, records.c.id, records.c.origin_jurisdiction, records.c.audience))
    for kind, record_id, origin, audience in list(rows):
        shared = sorted({j for j in (audience or '').split(',') if j} - {origin})
        conn.execute(
            records.update()
            .where(records.c.kind == kind, records.c.id == record_id)
            .values(shared_with=','.join(shared))
        )

    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_column('audience')

    closures = sa.table('workspace_closures', sa.column('shredded_at', sa.DateTime(timezone=True)))
    conn.execute(closures.delete().where(closures.c.shredded_at.is_(None)))
    with op.batch_alter_table('workspace_closures', schema=None) as batch_op:
        batch_op.alter_column('closed_at', new_column_name='seen_closed_at')


def downgrade() -> None:
    with op.batch_alter_table('workspace_closures', schema=None) as batch_op:
        batch_op.alter_column('seen_closed_at', new_column_name='closed_at')

    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sa.Text(), server_default='', nullable=False))
        batch_op.drop_column('shared_with')
        batch_op.drop_column('restricted')
        batch_op.drop_column('addressee_jurisdiction')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('attachments_key_version')
        batch_op.drop_column('sealed_attachments')

    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('restricted')

    with op.batch_alter_table('channel_keys', schema=None) as batch_op:
        batch_op.drop_column('wrapping')

    op.drop_table('workspace_keys')
