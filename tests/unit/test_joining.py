"""When a country joins a workspace, what this node owns in it and that country may see is sent to its
node (``jitlib.joining``): on NL's real tasks database (migrated SQLite), with the tasks service's own
resend kind; no NATS (the events are read from what the job staged in the outbox)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jitlib import db, joining, workspaces
from jitlib.actors import Actor
from jitlib.clock import ManualClock, as_utc
from jitlib.federation import Federation
from jitlib.outbox import Staged
from services.tasks import app, domain, store
from services.tasks.domain import NewTask, Task

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NL = Actor("u-nl", "nl-prosecutor", "NL")
WS = "case-harassment"


@pytest.fixture
def database(tasks_database: db.Database) -> db.Database:
    """NL's tasks database, migrated."""
    return tasks_database


def _task(n: int, *, workspace: str = WS, restricted: bool = False, origin: str = "NL") -> Task:
    cmd = NewTask(
        request_id=f"0f1e2d3c-4b5a-4968-8776-{n:012d}",
        workspace_id=workspace,
        title=f"Task {n}",
        description="",
        kind="OTHER",
        assignee_jurisdiction="DE",
        priority="NORMAL",
        due_at=None,
        restricted=restricted,
    )
    task = domain.create(cmd, task_id=f"01935c4e-0000-7000-8000-{n:012d}", actor=NL, now=T0 - timedelta(days=1))
    return replace(task, origin_jurisdiction=origin) if origin != "NL" else task


def _workspace(database: db.Database, ws_id: str, members: frozenset[str]) -> None:
    """The workspace as NL's tasks database holds it (its directory's table), with ``members`` now."""
    t = store.RUNTIME.workspaces
    values = {"members": ",".join(sorted(members)), "version": len(members), "updated_at": T0}

    def write(s: Any) -> None:
        if s.execute(select(t.c.id).where(t.c.id == ws_id)).first() is None:
            fields = {"name": "Harassment case", "lead": "NL", "legal_basis": "", "starts_on": "", "ends_on": ""}
            s.execute(t.insert().values(id=ws_id, status="open", **fields, **values))
        else:
            s.execute(t.update().where(t.c.id == ws_id).values(**values))

    asyncio.run(database.write(write))


class Node:
    """NL's tasks service's job, its clock, and what it handed the relay; the workspace with ``members``
    (None: a workspace this database does not hold)."""

    def __init__(self, database: db.Database, members: frozenset[str] | None, batch: int = 2) -> None:
        self.clock = ManualClock(T0)
        self.handed: list[Staged] = []
        if members is not None:
            _workspace(database, WS, members)
        self.joins = joining.Joins(
            database,
            store.RUNTIME,
            self.clock,
            "NL",
            frozenset({"DE", "IE"}),
            app._resends(None),  # type: ignore[arg-type]
            committed=self.handed.extend,
            batch=batch,
        )
        self.db = database

    def note(self, countries: list[str]) -> None:
        asyncio.run(self.db.write(lambda s: self.joins.note(s, WS, countries)))

    def run(self) -> list[Envelope]:
        before = len(self.handed)
        asyncio.run(self.joins.run_pass())
        return [Envelope.FromString(s.payload or b"") for s in self.handed[before:]]

    def joins_left(self) -> int:
        t = store.RUNTIME.workspace_joins
        return len(asyncio.run(self.db.read(lambda s: s.execute(select(t.c.id)).all())))


@pytest.fixture
def nl_tasks(database: db.Database) -> list[Task]:
    """Five open tasks of NL in the workspace, and what must not be sent: a restricted NL-DE task, a task
    of another workspace, DE's task held here as a replica."""
    mine = [_task(n) for n in range(1, 6)]
    others = [_task(6, restricted=True), _task(7, workspace="case-other"), _task(8, origin="DE")]
    asyncio.run(database.write(lambda s: store.TASKS.insert_many(s, [*mine, *others])))
    return mine


