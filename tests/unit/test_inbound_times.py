"""What a peer's node sends this one is taken in only with times protobuf and Python can read: an event
whose envelope (``occurred_at``) or carried state holds a Timestamp out of range (after the year 9999,
nanos out of 0..999999999) is set aside at once as a poison message (a dead letter naming the field),
by every inbound consumer (``jitlib.bus.check_inbound``), and nothing of it is applied. On a real
SQLite database of the tasks service, with its own consumers' handlers; no NATS (the consumers are
handed the messages)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import partial

import pytest
from sqlalchemy import select

from jit.events.v1.envelope_pb2 import Envelope
from jit.tasks.v1 import tasks_pb2
from jit.victims.v1 import victims_pb2
from jitlib import db, envelopes, replicas, victimdir
from jitlib.actors import Actor
from jitlib.bus import EventConsumer, Handler
from jitlib.clock import ManualClock
from services.tasks import app, domain, events, store
from services.tasks.domain import NewTask
from services.tasks.mapping import task_to_pb
from tests.harness import DeliveredMsg

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NL = Actor("u-nl", "nl-prosecutor", "NL")
MEMBERS = frozenset({"NL", "DE"})
#: The first second after 9999-12-31T23:59:59Z.
YEAR_10000 = 253_402_300_800


@pytest.fixture
def database(tasks_database: db.Database) -> db.Database:
    """DE's tasks database, migrated."""
    return tasks_database


def _task_event() -> tuple[Envelope, tasks_pb2.Task]:
    """NL's node: a task NL assigned to DE, as its event reaches DE's node."""
    cmd = NewTask(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id="jit-demo",
        title="Hear the witness in Hamburg",
        description="",
        kind="HEAR_WITNESS",
        assignee_jurisdiction="DE",
        priority="NORMAL",
        due_at=None,
        restricted=True,
    )
    task = domain.create(cmd, task_id="01935c4e-0000-7000-8000-000000000001", actor=NL, now=T0)
    state = task_to_pb(task, T0)
    return events.envelope(task, state, "created", MEMBERS, T0), state


def _with_state(envelope: Envelope, state: tasks_pb2.Task) -> Envelope:
    envelope.state.Pack(state)
    return envelope


def _deliver(database: db.Database, handler: Handler, envelope: Envelope, subject: str) -> str:
    """How DE's inbound consumer answers the event's first delivery (ack, term or nak)."""
    msg = DeliveredMsg(envelope, subject)

    async def run() -> None:
        consumer = EventConsumer(
            None,  # type: ignore[arg-type]
            database,
            store.RUNTIME,
            durable="tasks-in",
            stream=None,  # type: ignore[arg-type]
            filter_subject="jit.in.*.tasks.>",
            handler=handler,
            inbound_for="DE",
        )
        await consumer.process(msg)  # type: ignore[arg-type]

    asyncio.run(run())
    return msg.outcome


def _replica_handler(session: object, envelope: Envelope) -> None:
    replicas.apply(app.REPLICAS, ManualClock(T0), session, envelope, "DE")  # type: ignore[arg-type]


def _dead_letters(database: db.Database) -> list[str]:
    table = store.RUNTIME.dead_letters
    return database.write_sync(lambda s: list(s.scalars(select(table.c.error))))


def _held(database: db.Database, task_id: str) -> bool:
    return database.write_sync(lambda s: store.get(s, task_id)) is not None


def test_a_peers_event_with_readable_times_is_applied(database: db.Database) -> None:
    envelope, _ = _task_event()
    assert _deliver(database, _replica_handler, envelope, "jit.in.nl.tasks.NL.created") == "ack"
    assert _held(database, envelope.aggregate_id) and _dead_letters(database) == []


def test_a_task_whose_state_was_made_after_the_year_9999_is_set_aside_naming_the_field(database: db.Database) -> None:
    envelope, state = _task_event()
    state.created_at.seconds = YEAR_10000
    outcome = _deliver(database, _replica_handler, _with_state(envelope, state), "jit.in.nl.tasks.NL.created")
    assert outcome == "term"
    assert not _held(database, envelope.aggregate_id)
    [error] = _dead_letters(database)
    assert error.startswith("state.created_at ") and str(YEAR_10000) not in error


