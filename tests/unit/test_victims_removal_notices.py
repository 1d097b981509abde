"""The victim is told of a removal (``services.victims.removal_notices``) on a federation: the removal request
belongs to the node of the prosecutor who filed it, the victim to the lead's node, which hears of the
platform's answer only from the other node (``JIT_IN``); once per event and victim, whichever consumer saw
it (review 37, messaging #3). On a real SQLite database of the victims service; no NATS (the consumers are
handed the messages)."""

from __future__ import annotations

import asyncio
import types
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import any_pb2

from jit.events.v1.envelope_pb2 import Envelope
from jit.preservation.v1 import removal_pb2
from jitlib import crypto, db, sealing
from jitlib.actors import Actor
from jitlib.bus import EventConsumer
from jitlib.clock import ManualClock
from jitlib.federation import Federation
from jitlib.runtime import Runtime
from services.victims import domain, removal_notices, store
from services.victims.app import MIGRATIONS
from tests.harness import DeliveredMsg

T0 = datetime(2026, 3, 1, tzinfo=UTC)
WS = "jit-demo"
NL_LIAISON = Actor("u-nl", "nl-liaison", "NL")


class _Recorder:
    """What ``consumers`` asks of the runtime: the consumers it makes, each as (name, stream, subjects, inbound)."""

    def __init__(self, federation: Federation | None) -> None:
        self.federation = federation
        self.made: list[tuple[str, str, str, bool]] = []

    def consumer(self, name: str, stream: Any, subjects: str, _handler: Any, *, inbound: bool = False) -> object:
        self.made.append((name, stream.name, subjects, inbound))
        return object()

    consumers_here_and_from_peers = Runtime.consumers_here_and_from_peers  # the runtime's own, on this recorder


def _consumers(federation: Federation | None) -> list[tuple[str, str, str, bool]]:
    rt = _Recorder(federation)

    async def build() -> None:
        removal_notices.consumers(rt)  # type: ignore[arg-type]

    asyncio.run(build())
    return rt.made


def test_the_lead_node_also_reads_the_removal_answers_other_nodes_send_it() -> None:
    """NL leads the JIT and holds V-NL-0001; DE's prosecutor filed the removal request, so DE's node owns it
    and publishes the platform's answer: NL's node must read it from JIT_IN, or the victim is never told."""
    made = _consumers(Federation.parse("NL", "DE"))
    assert ("removal-notices", "JIT_PRESERVATION", "jit.preservation.>", False) in made
    assert ("removal-notices-in", "JIT_IN", "jit.in.*.preservation.>", True) in made
    assert _consumers(None) == [("removal-notices", "JIT_PRESERVATION", "jit.preservation.>", False)]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[db.Database]:
    url = f"sqlite:///{tmp_path / 'victims.db'}"
    db.migrate(MIGRATIONS, url)
    database = db.Database(url)
    sealing.install(database.info, store.Base.metadata, crypto.KekRing([crypto.Kek(crypto.new_data_key())]))
    yield database
    database.dispose()


def _removed_by_de(pseudonym: str) -> Envelope:
    """DE's node: the platform removed the content of the removal request DE's prosecutor filed."""
    removal = removal_pb2.RemovalRequest(
        id=str(uuid.uuid4()),
        workspace_id=WS,
        origin_jurisdiction="DE",
        provider_id="socialnet",
        victim_refs=[pseudonym],
    )
    removal.answered_at.FromDatetime(T0)
    state = any_pb2.Any()
    state.Pack(removal)
    return Envelope(
        id=str(uuid.uuid4()),
        type="jit.preservation.v1.RemovalRequestRemoved",
        workspace_id=WS,
        origin_jurisdiction="DE",
        audience=["DE", "NL"],
        aggregate_type="removal_request",
        aggregate_id=removal.id,
        aggregate_version=3,
        state=state,
    )


def test_a_removal_filed_on_a_members_node_gives_the_victim_held_by_the_lead_one_notice(database: db.Database) -> None:
    """The event read from JIT_IN records the notice on NL's victim; seen again (by the local consumer too,
    whose inbox is another), it adds none."""
    cmd = domain.NewVictim(
        request_id=str(uuid.uuid4()),
        workspace_id=WS,
        victim_jurisdiction="NL",
        identity=domain.Identity(full_name="Test Victim", languages=("nl",)),
    )
    victim = domain.register(cmd, victim_id=str(uuid.uuid4()), lead="NL", sequence=1, actor=NL_LIAISON, now=T0)
    database.write_sync(lambda s: store.VICTIMS.insert(s, victim, request_id=cmd.request_id, request_digest=""))
    env = _removed_by_de(victim.pseudonym)

    async def deliver() -> list[str]:
        rt: Any = types.SimpleNamespace(
            clock=ManualClock(T0),
            tables=store.RUNTIME,
            workspaces=types.SimpleNamespace(get=lambda _ws: None),
            relay=types.SimpleNamespace(wake=lambda: None),
        )
        rt.members_of = lambda record: frozenset(record.parties)
        handle = removal_notices.handler(rt, asyncio.get_running_loop())

        def consumer(durable: str, inbound_for: str | None) -> EventConsumer:
            return EventConsumer(
                None,  # type: ignore[arg-type]
                database,
                store.RUNTIME,
                durable=durable,
                stream=None,  # type: ignore[arg-type]
                filter_subject="jit.preservation.>",
                handler=handle,
                inbound_for=inbound_for,
            )

        inbound = DeliveredMsg(env, "jit.in.DE.preservation.DE.removal_removed")
        await consumer("removal-notices-in", "NL").process(inbound)  # type: ignore[arg-type]
        again = DeliveredMsg(env, "jit.preservation.DE.removal_removed")
        await consumer("removal-notices", None).process(again)  # type: ignore[arg-type]
        return [inbound.outcome, again.outcome]

    assert asyncio.run(deliver()) == ["ack", "ack"]
    notices = database.write_sync(lambda s: store.notices_of(s, victim.id))
    assert [(n.step, n.channel, n.told_by.jurisdiction) for n in notices] == [
        (domain.NoticeStep.CONTENT_REMOVED, domain.NoticeChannel.SYSTEM, "DE")
    ]
