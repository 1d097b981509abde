"""A mixed load on the four services a case moves through, for ``--minutes`` (default 10), at concurrency
16: creates, transitions, lists and messages, each service in its own process as in production (NATS
JetStream, SQLite by default; ``--backend postgresql`` for a durable PostgreSQL). One line per call kind,
the errors, and each service process's memory:

    BENCH mixed_<kind> calls=<n> p50_ms=<x> p99_ms=<y> ratio_p50=<x / echo p50 at the same concurrency>
    BENCH mixed_errors count=<n>
    BENCH mixed_rss_<service> start_mib=<a> half_mib=<b> end_mib=<c> peak_mib=<d> growth_mib=<c - a> bound_mib=<n>
    BENCH mixed_cpu_<service> cpu_s=<CPU seconds used> ms_per_round=<CPU ms per round>

Each of the 16 workers plays the same round of a case, over and over, with tokens of the users who may
make each call: an NL prosecutor creates a task for DE, lists the tasks, and a DE prosecutor accepts it;
the NL prosecutor creates an EIO for DE, issues it and lists the requests; an NL police liaison creates a
preservation order, issues it and lists the orders; the NL prosecutor posts a message in the workspace's
channel and reads the latest 50. The gRPC echo floor is measured at concurrency 16 before the load.

Memory: each service's resident set (VmRSS) after the first tenth of the run (the warm-up: imports, pools,
caches filling), at half time, at the end, and its peak (sampled every 2 s). The run fails (exit 1) when
any call failed or a process grew by more than ``--rss-bound-mib`` from the start sample to the end
(default 64 MiB, plus on SQLite the page caches a service's connections may fill: 4 x 16 MiB);
bench/README.md says why that bound.

CPU: each service's CPU time (user + system) from the start of the load until it is idle again after the
load (a consumer's backlog included), per round played: what the load cost each process, a figure that
the machine's other work moves much less than the latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from bench import services
from bench.run import ISSUER, announce_workspace, bench_echo, percentile, start
from jitdev.nats import NatsInstance
from jitdev.postgres import PostgresInstance
from jitdev.procs import free_port, port_open, terminate, wait_until
from jitdev.stack import _grpc_healthy
from jitlib import db

WORKSPACE = "jit-bench"
CONCURRENCY = 16


#: The growth allowed to what a process keeps besides SQLite's page caches (bench/README.md says why).
REST_BOUND_MIB = 64.0


def sqlite_cache_bound_mib() -> float:
    """The most a SQLite service's page caches hold once filled: one cache per connection its pool may open
    (``jitlib.db``), each filled as the database grows past it; memory a leak-free process may still gain."""
    connections = db.SQLITE_POOL_SIZE + db.SQLITE_POOL_OVERFLOW
    return connections * db.SQLITE_CACHE_KIB / 1024


def cpu_seconds(pid: int) -> float:
    """The CPU time process ``pid`` has used (user + system, from /proc/<pid>/stat), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drained_cpu(pid: int, *, quiet: float = 0.05, most: float = 120.0) -> float:
    """``cpu_seconds`` once the process has caught up with what the load left it (a consumer's backlog):
    when a second passes with less than ``quiet`` seconds of CPU used (at most ``most`` seconds)."""
    last = cpu_seconds(pid)
    deadline = time.monotonic() + most
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = cpu_seconds(pid)
        if now - last < quiet:
            return now
        last = now
    return last


