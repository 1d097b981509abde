"""Live delivery for ``Subscribe``: one NATS listener per process feeds every stream of the process.

- The listener subscribes once to every replica's messaging events (``jit.messaging.*.*``) when the bus
  is connected: a post wakes the streams of the channel it names, an edit or a deletion drops what is
  cached of that channel, a shredded workspace makes the process drop the keys it holds of it. A post
  on this process wakes its streams directly, without waiting for the broker, and hands them the message
  it committed, opened, so they send it without reading it back; a poll every
  ``POLL_SECONDS`` keeps delivery going while NATS is down.
- A ``ChannelFeed`` reads and opens each new message of a channel once for all of the process's streams
  on that channel: with fifty people following a channel, a post costs one database read, not fifty. It
  reads the channel with its messages, so each batch comes with who may see the channel as of that read
  (the servicer checks the reader against it before sending the batch).
- Each stream registers before it reads, so a message committed in between is seen by one or the other,
  and its cursor (the last seq sent) drops the overlap: every message after the cursor, in order, once.
- Each message is serialized once for all the streams (``Delivery``): the server sends those bytes as the
  stream's ``SubscribeResponse`` (``jitlib.server`` passes bytes through).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.messaging.v1 import messaging_pb2 as pb
from jitlib.runtime import Runtime
from services.messaging import events, store
from services.messaging.content import Content
from services.messaging.domain import Channel
from services.messaging.mapping import message_to_pb

log = logging.getLogger(__name__)

#: Messages read at most per database read.
BATCH = 200
#: How often a stream looks for new messages when nothing woke it (a broker outage).
POLL_SECONDS = 2.0
#: How many ids of messages posted here the listener remembers, to skip their events from the broker.
POSTED_HERE = 1000


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message for the live streams, with its ``SubscribeResponse`` serialized once for all of them."""

    message: pb.Message
    wire: bytes

    @classmethod
    def of(cls, message: pb.Message) -> Delivery:
        return cls(message, pb.SubscribeResponse(message=message).SerializeToString())