def test_every_open_task_nl_owns_in_the_workspace_goes_to_ies_node_once_in_batches(
    database: db.Database, nl_tasks: list[Task]
) -> None:
    node = Node(database, frozenset({"NL", "DE", "IE"}))
    node.note(["IE"])
    sent = node.run()
    assert sorted(e.aggregate_id for e in sent) == sorted(t.id for t in nl_tasks)
    for event in sent:
        assert list(event.resent_to) == ["IE"]
        assert set(event.audience) == {"NL", "DE", "IE"}
        assert event.type == "jit.tasks.v1.TaskShared"
        assert event.aggregate_version == 1 and event.workspace_id == WS
    # The first pass is through (its audit entry recorded); the second waits its minute.
    assert node.joins_left() == 1
    entries = asyncio.run(
        database.read(lambda s: s.execute(select(store.RUNTIME.audit_pending.c.operation)).scalars().all())
    )
    assert entries == [joining.OPERATION]
    assert node.run() == []


def test_the_second_pass_sends_again_only_what_changed_since_a_minute_before_the_first(
    database: db.Database, nl_tasks: list[Task]
) -> None:
    node = Node(database, frozenset({"NL", "DE", "IE"}))
    node.note(["IE"])
    node.run()
    node.clock.advance(joining.SECOND_PASS)
    # Committed after the first pass read the tasks, by a change that read the former members.
    changed = replace(nl_tasks[2], title="Changed", version=2, updated_at=node.clock.now())
    asyncio.run(database.write(lambda s: store.TASKS.update_if_version(s, changed, 1)))
    again = node.run()
    assert [(e.aggregate_id, e.aggregate_version) for e in again] == [(changed.id, 2)]
    assert node.joins_left() == 0


def test_a_batch_committed_before_a_crash_is_not_sent_again(database: db.Database, nl_tasks: list[Task]) -> None:
    node = Node(database, frozenset({"NL", "DE", "IE"}))
    node.note(["IE"])
    first = asyncio.run(database.write(node.joins._step))
    assert first is not None and first[0] == 2
    # A new process (the job's memory lost): the cursor in the database goes on from the third task.
    rest = Node(database, frozenset({"NL", "DE", "IE"})).run()
    assert len(rest) == 3
    assert {e.aggregate_id for e in rest}.isdisjoint({s.id for s in first[1]} | {t.id for t in nl_tasks[:2]})


def test_a_restricted_task_goes_to_a_joining_country_only_when_it_is_a_party(database: db.Database) -> None:
    shared = replace(_task(9, restricted=True), shared_with=("IE",))
    asyncio.run(database.write(lambda s: store.TASKS.insert_many(s, [shared, _task(10, restricted=True)])))
    node = Node(database, frozenset({"NL", "DE", "IE", "FR"}))
    node.note(["IE", "FR"])  # FR is no peer of this node: nothing is noted for it
    sent = node.run()
    assert [(e.aggregate_id, list(e.resent_to)) for e in sent] == [(shared.id, ["IE"])]


def test_the_members_are_read_from_the_database_when_the_batch_is_made(
    database: db.Database, nl_tasks: list[Task]
) -> None:
    """The job reads the workspace's members in the batch's transaction, not from a process's memory (the
    process that runs it may not have applied the announcement another process noted the join with): IE,
    taken out of the workspace again before the pass, is sent nothing."""
    node = Node(database, frozenset({"NL", "DE", "IE"}))
    node.note(["IE"])
    _workspace(database, WS, frozenset({"NL", "DE"}))
    assert node.run() == []
    assert node.joins_left() == 1  # the second pass, which will send nothing either


def test_a_workspace_this_node_no_longer_knows_is_dropped_without_sending(
    database: db.Database, nl_tasks: list[Task]
) -> None:
    node = Node(database, None)
    node.note(["IE"])
    node.clock.advance(joining.SECOND_PASS)
    assert node.run() == []
    assert node.joins_left() == 0


