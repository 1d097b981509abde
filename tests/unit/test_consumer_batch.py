"""A batched event consumer (``EventConsumer(batch=N)``): the events of a batch take effect in one
transaction with their inbox rows, each is acked only once that transaction committed, an event already
in the inbox takes no effect again, and one failing event rolls the batch back and has each event handled
alone. On a real SQLite database; the NATS messages are stand-ins that record their acks."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import db
from jitlib.bus import EventConsumer, PoisonMessage, after_commit
from services.tasks.app import MIGRATIONS
from services.tasks.store import RUNTIME


class _Msg:
    """What the consumer uses of a NATS message; its ack notes what the database held at that moment."""

    def __init__(self, env: Envelope, url: str, acks: list[tuple[str, int]], outcome: dict[str, str]) -> None:
        self.data = env.SerializeToString()
        self.headers: dict[str, str] = {}
        self.subject = "jit.tests.NL.ping"
        self.metadata = SimpleNamespace(num_delivered=1)
        self._id, self._url, self._acks, self._outcome = env.id, url, acks, outcome

    async def ack(self) -> None:
        engine = create_engine(self._url)
        with engine.connect() as conn:  # another connection: sees only what is committed
            effects = conn.execute(text("SELECT count(*) FROM effects")).scalar_one()
        engine.dispose()
        self._acks.append((self._id, effects))
        self._outcome[self._id] = "ack"

    async def term(self) -> None:
        self._outcome[self._id] = "term"

    async def nak(self, delay: float = 0) -> None:
        self._outcome[self._id] = "nak"


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'consumer.db'}"
    db.migrate(MIGRATIONS, url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE effects (event_id VARCHAR(64) NOT NULL)"))
    engine.dispose()
    return url


def _consumer(database: db.Database, handler: Any, batch: int) -> EventConsumer:
    """A consumer with no NATS behind it: the test hands it the batch (``process_many``)."""
    return EventConsumer(
        None,  # type: ignore[arg-type]
        database,
        RUNTIME,
        durable="tests",
        stream=None,  # type: ignore[arg-type]
        filter_subject="jit.tests.>",
        handler=handler,
        batch=batch,
    )


def _run(url: str, envelopes: list[Envelope], *, batch: int, refuse: str = "") -> dict[str, Any]:
    """``process_many`` of the envelopes as one fetch; what the handler saw and what was acked."""
    acks: list[tuple[str, int]] = []
    outcome: dict[str, str] = {}
    sessions: list[int] = []
    committed: list[str] = []

    def handler(session: Session, env: Envelope) -> None:
        sessions.append(id(session))
        session.execute(text("INSERT INTO effects (event_id) VALUES (:e)"), {"e": env.id})
        after_commit(session, lambda: committed.append(env.id))
        if env.id == refuse:
            raise PoisonMessage("refused")

    async def run() -> None:
        database = db.Database(url)
        consumer = _consumer(database, handler, batch)
        msgs = [_Msg(e, url, acks, outcome) for e in envelopes]
        for start in range(0, len(msgs), batch):
            await consumer.process_many(msgs[start : start + batch])  # type: ignore[arg-type]
        database.dispose()

    asyncio.run(run())
    engine = create_engine(url)
    with engine.connect() as conn:
        effects = [r[0] for r in conn.execute(text("SELECT event_id FROM effects"))]
        inbox = [r[0] for r in conn.execute(select(RUNTIME.inbox.c.event_id))]
        dead = [r[0] for r in conn.execute(select(RUNTIME.dead_letters.c.event_id))]
    engine.dispose()
    return dict(
        acks=acks, outcome=outcome, sessions=sessions, committed=committed, effects=effects, inbox=inbox, dead=dead
    )


def _envelopes(n: int) -> list[Envelope]:
    return [Envelope(id=str(uuid.uuid4()), type="jit.tests.v1.Ping", aggregate_id=f"a{i}") for i in range(n)]


def test_a_batch_takes_effect_in_one_transaction_and_each_event_is_acked_after_its_commit(url: str) -> None:
    envs = _envelopes(3)
    seen = _run(url, envs, batch=3)
    assert len(set(seen["sessions"])) == 1  # one session, one transaction for the three
    assert sorted(seen["effects"]) == sorted(seen["inbox"]) == sorted(e.id for e in envs)
    # every ack came after the commit of all three effects (read on another connection)
    assert seen["acks"] == [(e.id, 3) for e in envs]
    assert seen["committed"] == [e.id for e in envs]  # after-commit callbacks, in order


def test_a_redelivered_batch_takes_no_effect_again_and_is_acked(url: str) -> None:
    envs = _envelopes(3)
    _run(url, envs[:2], batch=2)  # as if acks were lost after this commit
    seen = _run(url, envs, batch=3)
    assert sorted(seen["effects"]) == sorted(e.id for e in envs)  # each exactly once
    assert seen["outcome"] == {e.id: "ack" for e in envs}
    assert seen["committed"] == [envs[2].id]


def test_the_same_event_twice_in_one_batch_takes_effect_once(url: str) -> None:
    env = _envelopes(1)[0]
    seen = _run(url, [env, env], batch=2)
    assert seen["effects"] == [env.id]


def test_a_refused_event_rolls_the_batch_back_and_each_is_then_handled_alone(url: str) -> None:
    envs = _envelopes(4)
    seen = _run(url, envs, batch=4, refuse=envs[1].id)
    assert sorted(seen["effects"]) == sorted(e.id for e in envs if e is not envs[1])  # none twice
    assert seen["dead"] == [envs[1].id]
    assert seen["outcome"] == {e.id: ("term" if e is envs[1] else "ack") for e in envs}
    # nothing of the rolled-back batch was called back; each event alone was, once committed
    assert seen["committed"] == [e.id for e in envs if e is not envs[1]]
    # the batch's transaction stopped at the refused event, then each event had its own
    assert len(seen["sessions"]) == 2 + 4 and seen["sessions"][0] == seen["sessions"][1]


def test_an_undecodable_event_in_a_batch_is_set_aside_alone(url: str) -> None:
    envs = _envelopes(2)
    seen: dict[str, str] = {}

    async def run() -> list[str]:
        database = db.Database(url)
        effect = lambda s, e: s.execute(text("INSERT INTO effects (event_id) VALUES (:e)"), {"e": e.id})  # noqa: E731
        consumer = _consumer(database, effect, 3)
        bad = _Msg(Envelope(id="bad"), url, [], seen)
        bad.data = b"\xff\xfenot an envelope"
        msgs = [_Msg(envs[0], url, [], seen), bad, _Msg(envs[1], url, [], seen)]
        await consumer.process_many(msgs)  # type: ignore[arg-type]
        with Session(database.engine) as s:
            effects = [r[0] for r in s.execute(text("SELECT event_id FROM effects"))]
        database.dispose()
        return effects

    effects = asyncio.run(run())
    assert sorted(effects) == sorted(e.id for e in envs)
    assert seen == {envs[0].id: "ack", "bad": "term", envs[1].id: "ack"}


def test_each_event_of_a_batch_is_handled_in_a_span_of_its_own_trace(url: str, spans: Any) -> None:
    """A batch's transaction is one span linked to every event's publish, and each event's handling is a
    span of its own trace (a child of its publish), as when it is handled alone."""
    from opentelemetry import propagate, trace

    envs = _envelopes(2)
    tracer = trace.get_tracer("test")
    published = []
    msgs: list[_Msg] = []
    for env in envs:
        with tracer.start_as_current_span("publish") as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
        published.append(span.get_span_context())
        msg = _Msg(env, url, [], {})
        msg.headers = carrier
        msgs.append(msg)

    async def run() -> None:
        database = db.Database(url)
        consumer = _consumer(database, lambda s, e: None, 2)
        await consumer.process_many(msgs)  # type: ignore[arg-type]
        database.dispose()

    asyncio.run(run())
    mine = {p.trace_id for p in published}
    handled = [s for s in spans.get_finished_spans() if s.name == "jit.tests.NL.ping process"]
    handled = [s for s in handled if s.context.trace_id in mine]
    assert sorted((s.context.trace_id, s.parent.span_id) for s in handled) == sorted(
        (p.trace_id, p.span_id) for p in published
    )
    batch = [s for s in spans.get_finished_spans() if s.name == "jit.tests.> process" and s.links]
    assert any({link.context.span_id for link in s.links} == {p.span_id for p in published} for s in batch)
