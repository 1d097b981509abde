"""A record's first version and each next one are stamped once, for every service (``jitlib.actors``)."""

from __future__ import annotations

from datetime import UTC, datetime

from jitlib.actors import Actor, changed, created, created_record
from services.tasks.domain import NewTask, Task, TaskState

MAKER = Actor("u-1", "alice", "FR")
CHANGER = Actor("u-2", "bob", "DE")
MADE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def _task() -> Task:
    return Task(
        id="01935c4e-0000-7000-8000-000000000001",
        workspace_id="jit-demo",
        title="t",
        description="",
        kind="OTHER",
        origin_jurisdiction="FR",
        assignee_jurisdiction="DE",
        priority="NORMAL",
        due_at=None,
        restricted=False,
        shared_with=(),
        links=(),
        state=TaskState.ASSIGNED,
        **created(MAKER, MADE),
    )


def test_created_is_version_one_made_and_last_changed_by_the_maker() -> None:
    task = _task()
    assert (task.version, task.created_by, task.created_at) == (1, MAKER, MADE)
    assert (task.updated_by, task.updated_at) == (MAKER, MADE)


def test_changed_is_the_next_version_by_the_changer_with_the_fields_changed() -> None:
    before = _task()
    after = changed(before, CHANGER, LATER, state=TaskState.ACCEPTED, state_reason="ok")
    assert (after.version, after.updated_by, after.updated_at) == (2, CHANGER, LATER)
    assert (after.state, after.state_reason) == (TaskState.ACCEPTED, "ok")
    # The maker and everything not named stay as they were; the record itself is not touched.
    assert (after.created_by, after.created_at, after.title) == (MAKER, MADE, "t")
    assert before.version == 1 and before.state is TaskState.ASSIGNED


def test_created_record_takes_the_command_s_workspace_and_visibility_and_the_maker_s_origin() -> None:

    cmd = NewTask(
        request_id="01935c4e-0000-7000-8000-0000000000aa",
        workspace_id="jit-demo",
        title="t",
        description="",
        kind="OTHER",
        assignee_jurisdiction="DE",
        priority="NORMAL",
        due_at=None,
        restricted=True,
        shared_with=("NL", "BE", "NL"),
    )
    fields = created_record(cmd, record_id="rec-1", actor=MAKER, now=MADE)
    assert fields == {
        "id": "rec-1",
        "workspace_id": "jit-demo",
        "origin_jurisdiction": "FR",
        "restricted": True,
        "shared_with": ("BE", "NL"),
        **created(MAKER, MADE),
    }
