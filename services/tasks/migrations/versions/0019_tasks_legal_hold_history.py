"""tasks: legal holds keep their history (one row per hold set); the retention sweep's claim on a workspace

Revision ID: 0019
Revises: 0018

``legal_holds`` had one row per thing held, overwritten by each set: a set after a release erased who
released it and when. Now each hold set is a row of its own (``id``): a set while one is active releases it
as renewed (``superseded_by``), and at most one hold per (workspace_id, record_type, record_id) is active
(the partial unique index ``ux_legal_holds_active``). ``set_by_id``, ``request_id`` and ``request_digest``
key a set by its caller's request (a retry answers the first hold); ``released_by_id`` and
``release_request_id`` a release. Each existing row becomes one hold, active or released as it was, with
no request id (its caller's id was not kept).

``workspace_keys.shredding_since``: the retention sweep's claim on a workspace while it erases the stream
copies before destroying the key; a legal hold is refused meanwhile (``jitlib.retention_sweep``).
"""

from collections.abc import Sequence

from jitlib import revisions

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    revisions.legal_hold_history_upgrade(claim=True)


def downgrade() -> None:
    revisions.legal_hold_history_downgrade(claim=True)
