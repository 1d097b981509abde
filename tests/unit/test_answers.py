"""Records kept in the form their List answers them (``jitlib.answers``) and the bytes a page writes around
them (``jitlib.wire.ListWire``): compared with what protobuf itself makes and parses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2
from jit.tasks.v1 import tasks_pb2 as pb
from jitlib import answers, db, sealing
from jitlib.actors import Actor
from jitlib.ids import new_id
from jitlib.wire import ListWire, field_key
from services.tasks import domain, store
from services.tasks.mapping import new_task_from_pb, task_answer, task_to_pb

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
WIRE = ListWire(pb.Task, pb.ListTasksResponse, "tasks")


def task(workspace: str = "jit-a", i: int = 0) -> domain.Task:
    req = pb.CreateTaskRequest(
        request_id=str(uuid.uuid4()),
        workspace_id=workspace,
        title=f"Identify the holder of account {i} «ü»" + "x" * (i * 40),
        description="Subscriber data",
        kind=pb.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
        assignee_jurisdiction="DE",
        visibility=common_pb2.VISIBILITY_RESTRICTED if i % 2 else common_pb2.VISIBILITY_WORKSPACE,
        shared_with=["IE"] if i % 2 else [],
    )
    req.due_at.FromDatetime(NOW - timedelta(days=1))
    return domain.create(new_task_from_pb(req), task_id=new_id(), actor=Actor("u-nl", "nl", "NL"), now=NOW)


@pytest.mark.parametrize("i", [0, 1, 5])
def test_an_answer_with_what_a_page_adds_is_the_message_the_mapping_makes(i: int) -> None:
    t = task(i=i)
    actions = ("accept", "decline", "hand_back")
    body = task_answer(t).SerializeToString() + WIRE.true("overdue") + WIRE.strings("allowed_actions")(actions)
    assert pb.Task.FromString(body) == task_to_pb(t, NOW, actions)
    assert pb.Task.FromString(body).overdue


def test_a_response_holds_its_elements_in_order_and_its_token_only_when_there_is_one() -> None:
    tasks = [task(i=i) for i in range(4)]
    elements = [WIRE.element(task_answer(t).SerializeToString()) for t in tasks]
    expected = pb.ListTasksResponse(tasks=[task_answer(t) for t in tasks], next_page_token="tok-1")
    assert pb.ListTasksResponse.FromString(WIRE.response(elements, "tok-1")) == expected
    assert WIRE.response(elements, "tok-1") == expected.SerializeToString()
    expected.next_page_token = ""
    assert WIRE.response(elements, "") == expected.SerializeToString()
    assert WIRE.response([], "") == b""


def test_only_fields_a_page_writes_have_a_key_here() -> None:
    assert field_key(pb.Task.DESCRIPTOR, "allowed_actions") == b"\xc2\x01"  # field 24, length-delimited
    assert field_key(pb.Task.DESCRIPTOR, "overdue") == b"\xa0\x01"  # field 20, varint
    with pytest.raises(ValueError, match="version"):
        field_key(pb.Task.DESCRIPTOR, "version")  # an int64: not written by a page


def test_a_form_changes_with_its_number_and_with_its_message() -> None:
    one = answers.form_digest(pb.Task.DESCRIPTOR, 1)
    assert one == answers.form_digest(pb.Task.DESCRIPTOR, 1)
    assert one != answers.form_digest(pb.Task.DESCRIPTOR, 2)
    assert one != answers.form_digest(evidence_pb2.EvidenceRequest.DESCRIPTOR, 1)


def opened(session: Any) -> dict[str, bytes | None]:
    t = store.TaskRow.__table__
    rows = session.execute(select(t.c.id, t.c.version, t.c.workspace_id, t.c.answer).order_by(t.c.id)).all()
    found = store.ANSWERS.opened(session, rows, id=0, version=1, workspace=2, answer=3)
    return {r.id: a for r, a in zip(rows, found, strict=True)}


def test_each_write_keeps_an_answer_that_opens_at_the_record_s_version(tasks_database: db.Database) -> None:
    made = [task(i=i) for i in range(3)]
    tasks_database.write_sync(lambda s: store.TASKS.insert_many(s, made))
    changed = domain.apply(
        made[0], "accept", domain.TransitionInput(), actor=Actor("u-de", "de", "DE"), now=NOW, members=frozenset()
    )
    assert tasks_database.write_sync(lambda s: store.TASKS.update_if_version(s, changed, made[0].version))
    found = tasks_database.write_sync(opened)
    assert found[changed.id] == task_answer(changed).SerializeToString()
    assert pb.Task.FromString(found[changed.id] or b"").state == pb.TASK_STATE_ACCEPTED
    assert [found[t.id] for t in made[1:]] == [task_answer(t).SerializeToString() for t in made[1:]]


def test_the_start_writes_the_answers_missing_and_marks_those_of_a_shredded_workspace(
    tasks_database: db.Database,
) -> None:
    kept, shredded = [task("jit-a", i) for i in range(3)], [task("jit-b", i) for i in range(2)]
    tasks_database.write_sync(lambda s: store.TASKS.insert_many(s, kept + shredded))
    t = store.TaskRow.__table__
    tasks_database.write_sync(lambda s: s.execute(update(t).values(answer=None)))
    tasks_database.write_sync(lambda s: sealing.content_keys(s).shred(s, "jit-b"))
    assert set(tasks_database.write_sync(opened).values()) == {None}

    assert tasks_database.write_sync(lambda s: store.ANSWERS.backfill(s, batch=2)) == 2
    assert tasks_database.write_sync(lambda s: store.ANSWERS.backfill(s, batch=10)) == 3
    assert tasks_database.write_sync(lambda s: store.ANSWERS.backfill(s, batch=10)) == 0  # none left, none tried again
    found = tasks_database.write_sync(opened)
    assert [found[x.id] for x in kept] == [task_answer(x).SerializeToString() for x in kept]
    assert [found[x.id] for x in shredded] == [None, None]
    stored = dict(tasks_database.write_sync(lambda s: s.execute(select(t.c.id, t.c.answer)).all()))
    assert [stored[x.id] for x in shredded] == [answers.NONE, answers.NONE]


def test_the_background_job_leaves_a_row_changed_since_it_read_it(tasks_database: db.Database) -> None:
    """A task changed between the job's read and its write (its version moved, its write wrote its answer)
    keeps the answer of its change."""
    made = task(i=3)
    tasks_database.write_sync(lambda s: store.TASKS.insert_many(s, [made]))
    t = store.TaskRow.__table__
    tasks_database.write_sync(lambda s: s.execute(update(t).values(answer=None)))
    changed = domain.apply(
        made, "accept", domain.TransitionInput(), actor=Actor("u-de", "de", "DE"), now=NOW, members=frozenset()
    )

    def race(s: Any) -> int:
        # The job read the row at its first version; the change commits before the job writes.
        loaded = store.ANSWERS._load
        store.ANSWERS._load = lambda session, rows: (  # type: ignore[method-assign]
            store.TASKS.update_if_version(session, changed, made.version) and [made]
        )
        try:
            return store.ANSWERS.backfill(s)
        finally:
            store.ANSWERS._load = loaded  # type: ignore[method-assign]

    assert tasks_database.write_sync(race) == 1
    assert tasks_database.write_sync(opened)[made.id] == task_answer(changed).SerializeToString()


def test_each_answer_form_is_the_one_its_migration_wrote_the_column_for() -> None:
    """A stored answer opens only in the form it was written in (``jitlib.answers``): a change to a message's
    proto files, or to its service's mapping number, leaves every row written before answered from its
    columns until it is written again. So a change of form comes with a migration that empties the column
    (the background job then writes every answer again), and this test is updated with it: it fails first,
    naming the table."""
    from services.evidence import store as evidence
    from services.preservation import store as preservation

    expected = {
        "tasks": "fbdba2644577e06e",  # 0023 emptied the column (ListTasksRequest.assignee_taken_out)
        "evidence_requests": "97a20d1b3539ce12",  # 0040 emptied the column (EvidenceRequest.*_taken_out)
        "preservation_orders": "b55225d0e5c2520a",  # 0026 emptied the column (the enforcement of an EPOC-PR)
    }
    found = {a.table.name: a.form for a in (store.ANSWERS, evidence.ANSWERS, preservation.ANSWERS)}
    changed = sorted(name for name in expected if found[name] != expected[name])
    assert not changed, (
        f"the answer form of {', '.join(changed)} changed ({found}): add a migration that sets the answer "
        "column to NULL (the service writes the answers again in the background), then update this test"
    )
