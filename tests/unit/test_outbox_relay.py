"""The outbox relay publishes each event once, even when its commit lands while a scan reads the outbox.

A real SQLite database and the real relay; only the broker is a stand-in that records what it is given.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import MetaData
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2
from jit.tasks.v1 import tasks_pb2
from jitlib import envelopes
from jitlib.actors import Actor
from jitlib.bus import PoisonMessage, check_inbound
from jitlib.db import Database, RuntimeTables, runtime_tables
from jitlib.federation import Federation
from jitlib.outbox import OutboxRelay, Staged

T = TypeVar("T")
SUBJECT = "jit.tasks.NL.created"


class Broker:
    """Records each publish (subject, Nats-Msg-Id); the broker's own dedupe is what this must not need."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.changed = asyncio.Event()

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str], *, timeout: float = 2.0) -> Any:
        self.published.append(headers["Nats-Msg-Id"])
        self.changed.set()
        return None

    async def until(self, n: int) -> None:
        while len(self.published) < n:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 30)  # a guard against a hang, not a timing


class RacingDatabase(Database):
    """Runs ``before_next_read`` just before its next read: a commit landing while the scan reads."""

    before_next_read: Callable[[], Awaitable[None]] | None = None

    async def read(self, fn: Callable[[Session], T]) -> T:
        hook, self.before_next_read = self.before_next_read, None
        if hook is not None:
            await hook()
        return await super().read(fn)


def insert(db: Database, tables: RuntimeTables, event_id: str, payload: bytes = b"", subject: str = SUBJECT) -> Staged:
    headers = json.dumps({})
    payload = payload or b"event " + event_id.encode()

    def write(session: Session) -> None:
        session.execute(
            tables.outbox.insert().values(
                id=event_id,
                subject=subject,
                event_type="jit.tasks.created",
                payload=payload,
                headers=headers,
                created_at=datetime.now(UTC),
                attempts=0,
            )
        )

    with Session(db.engine) as session, session.begin():
        write(session)
    return Staged(event_id, subject, payload, headers)


def test_an_event_committed_while_the_scan_reads_is_published_once(tmp_path: Path) -> None:
    """The scan finds it and its committer hands it over too: it goes out once, before what follows."""

    async def scenario() -> list[str]:
        metadata = MetaData()
        tables = runtime_tables(metadata)
        db = RacingDatabase(f"sqlite:///{tmp_path / 'outbox.db'}")
        metadata.create_all(db.engine)
        broker = Broker()
        relay = OutboxRelay(db, tables, broker, poll_seconds=60.0, mark_seconds=0.0)  # type: ignore[arg-type]
        insert(db, tables, "e-1")  # left pending (as by a crash): the scan at start finds it

        async def commit_during_the_scan() -> None:
            relay.committed([insert(db, tables, "e-2")])

        db.before_next_read = commit_during_the_scan
        relay.start()
        await broker.until(2)
        relay.committed([insert(db, tables, "e-3")])  # handed after e-2: a second e-2 would come first
        await broker.until(3)
        await relay.stop(drain=False)
        db.engine.dispose()
        return broker.published

    assert asyncio.run(scenario()) == ["e-1", "e-2", "e-3"]


class GatedBroker(Broker):
    """Holds the first publish until ``gate`` is set: a broker slower than the commits."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.held = asyncio.Event()

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str], *, timeout: float = 2.0) -> Any:
        if not self.published:
            self.held.set()
            await asyncio.wait_for(self.gate.wait(), 30)  # a guard against a hang, not a timing
        return await super().publish(subject, payload, headers, timeout=timeout)


def test_a_relay_far_behind_holds_at_most_max_handed_events_and_publishes_each_once_in_order(tmp_path: Path) -> None:
    """While the broker holds the first publish, ten more commits are handed over to a relay that may
    hold three: it never holds more, and once the broker answers it publishes all eleven, each once, in
    the outbox's order (the ones it let go of read back from the outbox)."""

    async def scenario() -> tuple[list[str], list[int]]:
        metadata = MetaData()
        tables = runtime_tables(metadata)
        db = Database(f"sqlite:///{tmp_path / 'outbox.db'}")
        metadata.create_all(db.engine)
        broker = GatedBroker()
        relay = OutboxRelay(
            db,
            tables,
            broker,  # type: ignore[arg-type]
            poll_seconds=60.0,
            mark_seconds=0.0,
            max_handed=3,
        )
        insert(db, tables, "e-00")  # pending at start: the scan publishes it, and the broker holds it
        relay.start()
        await asyncio.wait_for(broker.held.wait(), 30)
        held = []
        for n in range(1, 11):
            relay.committed([insert(db, tables, f"e-{n:02d}")])
            held.append(len(relay._handed))
        broker.gate.set()
        await broker.until(11)
        await relay.stop(drain=False)
        db.engine.dispose()
        return broker.published, held

    published, held = asyncio.run(scenario())
    assert published == [f"e-{n:02d}" for n in range(11)]
    assert max(held) == 3
    assert 0 in held  # it let go of what it held at least once (and read it back)


class RecordingBroker(Broker):
    """Also keeps what each publish carried, by subject."""

    def __init__(self) -> None:
        super().__init__()
        self.payloads: dict[str, bytes] = {}

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str], *, timeout: float = 2.0) -> Any:
        self.payloads[subject] = payload
        return await super().publish(subject, payload, headers, timeout=timeout)


