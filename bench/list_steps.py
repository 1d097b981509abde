"""Where one list call's time goes, step by step, end to end (issue 17): ``ListTasks`` and ``ListRequests``,
the first page of 50, at concurrency 1, on SQLite and on a durable PostgreSQL.

The records are seeded as ``bench.lists`` seeds them (``--records`` of each; a page costs what it costs in
100,000, bench/README.md, Lists). The two services run in processes of their own with timestamps taken
inside them at each step of a list; the client takes its own around each call and around its decoding of
the answer. Every process reads ``time.perf_counter_ns`` (CLOCK_MONOTONIC, one clock for the machine), so a
call splits into: its way in (the client's encoding, the transport, gRPC's dispatch), the call entry
(``jitlib.server.CallEntry``: its span, the token), the request decoded and the caller bound, the steps
before the list's units
(validation, the filter, the workspaces and the policy), the audit entry's unit and the page's read (on
SQLite each inline on the loop, one after the other; on PostgreSQL each handed to a worker thread, side by
side: their hand-offs and hand-backs), within the read the page's statements, its rows with their text
opened and the domain records, then the answer's view (allowed actions, its messages' fields), gRPC's encoding of the
answer, its way out, and the client's decoding. One line per step, the median over the calls:

    STEP <backend> <list> <step> p50_ms=<x> p90_ms=<y> ratio_p50=<x / echo p50 of the same run>

    python -m bench.list_steps [--backends sqlite,postgresql] [--records 20000] [--calls 600] [--page due]

``--page due``: the first page of each list's due window as ``bench.lists`` asks it (tasks due in 30 to 44
days, requests with a deadline within 7 days; a window of 50 requests needs ``--records 100000``).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from bench.create_steps import _ms
from bench.stamps import Stamps, now, serve_instrumented

if TYPE_CHECKING:
    from bench.lists import Stage

STAMPS_ENV = "JIT_BENCH_LIST_STAMPS"
WORKSPACE = "jit-bench"
PAGE = 50

#: (label, from stamp, to stamp), in a call's order; c* are the client's stamps, the others the service's
#: (``_instrument``). A label starting with "  " is a part of the step above it.
STEPS = (
    ("total", "c0", "c1"),
    ("in: client to the call entry", "c0", "t0"),
    ("the entry: span, token (cached)", "t0", "t1"),
    ("to the handler", "t1", "h0"),
    ("  the request decoded", "d0", "d1"),
    ("before the units (checks, policy)", "h0", "a0"),
    ("the units, both awaited", "a0", "a1"),
    ("  audit: awaited", "w0", "w1"),
    ("  audit: to its unit (hand-off)", "w0", "u0"),
    ("  audit: its unit", "u0", "u1"),
    ("  audit: back to the loop", "u1", "w1"),
    ("  read: awaited", "r0", "r1"),
    ("  read: to its unit (hand-off)", "r0", "q0"),
    ("  read: its unit", "q0", "q1"),
    ("    list_answered", "p0", "p1"),
    ("      the page (statements, rows opened)", "g0", "g1"),
    ("      its statements (sum)", "+sql", None),
    ("      the stored answers opened", "o0", "o1"),
    ("  read: back to the loop", "q1", "r1"),
    ("the answer's view", "a1", "h1"),
    ("  allowed actions (sum)", "+allowed", None),
    ("  the messages' fields (sum; each message made in the answer)", "+pb", None),
    ("handler to encoding", "h1", "s0"),
    ("the answer encoded", "s0", "s1"),
    ("out: encoded to client", "s1", "k0"),
    ("the client decodes", "k0", "k1"),
    ("decoded to the caller", "k1", "c1"),
)


def _instrument(path: str) -> None:
    """Inside a service: stamp each list call's steps (one JSON line a call to ``path`` at exit)."""
    import atexit

    from jitlib import auth, db, records, server, sqlexec

    stamps = Stamps("bench_list_stamp")
    stamp, stamped, summed, awaited = stamps.current, stamps.stamped, stamps.summed, stamps.awaited
    calls: list[dict[str, int]] = []

    wrap = server.CallEntry.wrap

    def entry_wrap(self: Any, method: str, handler: Any) -> Any:
        if not method.endswith(("/ListTasks", "/ListRequests")):
            return wrap(self, method, handler)
        decode = stamped("d0", "d1", handler.request_deserializer)
        wrapped = wrap(self, method, handler._replace(request_deserializer=decode))
        behaviour = wrapped.unary_unary

        async def entered(request: Any, context: Any) -> Any:
            d = {"t0": now()}
            stamp.set(d)
            calls.append(d)
            return await behaviour(request, context)

        return wrapped._replace(unary_unary=entered)

    passing = server._passing

    def passing_timed(serialize: Any) -> Any:
        return stamped("s0", "s1", passing(serialize))

    traced = db.Database._traced

    def traced_timed(self: Any, mode: str, unit: Any) -> Any:
        keys = ("u0", "u1") if mode == "write" else ("q0", "q1")
        return stamped(*keys, traced)(self, mode, unit)

    server.CallEntry.wrap = entry_wrap  # type: ignore[method-assign]
    auth.TokenVerifier.verify = stamps.ended("t1", auth.TokenVerifier.verify)  # type: ignore[method-assign]
    server._passing = passing_timed
    db.Database._traced = traced_timed  # type: ignore[method-assign]
    db.Database.write = awaited("w0", "w1", db.Database.write)  # type: ignore[method-assign]
    db.Database.read = awaited("r0", "r1", db.Database.read)  # type: ignore[method-assign]
    db.RecordTable.page = stamped("g0", "g1", db.RecordTable.page)  # type: ignore[method-assign]
    sqlexec.CompiledSelect.converted = summed("+sql", sqlexec.CompiledSelect.converted)  # type: ignore[method-assign]
    records.RecordPath.list_audited = awaited("a0", "a1", records.RecordPath.list_audited)  # type: ignore[method-assign]

    from jitlib import answers
    from services.evidence import domain as evidence_domain
    from services.evidence import servicer as evidence_servicer
    from services.evidence import store as evidence_store
    from services.tasks import domain as tasks_domain
    from services.tasks import servicer as tasks_servicer
    from services.tasks import store as tasks_store

    tasks_store.list_answered = stamped("p0", "p1", tasks_store.list_answered)  # type: ignore[assignment]
    evidence_store.list_answered = stamped("p0", "p1", evidence_store.list_answered)  # type: ignore[assignment]
    answers.Answers.opened = stamped("o0", "o1", answers.Answers.opened)  # type: ignore[method-assign]
    for module in (tasks_domain, evidence_domain):
        setattr(module, "allowed_actions", summed("+allowed", module.allowed_actions))  # noqa: B010
    for module in (tasks_domain, evidence_domain):
        setattr(module, "offered", summed("+allowed", module.offered))  # noqa: B010
    tasks_servicer.task_fields = summed("+pb", tasks_servicer.task_fields)  # type: ignore[assignment]
    evidence_servicer.request_fields = summed("+pb", evidence_servicer.request_fields)  # type: ignore[assignment]

    tasks_servicer.TaskServicer.ListTasks = awaited("h0", "h1", tasks_servicer.TaskServicer.ListTasks)  # type: ignore[method-assign]
    evidence = evidence_servicer.EvidenceServicer
    evidence.ListRequests = awaited("h0", "h1", evidence.ListRequests)  # type: ignore[method-assign]

    def dump() -> None:
        Path(path).write_text("".join(json.dumps(d) + "\n" for d in calls))

    atexit.register(dump)