class ChannelFeed:
    """New messages of one channel, read and opened once for all of this process's subscribers, with the
    channel as that read found it. Entries live ``TTL`` seconds (a message edited or shredded elsewhere,
    a channel whose parties changed, is not served stale for longer)."""

    TTL = 5.0

    def __init__(self, rt: Runtime, content: Content, channel_id: str) -> None:
        self._rt = rt
        self._content = content
        self._channel_id = channel_id
        self._lock = asyncio.Lock()
        self._cache: dict[int, tuple[float, Delivery]] = {}
        #: The channel as the last read found it (None before the first read, or when it is gone).
        self.channel: Channel | None = None
        #: Bumped on every known change; a read made at the current generation saw everything committed.
        self.generation = 0
        self._read_at: tuple[int, int, float] = (-1, 0, 0.0)  # generation, last seq, time of the last read

    def posted(self, msg: pb.Message, now: float) -> None:
        """A message this process just committed, opened: when it follows the last one read, it is held
        for the streams, which then send it without a database read; otherwise they read as usual."""
        generation, last_seq, read_time = self._read_at
        if generation == self.generation and self.channel is not None and msg.seq == last_seq + 1:
            self._cache[msg.seq] = (now, Delivery.of(msg))
            # The channel as read at ``read_time`` still stands for it: its TTL runs from that read.
            self._read_at = (generation, msg.seq, read_time)
        else:
            self.generation += 1

    def _cached(self, after: int, now: float) -> list[Delivery]:
        out = []
        seq = after + 1
        while (hit := self._cache.get(seq)) is not None and now - hit[0] < self.TTL:
            out.append(hit[1])
            seq += 1
        return out

    def _read(self, session: Session, after: int) -> tuple[Channel | None, list[Delivery]]:
        ch = store.get_channel(session, self._channel_id)
        if ch is None:
            return None, []
        rows = store.messages_after(session, ch.id, after, BATCH)
        return ch, [Delivery.of(message_to_pb(self._content.open(session, ch, m))) for m in rows]

    async def after(self, after: int) -> tuple[Channel | None, list[Delivery], bool]:
        """The channel, the messages after seq ``after``, in order, and whether more may follow at once."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            now = loop.time()
            hits = self._cached(after, now)
            start = hits[-1].message.seq if hits else after
            generation, last_seq, read_time = self._read_at
            if generation == self.generation and start >= last_seq and now - read_time < self.TTL:
                # nothing was posted since the last read: no need to ask the database
                return self.channel, hits, False
            generation = self.generation
            self.channel, fresh = await self._rt.read(lambda session: self._read(session, start))
            for delivery in fresh:
                self._cache[delivery.message.seq] = (now, delivery)
            self._read_at = (generation, fresh[-1].message.seq if fresh else start, now)
            for seq in [k for k, (t, _) in self._cache.items() if now - t >= self.TTL]:
                del self._cache[seq]
            return self.channel, hits + fresh, len(fresh) == BATCH


class Live:
    """The process's live delivery: its one NATS listener, its streams by channel and their feeds. A
    worker of the service (started after the bus, stopped before it closes)."""

    def __init__(self, rt: Runtime, content: Content) -> None:
        self._rt = rt
        self._content = content
        self._streams: dict[str, set[asyncio.Event]] = {}
        self._feeds: dict[str, ChannelFeed] = {}
        self._task: asyncio.Task[None] | None = None
        self._sub: Subscription | None = None
        #: The ids of the last messages posted on this process (``posted``), oldest first.
        self._posted_here: OrderedDict[str, None] = OrderedDict()

    # -- the listener -----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="messaging-live-listener")

    async def _listen(self) -> None:
        delay = 0.2
        while self._sub is None:
            try:
                await self._rt.bus.wait_ready()
                self._sub = await self._rt.bus.nc.subscribe(events.LIVE, cb=self._on_event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker went away between ready and subscribe: try again
                log.warning("live delivery cannot subscribe to %s (%s); retrying", events.LIVE, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _on_event(self, msg: Msg) -> None:
        """One messaging event of any replica. Nothing here is destructive (waking a stream, dropping a
        cache), so a forged event costs at most a database read."""
        event = str(msg.subject).rsplit(".", 1)[-1]
        try:
            envelope = Envelope.FromString(msg.data)
        except Exception:  # not ours to judge: the stream's consumers dead-letter bad events
            return
        if event == events.SHREDDED:
            ws = common_pb2.Workspace()
            if envelope.state.Unpack(ws) and ws.id:
                self.forget_workspace(ws.id)
            return
        meta = pb.Message()
        if not envelope.state.Unpack(meta) or not meta.channel_id:
            return
        if event == events.POSTED:
            if meta.id in self._posted_here:
                return  # posted here: its streams have it already
            self.notify(meta.channel_id)
        elif event in (events.EDITED, events.DELETED):
            self.forget(meta.channel_id)

    # -- the streams ------------------------------------------------------------------------------

    def notify(self, channel_id: str) -> None:
        """A message was committed in ``channel_id``: wake its streams."""
        feed = self._feeds.get(channel_id)
        if feed is not None:
            feed.generation += 1
        for wake in self._streams.get(channel_id, ()):
            wake.set()

    def posted(self, channel_id: str, message: pb.Message) -> bool:
        """A message posted on this process, committed and opened: its streams get it from memory (no
        read of the database, no wait for the broker), and its event, when it comes back from the broker,
        wakes nobody again. Whether any stream of this process follows the channel."""
        self._posted_here[message.id] = None
        if len(self._posted_here) > POSTED_HERE:
            self._posted_here.popitem(last=False)
        feed = self._feeds.get(channel_id)
        if feed is not None:
            feed.posted(message, asyncio.get_running_loop().time())
        streams = self._streams.get(channel_id, ())
        for wake in streams:
            wake.set()
        return bool(streams)

    def forget(self, channel_id: str) -> None:
        """Drop what is cached for a channel (its content changed or was shredded)."""
        self._feeds.pop(channel_id, None)

    def forget_workspace(self, workspace_id: str) -> None:
        """A workspace was shredded: drop its keys and what is cached of its channels, and wake its
        streams (they read the channel again and say it is shredded)."""
        self._content.keys.forget_workspace(workspace_id)
        for channel_id, feed in list(self._feeds.items()):
            if feed.channel is None or feed.channel.workspace_id == workspace_id:
                self.forget(channel_id)
                for wake in self._streams.get(channel_id, ()):
                    wake.set()

    def _feed(self, channel_id: str) -> ChannelFeed:
        feed = self._feeds.get(channel_id)
        if feed is None:
            feed = self._feeds[channel_id] = ChannelFeed(self._rt, self._content, channel_id)
        return feed

    async def follow(
        self, channel_id: str, after_seq: int
    ) -> AsyncGenerator[tuple[Channel | None, list[Delivery]], None]:
        """Every message of the channel after ``after_seq``, in order, then each new one as it comes: in
        batches, each with the channel as read with it (None when it is gone), one at least every
        ``POLL_SECONDS`` even when empty, so the caller can check its reader before each batch and
        while idle. The cursor moves past a batch once the caller asks for the next one."""
        wake = asyncio.Event()
        streams = self._streams.setdefault(channel_id, set())
        streams.add(wake)
        last = after_seq
        try:
            while True:
                wake.clear()  # before reading: a wake-up during the read or the sends is not lost
                channel, batch, more = await self._feed(channel_id).after(last)
                yield channel, batch
                if batch:
                    last = batch[-1].message.seq
                if more:
                    continue
                # asyncio.timeout, not wait_for: wait_for (3.11) runs the wait as a task of its own, so a
                # wake-up took two turns of the loop to reach this stream.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_SECONDS):
                        await wake.wait()
        finally:
            streams.discard(wake)
            if not streams:
                self._streams.pop(channel_id, None)
                self._feeds.pop(channel_id, None)
