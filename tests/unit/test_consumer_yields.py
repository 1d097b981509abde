"""An event consumer lets the loop's other work run between two events of a batch: its units of work
run inline on the loop on SQLite, so a batch handled in one go would hold every request behind it."""

from __future__ import annotations

import asyncio
from typing import Any

from jitlib.bus import EventConsumer


class _Batch:
    def __init__(self, consumer: EventConsumer, size: int) -> None:
        self._consumer, self._size, self._given = consumer, size, False

    async def fetch(self, batch: int, timeout: float) -> list[int]:
        if self._given:
            self._consumer._stopping = True
            raise TimeoutError
        self._given = True
        return list(range(self._size))


def test_a_request_runs_between_two_events_of_one_batch() -> None:
    order: list[str] = []

    async def run() -> None:
        consumer = EventConsumer(
            None, None, None,  # type: ignore[arg-type]
            durable="d", stream=None, filter_subject="x", handler=lambda s, e: None,  # type: ignore[arg-type]
        )  # fmt: skip

        async def subscribe() -> Any:
            return _Batch(consumer, 3)

        async def process(msg: int) -> None:  # a unit of work inline on the loop: no suspension
            order.append(f"event {msg}")

        async def request() -> None:
            order.append("request")

        consumer._subscribe = subscribe  # type: ignore[method-assign]
        consumer.process = process  # type: ignore[method-assign]
        running = asyncio.ensure_future(consumer._run())
        await asyncio.sleep(0)  # the consumer fetched its batch and handled the first event
        await asyncio.gather(request(), running)

    asyncio.run(run())
    assert order.index("request") < order.index("event 2")
