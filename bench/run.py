"""`make bench`: CreateTask throughput and latency at concurrency 1 and 16, on SQLite and PostgreSQL,
next to a bare grpc.aio echo measured in the same run. One line per figure:

    BENCH <name> rps=<n> p50_ms=<x> p99_ms=<y> ratio_p50=<x / echo p50 at the same concurrency>

The create path measured is the real one: bearer-token check (the RS256 signature is verified on first
use, then the service's cache of verified tokens answers, as it does for a real client reusing its
token), validation, policy, the in-memory workspace directory, and one transaction writing the task, its
parties, the outbox event and the chained audit entry; the outbox relay publishes to a real NATS
JetStream meanwhile. Only the signing key is the benchmark's own (no Keycloak needed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from jit.common.v1 import common_pb2
from jit.tasks.v1 import tasks_pb2 as pb
from jitdev.nats import NatsInstance
from jitdev.postgres import PostgresInstance
from jitdev.procs import free_port, spawn, terminate, wait_until
from jitdev.stack import _grpc_healthy

ROOT = Path(__file__).resolve().parents[1]
ISSUER = "http://127.0.0.1:1/realms/bench"
BENCH_VICTIM = "V-NL-0001"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(call: Callable[[int], Awaitable[object]], total: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await call(i)
            latencies.append((time.perf_counter() - t0) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - start), latencies


def line(name: str, rps: float, lat: list[float], floor_p50: float) -> str:
    p50, p99 = statistics.median(lat), percentile(lat, 0.99)
    return f"BENCH {name} rps={rps:.0f} p50_ms={p50:.3f} p99_ms={p99:.3f} ratio_p50={p50 / floor_p50:.2f}"


async def bench_echo(port: int, total: int, concurrency: int) -> tuple[float, list[float]]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        echo = ch.unary_unary("/bench.Echo/Echo")
        payload = b"x" * 200  # about the size of a CreateTask request
        await measure(lambda i: echo(payload), 100, concurrency)  # warm-up
        return await measure(lambda i: echo(payload), total, concurrency)


def create_request(i: int, victim: str = "") -> pb.CreateTaskRequest:
    """The ``i``-th create of a run, as the benchmarks send it (a new ``request_id`` each)."""
    return pb.CreateTaskRequest(
        request_id=str(uuid.uuid4()),
        workspace_id="jit-bench",
        title=f"Identify account holder {i}",
        kind=pb.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
        assignee_jurisdiction="DE",
        victim_refs=[victim] if victim else [],
    )


async def bench_create(
    port: int, token: str, total: int, concurrency: int, victim: str = "", connections: int = 1
) -> tuple[float, list[float]]:
    """``CreateTask`` calls; with ``victim``, each task names that victim (one more read: is the pseudonym
    one the workspace registered, ``jitlib.victimdir``). With ``connections`` above 1, the calls take
    turns over that many connections (the kernel hands each new connection to one process of a service
    run as several; one connection would reach only one of them)."""
    from jit.tasks.v1 import tasks_pb2_grpc

    md = (("authorization", f"Bearer {token}"),)
    # A local subchannel pool each: channels to one address would otherwise share one connection.
    options = [("grpc.use_local_subchannel_pool", 1)] if connections > 1 else []
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) for _ in range(connections)]
    try:
        stubs = [tasks_pb2_grpc.TaskServiceStub(ch) for ch in channels]

        async def create(i: int) -> object:
            return await stubs[i % connections].CreateTask(create_request(i, victim), metadata=md, timeout=30)

        await measure(create, 100, concurrency)  # warm-up
        return await measure(create, total, concurrency)
    finally:
        for ch in channels:
            await ch.close()


def make_key(workdir: Path) -> tuple[Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "bench", "use": "sig", "alg": "RS256"})
    path = workdir / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": ISSUER,
            "typ": "Bearer",
            "azp": "jit-cli",
            "aud": "jit-services",
            "sub": "bench-user",
            "preferred_username": "bench-prosecutor",
            "iat": now,
            "exp": now + 3600,
            "jurisdiction": "NL",
            "realm_access": {"roles": ["prosecutor"]},
            "groups": ["/workspaces/jit-bench/NL"],
        },
        key,
        algorithm="RS256",
        headers={"kid": "bench"},
    )
    return path, token


async def announce_workspace(nats_url: str) -> None:
    import nats

    from jitlib import workspaces

    nc = await nats.connect(nats_url)
    ws = common_pb2.Workspace(
        id="jit-bench",
        name="bench",
        lead="NL",
        members=["NL", "DE", "IE"],
        status=common_pb2.WORKSPACE_STATUS_OPEN,
        version=1,
    )
    await workspaces.publish(nc.jetstream(), ws, common_pb2.Actor(username="bench"))
    await nc.close()
    await announce_victim(nats_url)


async def announce_victim(nats_url: str) -> None:
    """The victim the tasks of the ``create_task_victim`` measurement name, announced as the victims
    service does when it registers one (its pseudonym; no identity)."""
    import nats
    from google.protobuf import any_pb2

    from jit.events.v1.envelope_pb2 import Envelope
    from jit.victims.v1 import victims_pb2
    from jitlib.bus import ensure_stream, stream_for

    victim = victims_pb2.Victim(id=str(uuid.uuid4()), pseudonym=BENCH_VICTIM, workspace_id="jit-bench")
    victim.origin_jurisdiction = victim.victim_jurisdiction = "NL"
    state = any_pb2.Any()
    state.Pack(victim)
    env = Envelope(
        id=str(uuid.uuid4()),
        type="jit.victims.v1.VictimRegistered",
        workspace_id="jit-bench",
        origin_jurisdiction="NL",
        aggregate_type="victim",
        aggregate_id=victim.id,
        aggregate_version=1,
        state=state,
    )
    env.occurred_at.GetCurrentTime()
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_stream(js, stream_for("victims"))
    await js.publish("jit.victims.NL.registered", env.SerializeToString(), headers={"Nats-Msg-Id": env.id})
    await nc.close()


def start(args: list[str], log: Path, port: int) -> subprocess.Popen[bytes]:
    proc = spawn([sys.executable, "-m", "bench.servers", *args, "--port", str(port)], log, cwd=ROOT)
    return proc


def trial_line(name: str, trials: list[tuple[float, list[float]]], floor_p50: float) -> str:
    """One figure from its interleaved trials: calls per second and p50 as the median of the trials' own,
    the spread of the trials' p50s (min..max), p99 over every call of every trial, and the ratio of the
    p50 to the floor's (the median of its trials' p50s at the same concurrency)."""
    p50s = [statistics.median(lat) for _, lat in trials]
    every = [x for _, lat in trials for x in lat]
    rps = statistics.median(r for r, _ in trials)
    p50 = statistics.median(p50s)
    return (
        f"BENCH {name} rps={rps:.0f} p50_ms={p50:.3f} spread_ms={min(p50s):.3f}..{max(p50s):.3f} "
        f"p99_ms={percentile(every, 0.99):.3f} ratio_p50={p50 / floor_p50:.2f} trials={len(trials)}"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=1000, help="calls per trial")
    p.add_argument("--trials", type=int, default=3, help="interleaved trials per figure (default 3)")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--concurrency", default="1,16")
    p.add_argument("--no-victim", action="store_true", help="skip the CreateTask naming a victim")
    p.add_argument("--profile", type=Path, help="profile each tasks service (pyinstrument); reports go here")
    p.add_argument(
        "--processes", type=int, default=1, help="processes of each tasks service, sharing its port (default 1)"
    )
    p.add_argument(
        "--connections",
        type=int,
        default=0,
        help="client connections the creates take turns over (default: 1, or 8 with --processes above 1)",
    )
    a = p.parse_args()
    # The floor stays one echo process; the service's process count is said next to its figures.
    connections = a.connections or (8 if a.processes > 1 else 1)
    print(f"BENCH_CONFIG tasks_processes={a.processes} create_connections={connections}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="jit-bench-"))
    jwks, token = make_key(work)
    nats_i = NatsInstance(free_port(), work / "nats", work / "nats.log").start()
    pg = PostgresInstance(free_port(), work / "pg" / "data", work / "pg.log", durable=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        asyncio.run(announce_workspace(nats_i.url))
        echo_port = free_port()
        procs.append(start(["echo"], work / "echo.log", echo_port))
        wait_until(lambda: _port_ready(echo_port), 30, "echo server")
        services: dict[str, int] = {}
        for backend in a.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{work / 'bench-tasks.db'}"
            else:
                if pg.process is None:
                    pg.start()
                url = pg.create_database(f"bench_{uuid.uuid4().hex[:8]}")
            port = free_port()
            args = ["tasks", "--db", url, "--nats", nats_i.url, "--jwks", str(jwks), "--issuer", ISSUER]
            if a.profile is not None:
                a.profile.mkdir(parents=True, exist_ok=True)
                args += ["--profile", str(a.profile.resolve() / f"tasks-{backend}.txt")]
            if a.processes > 1:
                args += ["--processes", str(a.processes)]
            log = work / f"tasks-{backend}.log"
            proc = start(args, log, port)
            procs.append(proc)
            wait_until(lambda port=port: _grpc_healthy(port), 60, "tasks service", log, proc)
            services[backend] = port
        time.sleep(1.0)  # let the workspace directory and the victims' pseudonyms catch up
        victims = ("",) if a.no_victim else ("", BENCH_VICTIM)
        for c in (int(x) for x in a.concurrency.split(",")):
            # Interleaved trials: floor, subject, floor, subject, ... so a busy or quiet spell of the shared
            # machine weighs on the floor and on every subject alike.
            floor: list[tuple[float, list[float]]] = []
            figures: dict[str, list[tuple[float, list[float]]]] = {}
            for _ in range(a.trials):
                for backend, port in services.items():
                    for victim in victims:
                        floor.append(asyncio.run(bench_echo(echo_port, a.requests, c)))
                        name = f"create_task_{'victim_' if victim else ''}{backend}_c{c}"
                        create = bench_create(port, token, a.requests, c, victim=victim, connections=connections)
                        figures.setdefault(name, []).append(asyncio.run(create))
            floor_p50 = statistics.median(statistics.median(lat) for _, lat in floor)
            print(trial_line(f"grpc_echo_floor_c{c}", floor, floor_p50), flush=True)
            for name, trials in figures.items():
                print(trial_line(name, trials, floor_p50), flush=True)
    finally:
        for proc in procs:
            terminate(proc, timeout=120 if a.profile else 20)  # a profiler writes its report at exit
        nats_i.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _port_ready(port: int) -> bool:
    from jitdev.procs import port_open

    return port_open(port)


if __name__ == "__main__":
    raise SystemExit(main())
