"""Timestamps taken inside a benchmarked service, for the step-by-step benchmarks (``bench.create_steps``,
``bench.list_steps``): the service runs in a process of its own started as ``python -m <bench> serve ...``,
its functions wrapped so that each call stamps its steps into a dict of its own (a context variable, set
where the call enters), written out at exit."""

from __future__ import annotations

import contextvars
import importlib
import os
import sys
import time
from collections.abc import Callable
from typing import Any

now = time.perf_counter_ns


class Stamps:
    """The stamps of the call being served (None outside one), and wrappers that take them."""

    def __init__(self, name: str) -> None:
        self.current: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar(name, default=None)

    def first(self, key: str, value: int) -> None:
        """Stamp ``key`` unless this call already has it (a step taken twice counts from its first time)."""
        d = self.current.get()
        if d is not None and key not in d:
            d[key] = value

    def add(self, key: str, value: int) -> None:
        """Add ``value`` to ``key``: a step taken once per record, summed over the call."""
        d = self.current.get()
        if d is not None:
            d[key] = d.get(key, 0) + value

    def stamped(self, before: str, after: str, fn: Callable[..., Any], *, at_end: bool = False) -> Callable[..., Any]:
        """``fn`` stamping ``before`` as it starts and ``after`` as it ends; with ``at_end`` both when it ends
        (so a step inside it, stamped with the same keys, counts first)."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = now()
            if not at_end:
                self.first(before, start)
            try:
                return fn(*args, **kwargs)
            finally:
                self.first(before, start)
                self.first(after, now())

        return wrapper

    def awaited(self, before: str, after: str, fn: Callable[..., Any], *, at_end: bool = False) -> Callable[..., Any]:
        """``stamped`` for a coroutine function."""

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = now()
            if not at_end:
                self.first(before, start)
            try:
                return await fn(*args, **kwargs)
            finally:
                self.first(before, start)
                self.first(after, now())

        return wrapper

    def ended(self, key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Coroutine function ``fn`` stamping ``key`` when it ends."""

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            finally:
                self.first(key, now())

        return wrapper

    def summed(self, key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` adding the time each of its calls takes to ``key``."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = now()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(key, now() - start)

        return wrapper


def serve_instrumented(instrument: Callable[[str], None], stamps_env: str, server: str) -> bool:
    """When this process was started as ``python -m <bench> serve ARGS``: wrap the service with
    ``instrument`` (given the file named by ``stamps_env``), then run module ``server``'s ``main`` with
    ARGS until the service stops; True once it has. False in any other process."""
    if sys.argv[1:2] != ["serve"]:
        return False
    instrument(os.environ[stamps_env])
    sys.argv = [server, *sys.argv[2:]]
    importlib.import_module(server).main()
    return True