def rss_mib(pid: int) -> float:
    """The resident set of process ``pid`` in MiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Case:
    """One worker's round of a case across the four services; every call timed under its kind."""

    def __init__(self, channels: dict[str, grpc.aio.Channel], tokens: dict[str, str], channel_id: str) -> None:
        from jit.evidence.v1 import evidence_pb2_grpc
        from jit.messaging.v1 import messaging_pb2_grpc
        from jit.preservation.v1 import preservation_pb2_grpc
        from jit.tasks.v1 import tasks_pb2_grpc

        self.tasks = tasks_pb2_grpc.TaskServiceStub(channels["tasks"])
        self.evidence = evidence_pb2_grpc.EvidenceServiceStub(channels["evidence"])
        self.preservation = preservation_pb2_grpc.PreservationServiceStub(channels["preservation"])
        self.messaging = messaging_pb2_grpc.MessagingServiceStub(channels["messaging"])
        self.md = {who: (("authorization", f"Bearer {t}"),) for who, t in tokens.items()}
        self.channel_id = channel_id
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.first_error: dict[str, str] = {}

    async def _call(self, kind: str, rpc: Callable[..., Awaitable[Any]], request: Any, who: str) -> Any:
        t0 = time.perf_counter()
        try:
            resp = await rpc(request, metadata=self.md[who], timeout=60)
        except grpc.RpcError as exc:
            self.errors[kind] += 1
            self.first_error.setdefault(kind, f"{exc.code().name}: {exc.details()}"[:300])  # type: ignore[attr-defined]
            return None
        self.latencies[kind].append((time.perf_counter() - t0) * 1000)
        return resp

    async def round(self, i: int) -> None:
        from jit.evidence.v1 import evidence_pb2 as ev
        from jit.messaging.v1 import messaging_pb2 as msg
        from jit.preservation.v1 import preservation_pb2 as pr
        from jit.tasks.v1 import tasks_pb2 as tk

        created = await self._call(
            "create_task",
            self.tasks.CreateTask,
            tk.CreateTaskRequest(
                request_id=str(uuid.uuid4()),
                workspace_id=WORKSPACE,
                title=f"Identify the holder of account {i}",
                kind=tk.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
                assignee_jurisdiction="DE",
            ),
            "nl",
        )
        await self._call("list_tasks", self.tasks.ListTasks, tk.ListTasksRequest(workspace_id=WORKSPACE), "nl")
        if created is not None:
            accept = tk.AcceptTaskRequest(id=created.task.id, expected_version=created.task.version)
            await self._call("accept_task", self.tasks.AcceptTask, accept, "de")
        request = await self._call(
            "create_request",
            self.evidence.CreateRequest,
            ev.CreateRequestRequest(
                request_id=str(uuid.uuid4()),
                workspace_id=WORKSPACE,
                legal_basis=ev.LEGAL_BASIS_EIO,
                issuing_authority="Openbaar Ministerie",
                addressee_kind=ev.ADDRESSEE_KIND_MEMBER_STATE,
                addressee_jurisdiction="DE",
                data_categories=[ev.DATA_CATEGORY_SUBSCRIBER],
                targets=[ev.TargetIdentifier(type=ev.TARGET_TYPE_ACCOUNT_HANDLE, value=f"@harasser_{i}")],
                offence_category=ev.OFFENCE_CATEGORY_CYBERSTALKING,
                title=f"Subscriber data of account {i}",
            ),
            "nl",
        )
        if request is not None:
            await self._call(
                "issue_request", self.evidence.IssueRequest, ev.IssueRequestRequest(id=request.request.id), "nl"
            )
        listing = ev.ListRequestsRequest(workspace_id=WORKSPACE)
        await self._call("list_requests", self.evidence.ListRequests, listing, "nl")
        order = await self._call(
            "create_order",
            self.preservation.CreateOrder,
            pr.CreateOrderRequest(
                request_id=str(uuid.uuid4()),
                workspace_id=WORKSPACE,
                legal_basis=pr.LEGAL_BASIS_PROVIDER_VOLUNTARY,
                provider_id="socialnet-ie",
                targets=[pr.TargetIdentifier(kind=pr.TARGET_KIND_ACCOUNT_HANDLE, value=f"@harasser_{i}")],
                data_categories=[pr.DATA_CATEGORY_SUBSCRIBER],
                description=f"Posts of account {i}",
            ),
            "nl_liaison",
        )
        if order is not None:
            await self._call(
                "issue_order", self.preservation.IssueOrder, pr.IssueOrderRequest(id=order.order.id), "nl_liaison"
            )
        await self._call(
            "list_orders", self.preservation.ListOrders, pr.ListOrdersRequest(workspace_id=WORKSPACE), "nl"
        )
        posted = await self._call(
            "post_message",
            self.messaging.PostMessage,
            msg.PostMessageRequest(request_id=str(uuid.uuid4()), channel_id=self.channel_id, body=f"Update {i}"),
            "nl",
        )
        if posted is not None:
            after = max(0, posted.message.seq - 50)
            latest = msg.ListMessagesRequest(channel_id=self.channel_id, after_seq=after, page_size=50)
            await self._call("list_messages", self.messaging.ListMessages, latest, "nl")


async def run_load(
    ports: dict[str, int], tokens: dict[str, str], seconds: float, pids: dict[str, int], cpu_at_start: dict[str, float]
) -> Any:
    from jit.messaging.v1 import messaging_pb2 as msg
    from jit.messaging.v1 import messaging_pb2_grpc

    channels = {k: grpc.aio.insecure_channel(f"127.0.0.1:{p}") for k, p in ports.items()}
    try:
        stub = messaging_pb2_grpc.MessagingServiceStub(channels["messaging"])
        opened = await stub.OpenWorkspaceChannel(
            msg.OpenWorkspaceChannelRequest(workspace_id=WORKSPACE),
            metadata=(("authorization", f"Bearer {tokens['nl']}"),),
            timeout=60,
        )
        case = Case(channels, tokens, opened.channel.id)
        rss: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
        cpu_at_start.update({name: cpu_seconds(pid) for name, pid in pids.items()})
        begin = time.perf_counter()
        deadline = begin + seconds
        counter = iter(range(10**9))

        async def worker() -> None:
            while time.perf_counter() < deadline:
                await case.round(next(counter))

        async def sampler() -> None:
            while time.perf_counter() < deadline:
                for name, pid in pids.items():
                    rss[name].append((time.perf_counter() - begin, rss_mib(pid)))
                await asyncio.sleep(2.0)

        await asyncio.gather(sampler(), *(worker() for _ in range(CONCURRENCY)))
        for name, pid in pids.items():
            rss[name].append((time.perf_counter() - begin, rss_mib(pid)))
        return case, rss
    finally:
        for ch in channels.values():
            await ch.close()


