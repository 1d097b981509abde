"""What a call's way in and out costs, built up from the bare echo one thing at a time (issue 17).

Each step is a server of its own process, measured at concurrency 1 in interleaved trials with the bare
echo (the floor, ``bench.servers``): the floor, the first step, the floor, the next step, ... Each step
adds one thing to the step before it:

- ``token``: the bare echo, called with the bench's bearer token in the metadata (1 kB, as a Keycloak
  token), as ``bench.run`` calls ``CreateTask``;
- ``deadline``: and with a deadline, as ``bench.run`` calls it;
- ``entry``: the service's call entry around the echo (``jitlib.server.CallEntry``: the token from the
  cache of verified tokens, the call's span under the service's sampler, the caller bound);
- ``protobuf``: a ``CreateTaskRequest`` decoded and a ``CreateTaskResponse`` of a create's size encoded
  (the client's stub as ``bench.run``'s), instead of raw bytes;
- ``server``: the service's server as ``ServiceApp`` makes it (its options, the health and reflection
  services registered);
- ``loop``: a NATS client on the loop that publishes one event of a create's size to JetStream after each
  answer, as the outbox relay does.

and one step beside them, not built on them:

- ``wait``: the bare echo whose handler holds each call ``--wait-ms`` (busy) before answering, measured
  as each call's round trip less the time its handler took (the handler measures it and answers it): what
  the way in and out cost when the caller waits as long as a service's work takes, instead of the echo's
  fraction of a millisecond. Here that is 0.2 to 0.4 ms more than the echo's whole round trip at 1 to 2 ms
  (bench/README.md, the create section, session 48): every service call pays it, the floor's echo never.

One line per step:

    ENTRY <step> p50_ms=<median of the trials' medians> spread_ms=<a..b> over_floor_ms=<x> ratio_p50=<x>

    python -m bench.entry_steps [--calls 2000] [--trials 3] [--steps token,deadline,entry,...] [--wait-ms 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
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

STEPS = ("token", "deadline", "entry", "protobuf", "server", "loop")
#: Steps measured beside the chain, each on the bare echo.
BESIDE = ("wait",)
_METHOD = "/jit.tasks.v1.TaskService/CreateTask"


def _answer() -> bytes:
    """A CreateTaskResponse of the size a create answers (the task as created, with its actions)."""
    from google.protobuf.timestamp_pb2 import Timestamp

    from jit.common.v1 import common_pb2
    from jit.tasks.v1 import tasks_pb2 as pb

    at = Timestamp(seconds=int(time.time()), nanos=123_456_000)
    actor = common_pb2.Actor(user_id=str(uuid.uuid4()), username="bench-prosecutor", jurisdiction="NL")
    task = pb.Task(
        id=str(uuid.uuid4()),
        workspace_id="jit-bench",
        title="Identify account holder 12345",
        kind=pb.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
        origin_jurisdiction="NL",
        assignee_jurisdiction="DE",
        priority=pb.TASK_PRIORITY_NORMAL,
        state=pb.TASK_STATE_ASSIGNED,
        version=1,
        created_by=actor,
        created_at=at,
        updated_by=actor,
        updated_at=at,
        allowed_actions=["cancel", "renegotiate"],
    )
    return pb.CreateTaskResponse(task=task).SerializeToString()


async def _serve_wait(port: int, wait_ms: float) -> None:
    """The ``wait`` step's server: the bare echo's, each call held ``wait_ms`` busy, answering with how
    long its handler took (nanoseconds, 8 bytes)."""

    held_ns = int(wait_ms * 1e6)

    async def held(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        start = now = time.perf_counter_ns()
        while now - start < held_ns:  # busy, as a service's loop is with a call's work (asleep, it would idle too)
            now = time.perf_counter_ns()
        return (now - start).to_bytes(8, "big")

    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(held)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Echo", {"Wait": handler}),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


async def _waited(port: int, calls: int) -> list[float]:
    """``calls`` calls of the ``wait`` step at concurrency 1, after a warm-up: each round trip (ms) less the
    time its handler took."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        wait = ch.unary_unary("/bench.Echo/Wait")
        payload = b"x" * 200
        out: list[float] = []
        for i in range(200 + calls):
            start = time.perf_counter_ns()
            held = int.from_bytes(await wait(payload), "big")
            if i >= 200:
                out.append((time.perf_counter_ns() - start - held) / 1e6)
        return out


