"""A node upgraded after its peers takes in what its older build set aside (``jitlib.replicas``, with
``EventConsumer.retry_dead_letters``): the replicas' consumers handle their dead letters again at start, each
at the version its event carries. On a real SQLite database of DE's tasks service, sealed as a service's;
no NATS (the consumers are handed the messages, as the broker would hand them)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import crypto, db, replicas, sealing
from jitlib.actors import Actor
from jitlib.bus import EventConsumer, PoisonMessage
from jitlib.clock import ManualClock
from jitlib.federation import Federation
from services.tasks import app, domain, events, store
from services.tasks.app import MIGRATIONS
from services.tasks.domain import NewTask, Task, TransitionInput
from services.tasks.mapping import task_to_pb
from tests.harness import DeliveredMsg

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NL = Actor("u-nl", "nl-prosecutor", "NL")
DE = Actor("u-de", "de-liaison", "DE")
MEMBERS = frozenset({"NL", "DE", "IE"})


class _Node:
    """What ``replicas.consumers`` asks of DE's runtime: real consumers on DE's database, no broker."""

    def __init__(self, database: db.Database) -> None:
        self.federation = Federation.parse("DE", "NL")
        self.clock = ManualClock(T0 + timedelta(days=1))
        self.database = database

    def consumer(
        self,
        name: str,
        stream: Any,
        subjects: str,
        handler: Any,
        *,
        inbound: bool = False,
        retries_dead_letters: bool = False,
    ) -> EventConsumer:
        return EventConsumer(
            None,  # type: ignore[arg-type]
            self.database,
            store.RUNTIME,
            durable=f"tasks-{name}",
            stream=stream,
            filter_subject=subjects,
            handler=handler,
            clock=self.clock,
            inbound_for="DE" if inbound else None,
            retries_dead_letters=retries_dead_letters,
        )


@pytest.fixture
def database(tmp_path: Path) -> Iterator[db.Database]:
    url = f"sqlite:///{tmp_path / 'tasks-de.db'}"
    db.migrate(MIGRATIONS, url)
    database = db.Database(url)
    sealing.install(database.info, store.Base.metadata, crypto.KekRing([crypto.Kek(crypto.new_data_key())]))
    yield database
    database.dispose()


def _history() -> list[tuple[Task, str, Envelope]]:
    """NL's task for DE at versions 1 (created), 2 (accepted) and 3 (started), each with its event."""
    cmd = NewTask(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id="jit-demo",
        title="Identify the holder of the account",
        description="",
        kind="IDENTIFY_ACCOUNT_HOLDER",
        assignee_jurisdiction="DE",
        priority="NORMAL",
        due_at=None,
        restricted=True,
    )
    task = domain.create(cmd, task_id="01935c4e-0000-7000-8000-000000000002", actor=NL, now=T0)
    out = [(task, "created", events.envelope(task, task_to_pb(task, T0), "created", MEMBERS, T0))]
    for i, (action, event) in enumerate((("accept", "accepted"), ("start", "started")), start=1):
        at = T0 + timedelta(hours=i)
        task = domain.apply(task, action, TransitionInput(), actor=DE, now=at, members=MEMBERS)
        out.append((task, event, events.envelope(task, task_to_pb(task, at), event, MEMBERS, at)))
    return out


def _arrival(task: Task, event: str, envelope: Envelope) -> DeliveredMsg:
    """The event as DE's node stores what NL's node sent it (``JIT_IN``: ``jit.in.nl.tasks.NL.<event>``)."""
    return DeliveredMsg(envelope, "jit.in.nl." + events.subject(task, event).removeprefix("jit."))


def _older_build(node: _Node, consumer: EventConsumer, unreadable: set[int]) -> EventConsumer:
    """The same consumer on DE's older build: it could not read the versions ``unreadable`` of what NL's newer
    build sent (set aside), and applied the others as the upgraded one does."""

    def handler(session: Any, envelope: Envelope) -> None:
        if envelope.aggregate_version in unreadable:
            raise PoisonMessage("a task state that cannot be read: ValueError")
        consumer._handler(session, envelope)

    return EventConsumer(
        None,  # type: ignore[arg-type]
        node.database,
        store.RUNTIME,
        durable=consumer.durable,
        stream=None,  # type: ignore[arg-type]
        filter_subject="",
        handler=handler,
        clock=node.clock,
        inbound_for="DE",
    )


def _letters(database: db.Database) -> int:
    table = store.RUNTIME.dead_letters
    return int(asyncio.run(database.read(lambda s: s.scalar(select(func.count()).select_from(table)))) or 0)


def test_what_an_older_build_could_not_read_is_applied_at_the_upgraded_start_at_its_version(
    database: db.Database,
) -> None:
    node = _Node(database)
    (consumer,) = replicas.consumers(node, app.REPLICAS)  # type: ignore[arg-type]
    assert consumer.retries_dead_letters
    history = _history()

    # Could not read what NL's newer build sent at versions 1 and 2; read version 3.
    old = _older_build(node, consumer, unreadable={1, 2})
    for task, name, event in history[:2]:
        msg = _arrival(task, name, event)
        asyncio.run(old.process(msg))  # type: ignore[arg-type]
        assert msg.outcome == "term"
    held = asyncio.run(database.read(lambda s: store.get(s, history[0][0].id)))
    assert held is None and _letters(database) == 2  # DE's users do not see the task at all

    # Upgraded: the letters are handled again before the stream is read; the task is held at version 2.
    done = asyncio.run(consumer.retry_dead_letters())
    assert (done.applied, done.handled, done.kept) == (2, 0, 0) and _letters(database) == 0
    held = asyncio.run(database.read(lambda s: store.get(s, history[0][0].id)))
    assert held is not None and held.version == 2 and held.state is domain.TaskState.ACCEPTED
    # Each once: a second start finds nothing, and the events read again from the stream change nothing.
    assert asyncio.run(consumer.retry_dead_letters()).applied == 0
    for task, name, event in history[:2]:
        msg = _arrival(task, name, event)
        asyncio.run(consumer.process(msg))  # type: ignore[arg-type]
        assert msg.outcome == "ack"


def test_a_letter_older_than_the_copy_held_changes_nothing(database: db.Database) -> None:
    """The older build read version 3 but not version 2: applied late, version 2 does not overwrite 3."""
    node = _Node(database)
    (consumer,) = replicas.consumers(node, app.REPLICAS)  # type: ignore[arg-type]
    history = _history()

    old = _older_build(node, consumer, unreadable={2})
    for task, name, event in history:
        asyncio.run(old.process(_arrival(task, name, event)))  # type: ignore[arg-type]
    assert _letters(database) == 1
    done = asyncio.run(consumer.retry_dead_letters())
    assert (done.applied, done.kept) == (1, 0) and _letters(database) == 0
    held = asyncio.run(database.read(lambda s: store.get(s, history[0][0].id)))
    assert held is not None and held.version == 3 and held.state is domain.TaskState.IN_PROGRESS