def at(samples: list[tuple[float, float]], t: float) -> float:
    """The first sample taken at or after ``t`` seconds (the last one if none)."""
    return next((v for s, v in samples if s >= t), samples[-1][1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument(
        "--rss-bound-mib",
        type=float,
        default=None,
        help=f"largest growth allowed per process (default {REST_BOUND_MIB:g} MiB, plus on SQLite the page caches "
        f"of every connection a pool may open: {sqlite_cache_bound_mib():g} MiB)",
    )
    p.add_argument("--keep", action="store_true", help="keep the work folder (databases, logs)")
    a = p.parse_args()
    if a.rss_bound_mib is None:
        a.rss_bound_mib = REST_BOUND_MIB + (sqlite_cache_bound_mib() if a.backend == "sqlite" else 0.0)
    work = Path(tempfile.mkdtemp(prefix="jit-bench-mixed-"))
    realm = services.Realm(work, ISSUER)
    tokens = {
        "nl": realm.token("NL", "prosecutor"),
        "nl_liaison": realm.token("NL", "police_liaison"),
        "de": realm.token("DE", "prosecutor"),
    }
    nats_i = NatsInstance(free_port(), work / "nats", work / "nats.log").start()
    pg = PostgresInstance(free_port(), work / "pg" / "data", work / "pg.log", durable=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    failed = True
    try:
        asyncio.run(announce_workspace(nats_i.url))
        echo_port = free_port()
        procs["echo"] = start(["echo"], work / "echo.log", echo_port)
        wait_until(lambda: port_open(echo_port), 30, "echo server")
        _rps, echo_lat = asyncio.run(bench_echo(echo_port, 2000, CONCURRENCY))
        floor = statistics.median(echo_lat)
        print(f"BENCH mixed_grpc_echo_floor_c{CONCURRENCY} p50_ms={floor:.3f} p99_ms={percentile(echo_lat, 0.99):.3f}")
        terminate(procs.pop("echo"))
        if a.backend == "postgresql":
            pg.start()
        ports = {}
        for name in services.NAMES:
            if a.backend == "sqlite":
                url = f"sqlite:///{work / f'{name}.db'}"
            else:
                url = pg.create_database(f"bench_{name}_{uuid.uuid4().hex[:8]}")
            ports[name] = free_port()
            log = work / f"{name}.log"
            procs[name] = services.start(name, ports[name], url, nats_i.url, realm.jwks, ISSUER, log)
        for name, port in ports.items():
            wait_until(lambda port=port: _grpc_healthy(port), 120, name, work / f"{name}.log", procs[name])
        time.sleep(2.0)  # let each workspace directory catch up
        seconds = a.minutes * 60
        pids = {name: procs[name].pid for name in services.NAMES}
        cpu_at_start: dict[str, float] = {}
        case, rss = asyncio.run(run_load(ports, tokens, seconds, pids, cpu_at_start))
        cpu_used = {name: drained_cpu(pid) - cpu_at_start[name] for name, pid in pids.items()}
        kinds = sorted(set(case.latencies) | set(case.errors))
        for kind in kinds:
            lat = case.latencies[kind] or [float("nan")]
            p50 = statistics.median(lat)
            print(
                f"BENCH mixed_{kind} calls={len(case.latencies[kind])} p50_ms={p50:.3f} "
                f"p99_ms={percentile(lat, 0.99):.3f} ratio_p50={p50 / floor:.2f}",
                flush=True,
            )
        errors = sum(case.errors.values())
        print(f"BENCH mixed_errors count={errors}", flush=True)
        for kind, text in case.first_error.items():
            print(f"# {kind}: {case.errors[kind]} failed; first: {text}", flush=True)
        grown = []
        for name, samples in rss.items():
            start_mib, half, end = at(samples, seconds / 10), at(samples, seconds / 2), samples[-1][1]
            peak = max(v for _, v in samples)
            growth = end - start_mib
            if growth > a.rss_bound_mib:
                grown.append(name)
            print(
                f"BENCH mixed_rss_{name} start_mib={start_mib:.1f} half_mib={half:.1f} end_mib={end:.1f} "
                f"peak_mib={peak:.1f} growth_mib={growth:.1f} bound_mib={a.rss_bound_mib:.0f}",
                flush=True,
            )
        rounds = len(case.latencies["create_task"]) + case.errors["create_task"]
        for name, used in cpu_used.items():
            # What each round cost the process in CPU, its consumers' backlog included (read once it is
            # idle again): a figure the machine's load moves much less than latency.
            print(
                f"BENCH mixed_cpu_{name} cpu_s={used:.1f} ms_per_round={1000 * used / max(rounds, 1):.2f}",
                flush=True,
            )
        print(f"# {a.backend}, {a.minutes:g} min, concurrency {CONCURRENCY}: {rounds} rounds", flush=True)
        failed = bool(errors or grown)
        if grown:
            print(f"# memory grew past the bound: {', '.join(grown)}", flush=True)
    finally:
        for proc in procs.values():
            terminate(proc)
        nats_i.stop()
        pg.stop()
        if a.keep or failed:
            print(f"# kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