async def _serve(step: str, port: int, jwks_path: Path, nats_url: str) -> None:
    """The server of ``step`` (each step has the things of the steps before it)."""
    import json

    from jitlib.auth import JwksCache, TokenVerifier
    from jitlib.config import CommonSettings
    from jitlib.server import CallEntry
    from jitlib.telemetry import setup_tracing

    level = STEPS.index(step)
    keys = json.loads(jwks_path.read_text())  # noqa: ASYNC240 (before the server starts)
    options: list[tuple[str, Any]] = []
    concurrency: int | None = None
    if level >= STEPS.index("server"):
        from services.tasks.app import TasksSettings

        settings = TasksSettings()
        options = [("grpc.max_receive_message_length", settings.max_request_bytes), ("grpc.so_reuseport", 0)]
        concurrency = settings.max_concurrent_rpcs
    server = grpc.aio.server(options=options, maximum_concurrent_rpcs=concurrency)
    if level >= STEPS.index("entry"):
        setup_tracing("jit-bench-entry", CommonSettings())
        cache = JwksCache("http://127.0.0.1:1/unused", min_refresh_seconds=1e9)
        cache.set_keys(keys)
        verifier = TokenVerifier(issuer=br.ISSUER, audience="jit-services", jwks=cache, algorithms=["RS256"])
        server = CallEntry(verifier).server(server)
    publish: Any = None
    if level >= STEPS.index("loop"):
        import nats

        client = await nats.connect(nats_url)
        js = client.jetstream()
        await js.add_stream(name="BENCH_ENTRY", subjects=["bench.entry.>"])
        event = os.urandom(900)
        pending: set[asyncio.Task[Any]] = set()

        def publish() -> None:
            task = asyncio.get_running_loop().create_task(js.publish("bench.entry.created", event))
            pending.add(task)
            task.add_done_callback(pending.discard)

    answer = _answer()
    if level >= STEPS.index("protobuf"):
        from jit.tasks.v1 import tasks_pb2 as pb

        response = pb.CreateTaskResponse.FromString(answer)

        async def create(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if publish is not None:
                publish()
            return response

        handler = grpc.unary_unary_rpc_method_handler(
            create, pb.CreateTaskRequest.FromString, pb.CreateTaskResponse.SerializeToString
        )
    else:

        async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            return request

        handler = grpc.unary_unary_rpc_method_handler(echo)
    service, _, method = _METHOD.lstrip("/").partition("/")
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {method: handler}),))
    if level >= STEPS.index("server"):
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc
        from grpc_reflection.v1alpha import reflection

        checker = health.aio.HealthServicer()  # type: ignore[attr-defined]
        health_pb2_grpc.add_HealthServicer_to_server(checker, server)
        names = [service, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME]
        reflection.enable_server_reflection(names, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


async def _calls(step: str, port: int, token: str, calls: int) -> list[float]:
    """``calls`` calls at concurrency 1 to ``step``'s server (the floor: ``echo``), after a warm-up."""
    from jit.tasks.v1 import tasks_pb2_grpc

    if step == "wait":
        return await _waited(port, calls)

    md = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        if step == "echo":
            echo = ch.unary_unary("/bench.Echo/Echo")
            payload = b"x" * 200

            async def call(i: int) -> object:
                return await echo(payload)
        elif STEPS.index(step) < STEPS.index("protobuf"):
            raw = ch.unary_unary(_METHOD)
            payload = b"x" * 200
            timeout = None if step == "token" else 30

            async def call(i: int) -> object:
                return await raw(payload, metadata=md, timeout=timeout)
        else:
            stub = tasks_pb2_grpc.TaskServiceStub(ch)

            async def call(i: int) -> object:
                return await stub.CreateTask(br.create_request(i), metadata=md, timeout=30)

        await br.measure(call, 200, 1)
        _, latencies = await br.measure(call, calls, 1)
        return latencies


def main() -> int:
    if sys.argv[1:2] == ["serve"]:
        step, port, jwks, nats_url = sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5]
        if step == "wait":
            asyncio.run(_serve_wait(port, float(sys.argv[6])))
        else:
            asyncio.run(_serve(step, port, jwks, nats_url))
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=2000, help="calls per trial of each step and of the floor")
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--steps", default=",".join(STEPS + BESIDE))
    p.add_argument("--wait-ms", type=float, default=1.0, help="how long the wait step holds each call")
    a = p.parse_args()
    steps = [s for s in a.steps.split(",") if s]
    unknown = set(steps) - set(STEPS + BESIDE)
    if unknown:
        raise SystemExit(f"unknown steps: {', '.join(sorted(unknown))} (known: {', '.join(STEPS + BESIDE)})")
    from jitdev.nats import NatsInstance
    from jitdev.procs import free_port, spawn, terminate, wait_until

    work = Path(tempfile.mkdtemp(prefix="jit-bench-entry-"))
    jwks, token = br.make_key(work)
    nats_i = NatsInstance(free_port(), work / "nats", work / "nats.log").start()
    procs = []
    try:
        ports = {"echo": free_port()}
        procs.append(br.start(["echo"], work / "echo.log", ports["echo"]))
        for step in steps:
            ports[step] = free_port()
            args = [sys.executable, "-m", "bench.entry_steps", "serve", step, str(ports[step]), str(jwks), nats_i.url]
            args += [str(a.wait_ms)] if step == "wait" else []
            procs.append(spawn(args, work / f"{step}.log", cwd=br.ROOT))
        for name, port in ports.items():
            wait_until(lambda port=port: br._port_ready(port), 30, f"{name} server", work / f"{name}.log")
        medians: dict[str, list[float]] = {name: [] for name in ports}
        for _ in range(a.trials):  # interleaved: the floor before each step
            for step in steps:
                for name in ("echo", step):
                    medians[name].append(statistics.median(asyncio.run(_calls(name, ports[name], token, a.calls))))
        floor = statistics.median(medians["echo"])
        for name in ["echo", *steps]:
            values = medians[name]
            p50 = statistics.median(values)
            print(
                f"ENTRY {name:12s} p50_ms={p50:.3f} spread_ms={min(values):.3f}..{max(values):.3f} "
                f"over_floor_ms={p50 - floor:.3f} ratio_p50={p50 / floor:.2f} trials={len(values)}"
            )
    finally:
        for proc in procs:
            terminate(proc, timeout=20)
        nats_i.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
