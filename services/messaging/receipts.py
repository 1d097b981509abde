"""Delivery receipts, written in batches: fifty subscribers receiving one message make one transaction,
not fifty. A receipt is on disk within ``interval`` seconds of the delivery. (Read receipts are written
by ``MarkRead`` itself.) Every process of the service runs its own writer for its own streams."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jitlib.actors import Actor
from jitlib.runtime import Runtime
from services.messaging.channels import Channels

log = logging.getLogger(__name__)


class ReceiptWriter:
    """A worker of the service: collects deliveries, writes them every ``interval`` seconds."""

    def __init__(self, rt: Runtime, channels: Channels, interval: float = 0.1) -> None:
        self._rt = rt
        self._channels = channels
        self._interval = interval
        self._pending: dict[tuple[str, str], tuple[Actor, datetime]] = {}
        self._task: asyncio.Task[None] | None = None

    def delivered(self, message_id: str, reader: Actor) -> None:
        self._pending.setdefault((message_id, reader.user_id), (reader, self._rt.clock.now()))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="receipt-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:
                log.exception("delivery receipts not written; they are dropped")

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, {}

        def write(session: Session) -> None:
            for (message_id, _), (reader, at) in batch.items():
                self._channels.receipt(session, message_id, reader, at, read=False)

        try:
            await self._rt.db.write(write)
        except IntegrityError:
            # Another process (a copy of this service, a replica) wrote one of these receipts since this
            # one read it: written again, what is there is read and kept.
            await self._rt.db.write(write)