def test_a_country_a_change_took_out_of_the_audience_gets_a_withdrawal_without_the_records_state(
    tmp_path: Path,
) -> None:
    """A restricted task of NL reassigned from DE to IE: IE's node gets the event, DE's node only which
    record, at which version, no longer concerns DE (nothing of the task's new state, audience or actor)."""
    task = tasks_pb2.Task(id="t-1", workspace_id="jit-demo", title="Hear the witness in Cork", version=3)
    event = envelopes.envelope(
        event_type="jit.tasks.v1.TaskAssigned",
        state=task,
        workspace_id="jit-demo",
        origin="NL",
        audience=["IE", "NL"],
        aggregate_type="task",
        aggregate_id="t-1",
        version=3,
        actor=Actor("u-nl", "nl-prosecutor", "NL"),
        now=datetime(2026, 3, 2, tzinfo=UTC),
        event_id="e-1",
    )
    event.withdrawn_from.append("DE")
    payload = event.SerializeToString()

    async def scenario() -> RecordingBroker:
        metadata = MetaData()
        tables = runtime_tables(metadata)
        db = Database(f"sqlite:///{tmp_path / 'outbox.db'}")
        metadata.create_all(db.engine)
        broker = RecordingBroker()
        fed = Federation.parse("NL", "DE,IE,FR")
        relay = OutboxRelay(db, tables, broker, poll_seconds=60.0, mark_seconds=0.0, federation=fed)  # type: ignore[arg-type]
        insert(db, tables, "e-1", payload, "jit.tasks.NL.assigned")
        relay.start()
        await broker.until(3)
        await relay.stop(drain=False)
        db.engine.dispose()
        return broker

    broker = asyncio.run(scenario())
    assert sorted(broker.published) == ["e-1", "e-1.DE", "e-1.IE"]  # nothing for FR
    assert broker.payloads["jit.out.ie.tasks.NL.assigned"] == payload
    withdrawal = Envelope.FromString(broker.payloads["jit.out.de.tasks.NL.assigned"])
    assert (withdrawal.aggregate_id, withdrawal.aggregate_version, list(withdrawal.withdrawn_from)) == (
        "t-1",
        3,
        ["DE"],
    )
    assert not withdrawal.HasField("state") and not withdrawal.audience and not withdrawal.HasField("actor")
    assert b"Cork" not in broker.payloads["jit.out.de.tasks.NL.assigned"]
    check_inbound("jit.in.nl.tasks.NL.assigned", withdrawal, "DE")  # DE's node takes it in
    with pytest.raises(PoisonMessage, match="audience"):
        check_inbound("jit.in.nl.tasks.NL.assigned", withdrawal, "FR")


def test_a_linked_records_id_reaches_the_peers_entitled_to_that_record_only(tmp_path: Path) -> None:
    """An NL request to DE, workspace-visible, linked to an NL order shared with IE: the request's event goes
    to DE, IE and FR (members), the order's id only to IE (``field_audiences``); NL's own stream gets the event
    whole (its preservation service moves the order), and no peer learns who the order's audience is."""
    request = evidence_pb2.EvidenceRequest(
        id="r-1",
        workspace_id="jit-demo",
        origin_jurisdiction="NL",
        preservation_order_id="o-1",
        title="Cork",
        version=2,
    )
    alert = evidence_pb2.DeadlineAlert(request=request, seconds_before=3600)
    stored: dict[str, bytes] = {}
    for state, path, subject in (
        (request, "preservation_order_id", "jit.evidence.NL.issued"),
        (alert, "request.preservation_order_id", "jit.evidence.NL.deadline_approaching"),
    ):
        event = envelopes.envelope(
            event_type="jit.evidence.v1.EvidenceRequestIssued",
            state=state,
            workspace_id="jit-demo",
            origin="NL",
            audience=["DE", "FR", "IE", "NL"],
            aggregate_type="evidence_request",
            aggregate_id="r-1",
            version=2,
            actor=Actor("u-nl", "nl-prosecutor", "NL"),
            now=datetime(2026, 3, 2, tzinfo=UTC),
            event_id=f"e-{path}",
        )
        envelopes.limit_field(event, path, ["IE", "NL"])
        stored[subject] = event.SerializeToString(deterministic=True)

    async def scenario() -> RecordingBroker:
        metadata = MetaData()
        tables = runtime_tables(metadata)
        db = Database(f"sqlite:///{tmp_path / 'outbox.db'}")
        metadata.create_all(db.engine)
        broker = RecordingBroker()
        fed = Federation.parse("NL", "DE,IE,FR")
        relay = OutboxRelay(db, tables, broker, poll_seconds=60.0, mark_seconds=0.0, federation=fed)  # type: ignore[arg-type]
        for n, (subject, payload) in enumerate(stored.items()):
            insert(db, tables, f"e-{n}", payload, subject)
        relay.start()
        await broker.until(8)
        await relay.stop(drain=False)
        db.engine.dispose()
        return broker

    broker = asyncio.run(scenario())
    for subject, payload in stored.items():
        assert broker.payloads[subject] == payload  # this node's stream: whole, with who may read the link
        event = subject.removeprefix("jit.")
        for peer, shown in (("de", False), ("fr", False), ("ie", True)):
            copy = Envelope.FromString(broker.payloads[f"jit.out.{peer}.{event}"])
            assert not copy.field_audiences
            state = evidence_pb2.EvidenceRequest()
            if not copy.state.Unpack(state):
                held = evidence_pb2.DeadlineAlert()
                assert copy.state.Unpack(held) and held.seconds_before == 3600
                state = held.request
            assert (state.id, state.title, state.version) == ("r-1", "Cork", 2)
            assert state.preservation_order_id == ("o-1" if shown else ""), (peer, subject)
            assert (b"o-1" in broker.payloads[f"jit.out.{peer}.{event}"]) is shown
            check_inbound(f"jit.in.nl.{event}", copy, peer.upper())