def _announcement(version: int, members: list[str]) -> Envelope:
    ws = common_pb2.Workspace(
        id=WS, name="Harassment case", lead="NL", members=members, version=version, legal_basis="JIT NL-DE"
    )
    return workspaces.envelope_for(ws, common_pb2.Actor(user_id="admin"), T0)


def test_the_directory_notes_the_countries_an_announcement_adds_and_only_once(database: db.Database) -> None:
    """Not at the workspace's first announcement (nothing is owned in it yet), at the one that adds IE,
    not again when that one is replayed (every start replays the directory's stream)."""
    fed = Federation.parse("NL", "DE,IE")
    directory = workspaces.DirectorySync(None, database, store.RUNTIME, fed)  # type: ignore[arg-type]
    node = Node(database, None)  # the directory writes the workspace
    directory.joins = node.joins

    def apply(envelope: Envelope) -> bool:
        return asyncio.run(database.write(lambda s: directory._apply(s, envelope, None)))

    assert apply(_announcement(1, ["NL", "DE"])) is False
    assert apply(_announcement(2, ["NL", "DE", "IE"])) is True
    assert apply(_announcement(2, ["NL", "DE", "IE"])) is False
    assert node.joins_left() == 2  # the first pass and the second
    countries = asyncio.run(
        database.read(lambda s: s.execute(select(store.RUNTIME.workspace_joins.c.countries)).scalars().all())
    )
    assert countries == ["IE", "IE"]


def test_a_join_whose_batch_fails_is_put_off_and_the_others_go_on(database: db.Database, nl_tasks: list[Task]) -> None:
    """A record its kind cannot make an event of (here, any of the other workspace's) fails its join's batch:
    that join waits ``RETRY_AFTER`` and is tried again then; another workspace's join is sent meanwhile."""
    asyncio.run(database.write(lambda s: store.TASKS.insert_many(s, [_task(20, workspace="case-broken")])))
    (tasks,) = app._resends(None)  # type: ignore[arg-type]

    def event(s: Any, task: Task, members: frozenset[str], now: datetime) -> tuple[str, Envelope]:
        if task.workspace_id == "case-broken":
            raise LookupError("cannot make its event")
        return tasks.event(s, task, members, now)

    node = Node(database, frozenset({"NL", "DE", "IE"}))
    _workspace(database, "case-broken", frozenset({"NL", "DE", "IE"}))
    node.joins._kinds = [replace(tasks, event=event)]
    asyncio.run(database.write(lambda s: joining.note(s, store.RUNTIME, "case-broken", ["IE"], T0 - timedelta(1))))
    node.note(["IE"])
    sent = node.run()
    assert sorted(e.aggregate_id for e in sent) == sorted(t.id for t in nl_tasks)
    t = store.RUNTIME.workspace_joins
    due = asyncio.run(database.read(lambda s: s.execute(select(t.c.workspace_id, t.c.due_at)).all()))
    broken = sorted(as_utc(d) for w, d in due if w == "case-broken")
    assert broken == [T0 + joining.RETRY_AFTER] * 2  # its two passes, both due
    node.clock.advance(joining.RETRY_AFTER)
    assert node.run() == []  # still failing, put off again; never sent half
    assert len(node.handed) == len(nl_tasks)


