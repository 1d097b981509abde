"""What the messaging process keeps in memory is bounded, and live delivery takes no extra turn of the
loop: the channel data keys it holds open (one per channel and key version, and every record thread is a
channel) are the least recently used ones, at most ``max_channel_keys``, a key dropped from memory opened
from the store again when next used; a channel's feed goes with its last stream."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from jit.messaging.v1 import messaging_pb2 as pb
from jitlib import crypto, sqlexec
from jitlib.actors import Actor
from services.messaging import domain, store
from services.messaging.keys import ChannelKeys
from services.messaging.live import Delivery, Live

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _channel() -> domain.Channel:
    return domain.new_channel(
        channel_id=str(uuid.uuid4()), workspace_id="jit-demo", title="t", opener=Actor("u1", "u1", "NL"),
        members=["DE"], now=T0,
    )  # fmt: skip


def test_the_open_channel_keys_are_bounded_least_recently_used_first() -> None:
    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    keys = ChannelKeys(crypto.KeyRing(crypto.Kek(crypto.new_data_key())), max_channel_keys=3)
    channels = [_channel() for _ in range(5)]
    with Session(engine) as session, session.begin():
        for ch in channels:
            store.insert_channel(session, ch)
            keys.create(session, ch, 1, T0)
    with Session(engine) as session:
        opened = {ch.id: keys.get(session, ch, 1) for ch in channels[:3]}
        assert keys.channel_keys_held == 3
        keys.get(session, channels[0], 1)  # used again: the oldest is now channels[1]
        for ch in channels[3:]:
            opened[ch.id] = keys.get(session, ch, 1)
        assert keys.channel_keys_held == 3  # channels[1] and [2] were dropped, [0] kept
        statements: list[str] = []

        @event.listens_for(engine, "before_cursor_execute")
        def _count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            statements.append(statement)

        below: list[tuple[str, object]] = []  # the statements run below SQLAlchemy's execution (``sqlexec``)
        recording = sqlexec.executed.set(below)
        try:

            def key_reads() -> list[str]:
                return [s for s in [*statements, *(sql for sql, _ in below)] if "channel_keys" in s]

            assert keys.get(session, channels[0], 1) == opened[channels[0].id]
            assert not key_reads()  # still held: no read
            assert keys.get(session, channels[1], 1) == opened[channels[1].id]  # the same key, read again
            assert key_reads()
        finally:
            sqlexec.executed.reset(recording)
        assert keys.channel_keys_held == 3
    # Sealing and opening through a dropped key still round-trip.
    sealed = crypto.seal(opened[channels[2].id], b"x", b"aad")
    with Session(engine) as session:
        assert crypto.open_sealed(keys.get(session, channels[2], 1), sealed, b"aad") == b"x"


class _Feed:
    """A channel feed that hands out what the test queued (no database)."""

    def __init__(self) -> None:
        self.queued: list[Delivery] = []

    def posted(self, msg: pb.Message, now: float) -> None:
        self.queued.append(Delivery.of(msg))

    async def after(self, after: int) -> tuple[None, list[Delivery], bool]:
        out, self.queued = [d for d in self.queued if d.message.seq > after], []
        return None, out, False


def test_a_post_reaches_a_waiting_stream_in_one_turn_of_the_loop_and_its_feed_goes_with_its_last_stream() -> None:
    """``Live.posted`` wakes the channel's streams so that each has the message after one turn of the loop
    (the post yields exactly one before answering); a stream that ends takes its channel's feed with it
    when it was the last one."""

    async def run() -> None:
        live = Live(rt=None, content=None)  # type: ignore[arg-type]
        feed = _Feed()
        live._feeds["c"] = feed  # type: ignore[assignment]
        stream = live.follow("c", 0)
        assert await anext(stream) == (None, [])
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)  # the stream now waits for a wake-up
        assert not waiting.done()
        msg = pb.Message(id="m1", channel_id="c", seq=1, body="hello")
        assert live.posted("c", msg)  # a stream follows the channel: the post yields one turn to it
        await asyncio.sleep(0)  # one turn
        assert waiting.done() and waiting.result() == (None, [Delivery.of(msg)])
        await stream.aclose()
        assert "c" not in live._feeds and "c" not in live._streams
        assert not live.posted("c", pb.Message(id="m2", channel_id="c", seq=2))  # nobody follows: no turn

    asyncio.run(run())