def test_a_time_nested_in_the_state_is_checked_too(database: db.Database) -> None:
    envelope, state = _task_event()
    state.replica.owner_node = "NL"
    state.replica.updated_at.nanos = -1
    outcome = _deliver(database, _replica_handler, _with_state(envelope, state), "jit.in.nl.tasks.NL.created")
    assert outcome == "term"
    assert not _held(database, envelope.aggregate_id)
    assert [e.split(" ")[0] for e in _dead_letters(database)] == ["state.replica.updated_at"]


def test_an_envelope_that_occurred_out_of_range_is_set_aside_and_nothing_applied(database: db.Database) -> None:
    """The state is sound, the envelope's own time is not: nothing of the event is taken in."""
    envelope, _ = _task_event()
    envelope.occurred_at.nanos = 1_000_000_000
    assert _deliver(database, _replica_handler, envelope, "jit.in.nl.tasks.NL.created") == "term"
    assert not _held(database, envelope.aggregate_id)
    assert [e.split(" ")[0] for e in _dead_letters(database)] == ["occurred_at"]


def test_a_victim_registered_after_the_year_9999_is_set_aside_at_once_not_retried(database: db.Database) -> None:
    """The victims directory's inbound consumer read the time itself: a ValueError, not a poison message,
    so the event was redelivered (nak) up to eight times before being set aside; it is set aside at once."""
    victim = victims_pb2.Victim(
        id="01935c4e-0000-7000-8000-000000000009",
        workspace_id="jit-demo",
        origin_jurisdiction="NL",
        pseudonym="V-NL-0001",
        version=1,
    )
    victim.created_at.seconds = YEAR_10000
    envelope = Envelope(
        id="01935c4e-0000-7000-8000-0000000000aa",
        type="jit.victims.v1.VictimRegistered",
        workspace_id="jit-demo",
        origin_jurisdiction="NL",
        audience=["DE", "NL"],
        aggregate_type=victimdir.AGGREGATE_TYPE,
        aggregate_id=victim.id,
        aggregate_version=1,
    )
    envelope.occurred_at.FromDatetime(T0)
    envelope.state.Pack(victim)
    handler = partial(victimdir.record, store.VICTIMS)
    assert _deliver(database, handler, envelope, "jit.in.nl.victims.NL.registered") == "term"
    assert [e.split(" ")[0] for e in _dead_letters(database)] == ["state.created_at"]
    known = database.write_sync(lambda s: list(s.scalars(select(store.VICTIMS.c.pseudonym))))
    assert known == []


def test_a_withdrawal_is_checked_as_any_event(database: db.Database) -> None:
    envelope, _ = _task_event()
    withdrawal = envelopes.withdrawal(envelope, "DE")
    withdrawal.occurred_at.seconds = YEAR_10000
    assert _deliver(database, _replica_handler, withdrawal, "jit.in.nl.tasks.NL.assigned") == "term"
    assert [e.split(" ")[0] for e in _dead_letters(database)] == ["occurred_at"]


def _dead_letter_rows(database: db.Database) -> list[tuple[str | None, str | None]]:
    table = store.RUNTIME.dead_letters
    return database.write_sync(lambda s: [tuple(r) for r in s.execute(select(table.c.event_id, table.c.workspace_id))])


def test_an_event_id_or_workspace_beyond_what_the_columns_hold_is_set_aside_within_them(database: db.Database) -> None:
    """A peer's event whose id or workspace has 5,000 characters was taken as any other: its inbox row, its
    replica and, once set aside, its dead letter held them whole, beyond the 64 characters their columns
    hold (PostgreSQL refuses such a row: the event was redelivered, never set aside). It is set aside at
    once, its dead letter naming neither."""
    envelope, _ = _task_event()
    envelope.id = "e" * 5000
    assert _deliver(database, _replica_handler, envelope, "jit.in.nl.tasks.NL.created") == "term"
    assert not _held(database, envelope.aggregate_id)
    assert _dead_letter_rows(database) == [(None, "jit-demo")]

    envelope, state = _task_event()
    envelope.workspace_id = "w" * 5000  # and the state's: the envelope must describe it
    state.workspace_id = envelope.workspace_id
    assert _deliver(database, _replica_handler, _with_state(envelope, state), "jit.in.nl.tasks.NL.created") == "term"
    rows = _dead_letter_rows(database)
    assert rows[1] == (None, "") and not _held(database, envelope.aggregate_id)
    assert _dead_letters(database)[1] == "workspace_id is not a workspace id"
