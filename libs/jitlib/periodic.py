"""A service's background job that makes one pass at start and then every ``interval`` seconds, or sooner
when woken: the alert scanner, the retention sweep, the KEK rotation, evidence's blob sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``run_pass`` at start, then ``interval`` seconds after each pass ends, or as soon as ``wake`` is
    called. A pass that fails is logged and the next one comes as usual: the job never stops on its own.
    ``stop`` cancels it (a pass under way included) and waits for it to end. A subclass defines
    ``run_pass``."""

    def __init__(self, interval: float, name: str) -> None:
        self.interval = interval
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def run_pass(self) -> Any:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    def wake(self) -> None:
        """Make a pass now (a change that may have made work due; tests moving a clock)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.run_pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: a pass failed; trying again at the next interval", self._name)
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