# -- the client ---------------------------------------------------------------------------------------


class _Client:
    """The two list calls and the echo, each stamped: c0 before the call, k0/k1 around the answer's
    decoding, c1 when the caller has it."""

    def __init__(self, ports: dict[str, int], echo_port: int, token: str, page: str = "first") -> None:
        from jit.evidence.v1 import evidence_pb2
        from jit.tasks.v1 import tasks_pb2

        self.page = page

        self.md = (("authorization", f"Bearer {token}"),)
        self.channels = [grpc.aio.insecure_channel(f"127.0.0.1:{p}") for p in (ports["tasks"], ports["evidence"])]
        self.echo_channel = grpc.aio.insecure_channel(f"127.0.0.1:{echo_port}")
        self.last: dict[str, int] = {}
        self.sizes: dict[str, int] = {}
        self.calls = {
            "tasks": self._list(
                "tasks", "TaskService/ListTasks", tasks_pb2.ListTasksRequest, tasks_pb2.ListTasksResponse
            ),
            "requests": self._list(
                "requests",
                "EvidenceService/ListRequests",
                evidence_pb2.ListRequestsRequest,
                evidence_pb2.ListRequestsResponse,
            ),
        }
        self.echo = self.echo_channel.unary_unary("/bench.Echo/Echo")

    def _list(self, kind: str, method: str, request: Any, answer: Any) -> tuple[Any, Any]:
        """The list call ``method`` of ``kind``'s service, its ``answer`` decoded and stamped; and the request
        of its first page, of the whole list or (``page`` "due") of the due window ``bench.lists`` asks."""
        from bench.lists import _ts

        package = "jit.tasks.v1" if kind == "tasks" else "jit.evidence.v1"
        call = self.channels[0 if kind == "tasks" else 1].unary_unary(
            f"/{package}.{method}",
            request_serializer=request.SerializeToString,
            response_deserializer=self._decoder(kind, answer.FromString),
        )
        window: dict[str, Any] = {}
        if self.page == "due":
            at = datetime.now(UTC)
            if kind == "tasks":
                window = {"due_after": _ts(at + timedelta(days=30)), "due_before": _ts(at + timedelta(days=44))}
            else:
                window = {"deadline_before": _ts(at + timedelta(days=7))}
        return call, request(workspace_id=WORKSPACE, page_size=PAGE, **window)

    def _decoder(self, kind: str, decode: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
        def decoder(data: bytes) -> Any:
            self.last["k0"] = now()
            try:
                return decode(data)
            finally:
                self.last["k1"] = now()
                self.sizes[kind] = len(data)

        return decoder

    async def lists(self, kind: str, n: int, into: list[dict[str, int]]) -> None:
        call, request = self.calls[kind]
        for _ in range(n):
            self.last = {"c0": now()}
            answer = await call(request, metadata=self.md, timeout=60)
            self.last["c1"] = now()
            if len(answer.tasks if kind == "tasks" else answer.requests) != PAGE:
                raise RuntimeError(f"{kind}: a page not of {PAGE} (a due window needs more records: --records)")
            into.append(self.last)

    async def echoes(self, n: int, into: list[int]) -> None:
        payload = b"x" * 200
        for _ in range(n):
            start = now()
            await self.echo(payload)
            into.append(now() - start)

    async def close(self) -> None:
        for ch in (*self.channels, self.echo_channel):
            await ch.close()


async def _run_client(
    ports: dict[str, int], echo_port: int, token: str, calls: int, rounds: int, page: str
) -> tuple[dict[str, list[dict[str, int]]], list[int], dict[str, int]]:
    client = _Client(ports, echo_port, token, page)
    try:
        for kind in ("tasks", "requests"):  # warm-up: the token verified, the content keys read
            await client.lists(kind, 30, [])
        await client.echoes(50, [])
        done: dict[str, list[dict[str, int]]] = {"tasks": [], "requests": []}
        echo: list[int] = []
        for _ in range(rounds):  # interleaved with the floor
            await client.echoes(calls // rounds, echo)
            for kind in ("tasks", "requests"):
                await client.lists(kind, calls // rounds, done[kind])
        return done, echo, client.sizes
    finally:
        await client.close()


# -- the report ---------------------------------------------------------------------------------------


def _joined(client: list[dict[str, int]], server: list[dict[str, int]]) -> list[dict[str, int]]:
    """Each client call with the service's stamps of the same call (the one whose t0 falls inside it)."""
    server = sorted(server, key=lambda d: d["t0"])
    starts = [d["t0"] for d in server]
    out = []
    for c in client:
        i = bisect.bisect_left(starts, c["c0"])
        if i < len(server) and server[i]["t0"] <= c["c1"]:
            out.append({**server[i], **c})
    return out


def report(backend: str, kind: str, rows: list[dict[str, int]], floor: float, size: int) -> list[str]:
    lines = [f"STEP {backend} {kind} calls={len(rows)} answer_bytes={size}"]
    for label, a, b in STEPS:
        # A sum (b None) is kept per call under its own key; a step is the time between two stamps.
        values = [r[a] for r in rows if a in r] if b is None else [r[b] - r[a] for r in rows if a in r and b in r]
        if values:
            p50, p90 = _ms(values), _ms(values, 0.9)
            figures = f"p50_ms={p50:.3f} p90_ms={p90:.3f} ratio_p50={p50 / floor:.2f}"
            lines.append(f"STEP {backend} {kind} {label:42s} {figures}")
    return lines


# -- the run ------------------------------------------------------------------------------------------


def _measure(backend: str, urls: dict[str, str], st: Stage, calls: int, rounds: int, page: str) -> list[str]:
    """The two services on ``urls``, instrumented, measured by ``calls`` of each list and the echo in
    ``rounds``: the report's lines."""
    from bench.run import ISSUER
    from jitdev.procs import free_port, spawn, terminate, wait_until
    from jitdev.stack import _grpc_healthy

    ports, procs, stamps = {}, [], {}
    try:
        for service, url in urls.items():
            ports[service] = free_port()
            stamps[service] = st.work / f"stamps-{service}-{backend}.jsonl"
            args = [sys.executable, "-m", "bench.list_steps", "serve", service, "--port", str(ports[service])]
            args += ["--db", url, "--nats", st.nats.url, "--jwks", str(st.jwks), "--issuer", ISSUER]
            log = st.work / f"{service}-{backend}.log"
            procs.append((spawn(args, log, env={STAMPS_ENV: str(stamps[service])}, cwd=Path(__file__).parents[1]), log))
        for (proc, log), port in zip(procs, ports.values(), strict=True):
            wait_until(lambda port=port: _grpc_healthy(port), 120, "service", log, proc)
        time.sleep(1.0)  # the workspace directory catches up
        done, echo, sizes = asyncio.run(_run_client(ports, st.echo_port, st.token, calls, rounds, page))
    finally:
        for proc, _log in procs:
            terminate(proc, timeout=30)  # SIGTERM: the service stops and writes its stamps
    floor = statistics.median(echo) / 1e6
    lines = [f"STEP {backend} grpc_echo_floor p50_ms={floor:.3f} calls={len(echo)}"]
    for kind, service in (("tasks", "tasks"), ("requests", "evidence")):
        server = [json.loads(line) for line in stamps[service].read_text().splitlines()]
        name = kind if page == "first" else f"{kind}_{page}"
        lines += report(backend, name, _joined(done[kind], server), floor, sizes.get(kind, 0))
    return lines


def main() -> int:
    if serve_instrumented(_instrument, STAMPS_ENV, "bench.services"):
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--records", type=int, default=20_000, help="tasks, and evidence requests, seeded")
    p.add_argument("--calls", type=int, default=600, help="calls of each list measured per backend")
    p.add_argument("--rounds", type=int, default=6, help="rounds of echoes and lists the calls are split into")
    p.add_argument(
        "--page", choices=("first", "due"), default="first", help="the first page of each list, or of its due window"
    )
    a = p.parse_args()
    from bench.lists import staged

    with staged("jit-bench-list-steps-") as st:
        for backend in a.backends.split(","):
            urls = st.databases(backend, a.records)
            for line in _measure(backend, urls, st, a.calls, a.rounds, a.page):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
