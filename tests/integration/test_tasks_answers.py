"""ListTasks answers each task from its stored answer (``jitlib.answers``): the same message GetTask gives the
same caller, field for field, whatever the task's state, visibility, links, terms and clock, and for a task
whose stored answer does not open (none written, an older version, bytes altered) too. On each backend."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from jit.common.v1 import common_pb2
from jit.tasks.v1 import tasks_pb2 as pb
from services.tasks.store import TaskRow
from tests.integration.test_tasks_service import WS, Client, ts

pytestmark = pytest.mark.integration

USERS = ("nl-prosecutor", "de-liaison", "ie-liaison", "de-prosecutor", "nl-liaison")


@pytest.fixture(scope="module")
def client(tasks_svc: Any, tokens: Any) -> Client:
    return Client(tasks_svc, tokens)


def own_due() -> datetime:
    """An instant no other test's task is due at, so that a window around it lists this test's tasks only."""
    return (datetime.now(UTC) + timedelta(days=300, minutes=random.randrange(500_000))).replace(microsecond=0)


def listed(client: Client, user: str, due: datetime, **filters: Any) -> list[pb.Task]:
    request = pb.ListTasksRequest(
        workspace_id=WS,
        due_after=ts(due - timedelta(seconds=1)),
        due_before=ts(due + timedelta(seconds=1)),
        page_size=3,
        **filters,
    )
    out: list[pb.Task] = []
    while True:
        page = client.call(user, "ListTasks", request)
        out += page.tasks
        if not page.next_page_token:
            return out
        request.page_token = page.next_page_token


def check_lists_as_gets(client: Client, due: datetime, expected: set[str]) -> None:
    """For every user, each listed task equals GetTask's answer to that user; NL's prosecutor lists them all."""
    for user in USERS:
        tasks = listed(client, user, due)
        for t in tasks:
            got = client.call(user, "GetTask", pb.GetTaskRequest(id=t.id)).task
            assert t == got, f"{user}: {t.id} listed as\n{t}\nbut read as\n{got}"
        if user == "nl-prosecutor":
            assert {t.id for t in tasks} == expected


def made(client: Client, due: datetime) -> list[pb.Task]:
    """Tasks of every shape: restricted and open, shared, linked, and moved through transitions."""
    restricted = client.create(due_at=ts(due), description="restricted to DE")
    shared = client.create(
        due_at=ts(due),
        assignee_jurisdiction="DE",
        shared_with=["IE"],
        links=[common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_TASK, id=restricted.id)],
    )
    open_ = client.create(due_at=ts(due), visibility=common_pb2.VISIBILITY_WORKSPACE, assignee_jurisdiction="IE")
    proposed = client.create(due_at=ts(due), proposal_only=True, visibility=common_pb2.VISIBILITY_WORKSPACE)
    accepted = client.create(due_at=ts(due), visibility=common_pb2.VISIBILITY_WORKSPACE)
    client.call("de-liaison", "AcceptTask", pb.AcceptTaskRequest(id=accepted.id))
    blocked = client.create(due_at=ts(due))
    client.call("de-liaison", "AcceptTask", pb.AcceptTaskRequest(id=blocked.id))
    client.call("de-liaison", "StartTask", pb.StartTaskRequest(id=blocked.id))
    client.call(
        "de-liaison",
        "BlockTask",
        pb.BlockTaskRequest(
            id=blocked.id,
            reason="waits for the platform «ü»",
            blocked_by=[common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_TASK, id=open_.id)],
        ),
    )
    done = client.create(due_at=ts(due), visibility=common_pb2.VISIBILITY_WORKSPACE)
    for method, request in (
        ("AcceptTask", pb.AcceptTaskRequest(id=done.id)),
        ("StartTask", pb.StartTaskRequest(id=done.id)),
        ("CompleteTask", pb.CompleteTaskRequest(id=done.id, outcome="Holder identified")),
    ):
        client.call("de-liaison", method, request)
    cancelled = client.create(due_at=ts(due))
    client.call("nl-prosecutor", "CancelTask", pb.CancelTaskRequest(id=cancelled.id, reason="duplicate"))
    return [restricted, shared, open_, proposed, accepted, blocked, done, cancelled]


def test_a_listed_task_is_the_task_its_get_gives_each_caller(client: Client, tasks_svc: Any) -> None:
    due = own_due()
    tasks = made(client, due)
    expected = {t.id for t in tasks}
    check_lists_as_gets(client, due, expected)
    # Past their due date, the open ones are overdue in the list as in a read; the done and cancelled not.
    tasks_svc.app.clock.advance(timedelta(days=800))
    try:
        overdue = {t.id for t in listed(client, "nl-prosecutor", due) if t.overdue}
        assert overdue == expected - {tasks[6].id, tasks[7].id}
        check_lists_as_gets(client, due, expected)
    finally:
        tasks_svc.app.clock.advance(timedelta(days=-800))


def test_a_task_whose_stored_answer_does_not_open_is_listed_from_its_row(client: Client, tasks_svc: Any) -> None:
    due = own_due()
    tasks = made(client, due)
    none, altered, moved, kept = tasks[:4]
    column = TaskRow.__table__.c

    def spoil(s: Any) -> None:
        s.execute(update(TaskRow.__table__).where(column.id == none.id).values(answer=None))
        s.execute(update(TaskRow.__table__).where(column.id == altered.id).values(answer=b"\x00" * 40))
        # A version moved without its answer written again (a write not through the record table).
        s.execute(update(TaskRow.__table__).where(column.id == moved.id).values(version=column.version + 1))

    tasks_svc.loop.run(tasks_svc.rt.db.write(spoil))
    check_lists_as_gets(client, due, {t.id for t in tasks})
    listed_now = {t.id: t for t in listed(client, "nl-prosecutor", due)}
    assert listed_now[moved.id].version == moved.version + 1
    assert listed_now[kept.id] == client.call("nl-prosecutor", "GetTask", pb.GetTaskRequest(id=kept.id)).task


def test_every_write_keeps_the_task_s_answer_that_opens(client: Client, tasks_svc: Any) -> None:
    """After creates and transitions, every task of the test has an answer that opens: none falls back."""
    from services.tasks import store

    due = own_due()
    tasks = made(client, due)
    ids = [t.id for t in tasks]

    def opened(s: Any) -> list[bytes | None]:
        rows = [
            s.execute(
                TaskRow.__table__.select()
                .with_only_columns(*(TaskRow.__table__.c[c] for c in ("id", "version", "workspace_id", "answer")))
                .where(TaskRow.__table__.c.id == i)
            ).one()
            for i in ids
        ]
        return store.ANSWERS.opened(s, rows, id=0, version=1, workspace=2, answer=3)

    answers = tasks_svc.loop.run(tasks_svc.rt.read(opened))
    assert all(a is not None for a in answers)
    for task, answer in zip(tasks, answers, strict=True):
        stored = pb.Task.FromString(answer)
        got = client.call("nl-prosecutor", "GetTask", pb.GetTaskRequest(id=task.id)).task
        got.ClearField("allowed_actions")
        got.ClearField("overdue")
        assert stored == got


def test_the_service_writes_in_the_background_the_answers_its_rows_lack(client: Client, tasks_svc: Any) -> None:
    """Rows without an answer (as after the migration that added the column) are listed from their rows at
    once, and the service's background job writes their answers while it serves."""
    import time

    from sqlalchemy import func, select

    due = own_due()
    tasks = made(client, due)
    table = TaskRow.__table__

    def missing(s: Any) -> int:
        return int(s.scalar(select(func.count()).select_from(table).where(table.c.answer.is_(None))) or 0)

    tasks_svc.loop.run(tasks_svc.rt.db.write(lambda s: s.execute(update(table).values(answer=None))))
    assert tasks_svc.loop.run(tasks_svc.rt.read(missing)) >= len(tasks)
    check_lists_as_gets(client, due, {t.id for t in tasks})
    fill = tasks_svc.app.spec.extra["answers_fill"]
    fill.wake()
    deadline = time.monotonic() + 20
    while tasks_svc.loop.run(tasks_svc.rt.read(missing)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tasks_svc.loop.run(tasks_svc.rt.read(missing)) == 0
    check_lists_as_gets(client, due, {t.id for t in tasks})
