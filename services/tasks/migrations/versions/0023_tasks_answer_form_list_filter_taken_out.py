"""tasks: the stored answers emptied for the form of the proto with ListTasksRequest.assignee_taken_out

Revision ID: 0023
Revises: 0022

A stored answer opens only in the form it was written in (``jitlib.answers``: the proto files and the
service's mapping number). The tasks proto gained the list filter ``ListTasksRequest.assignee_taken_out``
(no field of a stored answer), which changes the form: the column is emptied, and the service's background
job writes each answer again once it serves (a list answers a row from its columns until then).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE tasks SET answer = NULL WHERE answer IS NOT NULL")


def downgrade() -> None:
    # The former code opens none of the answers written under this form either: emptied again.
    op.execute("UPDATE tasks SET answer = NULL WHERE answer IS NOT NULL")
