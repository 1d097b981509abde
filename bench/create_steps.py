"""Where one CreateTask's time goes, step by step, at concurrency 1 (issue 17).

Runs the tasks service as ``bench.run`` does (NATS, a durable PostgreSQL or SQLite, the benchmark's
signing key), with timestamps taken inside it at each step of a create, and a client that takes its own
around each call. Both sides read ``time.perf_counter_ns`` (CLOCK_MONOTONIC, one clock for every process
of the machine), so each call's time splits into: the request's way in (client to the call entry,
``jitlib.server.CallEntry``, the request's bytes read), the entry (the call's span, the token from the
service's cache), the way to the servicer (the request decoded, the caller bound), the steps before the
write (validation, policy, workspace, the record built), the hand-off
to a worker thread (none: SQLite runs inline, and on PostgreSQL a create runs on the loop first,
``Database.write`` ``on_loop``), the unit of work (on PostgreSQL split into its Python before the
statement, the one statement with its commit, and after it), the hand-back, the answer, and the answer's
way out. It also counts the relay's and the chainer's work meanwhile (publishes, marks,
linkings) and what a create costs when one of their transactions runs beside it; with ``--no-publish`` the
relay sends nothing (what its publishes cost the creates). One line per step:

    STEP <backend> <step> p50_ms=<x> p90_ms=<y> ratio_p50=<x / echo p50 of the same run>

    python -m bench.create_steps [--backends sqlite,postgresql] [--calls 1500] [--no-publish]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc

from bench import run as br
from bench.stamps import Stamps, now, serve_instrumented

STAMPS_ENV = "JIT_BENCH_STEP_STAMPS"
NO_PUBLISH_ENV = "JIT_BENCH_NO_PUBLISH"

#: (label, from stamp, to stamp); c0/c1 are the client's, the others the service's (``_instrument``).
STEPS = (
    ("total", "c0", "c1"),
    ("in: client to the entry", "c0", "t0"),
    ("the entry (span, token)", "t0", "t1"),
    ("to the servicer (decode, bind)", "t1", "h0"),
    ("before the write", "h0", "w0"),
    ("hand-off to the worker", "w0", "u0"),
    ("unit of work", "u0", "u1"),
    ("  its Python before the statement", "u0", "s0"),
    ("  the statement, committed", "s0", "s1"),
    ("  after it (commit, check-in)", "s1", "u1"),
    ("hand-back to the loop", "u1", "w1"),
    ("the answer", "w1", "h1"),
    ("out: answer to client", "h1", "c1"),
)


def _instrument(path: str) -> None:
    """Inside the service: wrap the create path's steps and the relay's and chainer's work with timestamps
    (one JSON line per create to ``path``; the background work to ``path.bg`` at exit)."""
    import atexit

    from jitlib import audit, auth, db, outbox, server, sqlexec
    from services.tasks import servicer

    stamps = Stamps("bench_stamp")
    stamp, first = stamps.current, stamps.first
    out = open(path, "w", buffering=1 << 16)  # noqa: SIM115 (closed at exit)
    background: list[tuple[str, int, int]] = []

    wrap = server.CallEntry.wrap

    def entry_wrap(self: Any, method: str, handler: Any) -> Any:
        wrapped = wrap(self, method, handler)
        if not method.endswith("/CreateTask"):
            return wrapped
        behaviour = wrapped.unary_unary

        async def stamped(request: Any, context: Any) -> Any:
            stamp.set({"t0": now()})
            return await behaviour(request, context)

        return wrapped._replace(unary_unary=stamped)

    create = servicer.TaskServicer.CreateTask

    async def create_task(self: Any, request: Any, context: Any) -> Any:
        d = stamp.get() or {}
        d["h0"] = now()
        try:
            return await create(self, request, context)
        finally:
            d["h1"] = now()
            out.write(json.dumps(d) + "\n")

    write_sync = db.Database.write_sync

    def db_write_sync(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        start = now()
        try:
            return write_sync(self, fn, *args, **kwargs)
        finally:
            if stamp.get() is None:
                background.append(("transaction", start, now()))
            else:
                first("u0", start)
                first("u1", now())

    def timed(kind: str, method: Any) -> Any:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = now()
            try:
                return await method(*args, **kwargs)
            finally:
                background.append((kind, start, now()))

        return wrapper

    server.CallEntry.wrap = entry_wrap  # type: ignore[method-assign]
    auth.TokenVerifier.verify = stamps.ended("t1", auth.TokenVerifier.verify)  # type: ignore[method-assign]
    servicer.TaskServicer.CreateTask = create_task  # type: ignore[method-assign]
    db.Database.write = stamps.awaited("w0", "w1", db.Database.write)  # type: ignore[method-assign]
    db.Database.write_sync = db_write_sync  # type: ignore[method-assign]
    sqlexec.Batch.send = stamps.stamped("s0", "s1", sqlexec.Batch.send, at_end=True)  # type: ignore[method-assign]
    db.Database._write_on_loop = stamps.awaited("u0", "u1", db.Database._write_on_loop, at_end=True)  # type: ignore[method-assign]
    db._LoopStatements.send = stamps.awaited("s0", "s1", db._LoopStatements.send, at_end=True)  # type: ignore[method-assign]
    outbox.OutboxRelay._publish = timed("publish", outbox.OutboxRelay._publish)  # type: ignore[method-assign]
    outbox.OutboxRelay._mark_sent = timed("mark", outbox.OutboxRelay._mark_sent)  # type: ignore[method-assign]
    audit.Chainer.link_pending = timed("link", audit.Chainer.link_pending)  # type: ignore[method-assign]

    if os.environ.get(NO_PUBLISH_ENV):

        async def unsent(self: Any, *args: Any) -> None:
            return None

        outbox.OutboxRelay._send = unsent  # type: ignore[method-assign]

    def dump() -> None:
        out.close()
        Path(path + ".bg").write_text("".join(json.dumps(b) + "\n" for b in background))

    atexit.register(dump)


async def _creates(port: int, token: str, calls: int, into: list[tuple[int, int]]) -> None:
    from jit.tasks.v1 import tasks_pb2_grpc

    md = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = tasks_pb2_grpc.TaskServiceStub(ch)
        for i in range(calls):
            request = br.create_request(i)
            start = now()
            await stub.CreateTask(request, metadata=md, timeout=30)
            into.append((start, now()))


async def _echoes(port: int, calls: int, into: list[tuple[int, int]]) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        echo = ch.unary_unary("/bench.Echo/Echo")
        for _ in range(calls):
            start = now()
            await echo(b"x" * 200)
            into.append((start, now()))


def _ms(values: list[int], q: float = 0.5) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] / 1e6 if ordered else float("nan")


def _overlaps(intervals: list[tuple[int, int]], start: int, end: int) -> bool:
    i = bisect.bisect_left(intervals, (start - 100_000_000, 0))
    return any(s < end and e > start for s, e in intervals[i : i + 50])


def _report(backend: str, calls: list[tuple[int, int]], echo: list[tuple[int, int]], stamps: Path) -> None:
    server = [json.loads(line) for line in stamps.read_text().splitlines()][-len(calls) :]
    background = [tuple(json.loads(line)) for line in Path(f"{stamps}.bg").read_text().splitlines()]
    floor = statistics.median(e - s for s, e in echo) / 1e6
    rows = [{**s, "c0": c0, "c1": c1} for (c0, c1), s in zip(calls, server, strict=True) if c0 <= s["t0"] <= c1]
    print(f"STEP {backend} grpc_echo_floor p50_ms={floor:.3f} calls={len(rows)}")
    for label, a, b in STEPS:
        values = [r[b] - r[a] for r in rows if a in r and b in r]
        if values:
            p50 = _ms(values)
            p90 = _ms(values, 0.9)
            print(f"STEP {backend} {label:34s} p50_ms={p50:.3f} p90_ms={p90:.3f} ratio_p50={p50 / floor:.2f}")
    first, last = calls[0][0], calls[-1][1]
    for kind in ("publish", "mark", "link", "transaction"):
        mine = [(s, e) for k, s, e in background if k == kind and first <= s <= last]
        total = sum(e - s for s, e in mine) / 1e6
        each = total / len(rows)
        print(f"STEP {backend} background {kind}: {len(mine)} taking {total:.1f} ms, {each:.3f} ms a create")
    beside = sorted((s, e) for k, s, e in background if k == "transaction")
    alone = [r["u1"] - r["u0"] for r in rows if not _overlaps(beside, r["u0"], r["u1"])]
    shared = [r["u1"] - r["u0"] for r in rows if _overlaps(beside, r["u0"], r["u1"])]
    print(
        f"STEP {backend} unit of work alone p50_ms={_ms(alone):.3f} (n={len(alone)}); beside a relay or chainer "
        f"transaction p50_ms={_ms(shared):.3f} (n={len(shared)})"
    )
    publishes = sorted((s, e) for k, s, e in background if k == "publish")
    during = [r["t0"] - r["c0"] for r in rows if _overlaps(publishes, r["c0"], r["t0"])]
    clear = [r["t0"] - r["c0"] for r in rows if not _overlaps(publishes, r["c0"], r["t0"])]
    print(
        f"STEP {backend} in: client to the entry during a publish p50_ms={_ms(during):.3f} (n={len(during)}); "
        f"without p50_ms={_ms(clear):.3f} (n={len(clear)})"
    )


def _measure(
    backend: str,
    url: str,
    nats_url: str,
    jwks: Path,
    token: str,
    echo_port: int,
    work: Path,
    calls: int,
    no_publish: bool = False,
) -> None:
    from jitdev.procs import free_port, spawn, terminate, wait_until
    from jitdev.stack import _grpc_healthy

    port = free_port()
    stamps = work / f"steps-{backend}.jsonl"
    args = [sys.executable, "-m", "bench.create_steps", "serve", "tasks", "--db", url, "--nats", nats_url]
    args += ["--jwks", str(jwks), "--issuer", br.ISSUER, "--port", str(port)]
    log = work / f"tasks-{backend}.log"
    proc = spawn(args, log, env={STAMPS_ENV: str(stamps), NO_PUBLISH_ENV: "1" if no_publish else ""}, cwd=br.ROOT)
    try:
        wait_until(lambda: _grpc_healthy(port), 60, "tasks service", log, proc)
        time.sleep(1.0)  # the workspace directory catches up
        asyncio.run(_creates(port, token, 200, []))  # warm-up: the token verified, the content key read
        done: list[tuple[int, int]] = []
        echo: list[tuple[int, int]] = []
        for _ in range(3):  # interleaved with the floor
            asyncio.run(_echoes(echo_port, calls // 3, echo))
            asyncio.run(_creates(port, token, calls // 3, done))
    finally:
        terminate(proc, timeout=30)  # SIGTERM: the service stops and writes its stamps
    _report(backend, done, echo, stamps)


def main() -> int:
    if serve_instrumented(_instrument, STAMPS_ENV, "bench.servers"):
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--calls", type=int, default=1500, help="creates measured per backend (after 200 warm-up)")
    p.add_argument(
        "--no-publish",
        action="store_true",
        help="the relay sends nothing to NATS (its events marked sent unsent): what its publishes cost a create",
    )
    a = p.parse_args()
    from jitdev.nats import NatsInstance
    from jitdev.postgres import PostgresInstance
    from jitdev.procs import free_port, terminate, wait_until

    work = Path(tempfile.mkdtemp(prefix="jit-bench-steps-"))
    jwks, token = br.make_key(work)
    nats_i = NatsInstance(free_port(), work / "nats", work / "nats.log").start()
    pg = PostgresInstance(free_port(), work / "pg" / "data", work / "pg.log", durable=True)
    echo_proc = None
    try:
        asyncio.run(br.announce_workspace(nats_i.url))
        echo_port = free_port()
        echo_proc = br.start(["echo"], work / "echo.log", echo_port)
        wait_until(lambda: br._port_ready(echo_port), 30, "echo server")
        for backend in a.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{work / 'steps-tasks.db'}"
            else:
                if pg.process is None:
                    pg.start()
                url = pg.create_database(f"steps_{uuid.uuid4().hex[:8]}")
            _measure(backend, url, nats_i.url, jwks, token, echo_port, work, a.calls, a.no_publish)
    finally:
        if echo_proc is not None:
            terminate(echo_proc, timeout=20)
        nats_i.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