def test_a_process_behind_the_database_notes_only_the_countries_its_announcement_adds(database: db.Database) -> None:
    """Two processes of the service: one applied the announcement that added IE (and noted it); the other,
    whose memory still holds the workspace before IE, applies the next one, which adds FR: FR alone is
    noted, not IE a second time."""
    fed = Federation.parse("NL", "DE,IE,FR")
    node = Node(database, None)
    node.joins._peers = frozenset({"DE", "IE", "FR"})
    ahead, behind = (workspaces.DirectorySync(None, database, store.RUNTIME, fed) for _ in range(2))  # type: ignore[arg-type]
    ahead.joins = behind.joins = node.joins

    def apply(directory: workspaces.DirectorySync, envelope: Envelope) -> bool:
        return asyncio.run(database.write(lambda s: directory._apply(s, envelope, None)))

    assert apply(behind, _announcement(1, ["NL", "DE"])) is False
    assert apply(ahead, _announcement(1, ["NL", "DE"])) is False
    assert apply(ahead, _announcement(2, ["NL", "DE", "IE"])) is True
    assert apply(behind, _announcement(3, ["NL", "DE", "IE", "FR"])) is True
    t = store.RUNTIME.workspace_joins
    noted = asyncio.run(database.read(lambda s: s.execute(select(t.c.countries)).scalars().all()))
    assert sorted(noted) == ["FR", "FR", "IE", "IE"]


# -- a peer linked later -------------------------------------------------------------------------------


def _start(database: db.Database, peers: str, at: datetime = T0) -> dict[str, list[str]]:
    """What a start of the service linked to ``peers`` notes (``jitlib.server``, copy 0)."""
    linked = frozenset(p for p in peers.split(",") if p)
    return asyncio.run(
        database.write(lambda s: joining.link_peers(s, store.RUNTIME, linked, at))  # type: ignore[arg-type]
    )


def _links(database: db.Database) -> list[str]:
    t = store.RUNTIME.federation_links
    return sorted(asyncio.run(database.read(lambda s: s.execute(select(t.c.country)).scalars().all())))


def test_the_first_start_records_the_peers_linked_then_and_sends_them_nothing(
    database: db.Database, nl_tasks: list[Task]
) -> None:
    """The migration leaves ``NOT_RECORDED``: the peers of the first start under it were linked before."""
    _workspace(database, WS, frozenset({"NL", "DE", "IE"}))
    assert _links(database) == [joining.NOT_RECORDED]
    assert _start(database, "DE,IE") == {}
    assert _links(database) == ["DE", "IE"]
    assert Node(database, None).joins_left() == 0
    assert _start(database, "DE,IE") == {}  # a restart with the same peers: nothing


def test_a_peer_linked_since_the_last_start_is_sent_what_nl_owns_in_its_countrys_workspaces(
    database: db.Database, nl_tasks: list[Task]
) -> None:
    """IE a member of the workspace while NL's node was linked to DE alone: NL's tasks there never went to
    IE's node. Linked at the next start, IE is noted as joining every workspace it is a member of (not
    one it is not), and the job sends it NL's open tasks there, not the restricted NL-DE one."""
    _workspace(database, WS, frozenset({"NL", "DE", "IE"}))
    _workspace(database, "case-other", frozenset({"NL", "DE"}))
    _start(database, "DE")
    assert _start(database, "DE,IE", T0 + timedelta(days=1)) == {WS: ["IE"]}
    assert _links(database) == ["DE", "IE"]
    node = Node(database, None)
    node.clock.advance(timedelta(days=1))
    sent = node.run()
    assert sorted(e.aggregate_id for e in sent) == sorted(t.id for t in nl_tasks)
    assert {tuple(e.resent_to) for e in sent} == {("IE",)}
    assert _start(database, "DE,IE") == {}  # sent once: the next start notes nothing


def test_a_peer_whose_link_was_taken_out_is_sent_everything_again_when_linked_again(
    database: db.Database, nl_tasks: list[Task]
) -> None:
    _workspace(database, WS, frozenset({"NL", "DE", "IE"}))
    _start(database, "DE,IE")
    assert _start(database, "DE") == {}
    assert _links(database) == ["DE"]
    assert _start(database, "IE,DE") == {WS: ["IE"]}
    assert _start(database, "") == {}  # no peer at all (the node taken out of the federation)
    assert _links(database) == []
    assert _start(database, "DE,IE") == {WS: ["DE", "IE"]}
