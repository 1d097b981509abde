"""preservation: the workspace directory keeps the jurisdictions taken out of each workspace

Revision ID: 0023
Revises: 0022

``workspaces.former_members`` (comma-separated, "" when none): the jurisdictions an amendment of the JIT
agreement took out of the workspace (``jit admin workspace remove-member``), or that an announcement no
longer lists, until one lists them as members again. No event of the workspace is for them from then on
(``jitlib.policy.Members``, ``jitlib.envelopes.audience``; rule JIT_MEMBER_TAKEN_OUT). Existing rows had no
country taken out: "".

``common.proto`` changed (``Workspace.former_members``) and the form of a stored answer is a digest of the
proto files its message imports, so every stored answer (``preservation_orders.answer``) is emptied; the
service's background job writes each again once it serves.
"""

from collections.abc import Sequence

from jitlib import revisions

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    revisions.add_workspace_former_members("preservation_orders")


def downgrade() -> None:
    revisions.drop_workspace_former_members("preservation_orders")
