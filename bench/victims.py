"""Victims benchmark: RegisterVictim and GetVictimIdentity at concurrency 1 and 16, on SQLite and
PostgreSQL, next to a bare grpc.aio echo measured in the same run. One line per figure:

    BENCH <name> rps=<n> p50_ms=<x> p99_ms=<y> ratio_p50=<x / echo p50 at the same concurrency>

RegisterVictim's path: token check, validation, the policy twice (a member; the lead or the victim's
jurisdiction), the workspace directory, the idempotency lookup, and one transaction that draws the
pseudonym's number (one upsert), writes the victim, its parties, its identity sealed with AES-256-GCM under
the workspace's key, the outbox event and the chained audit entry. GetVictimIdentity's: the need-to-know
decision, then one transaction that opens the sealed identity, seals and writes the read's purpose and
appends the audit entry. The caller is the benchmark's NL prosecutor of the workspace led by NL.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import grpc

from bench.run import ISSUER, _port_ready, announce_workspace, bench_echo, line, make_key, measure, start
from jit.victims.v1 import victims_pb2 as pb
from jit.victims.v1 import victims_pb2_grpc
from jitdev.nats import NatsInstance
from jitdev.postgres import PostgresInstance
from jitdev.procs import free_port, terminate, wait_until
from jitdev.stack import _grpc_healthy


def _register(i: int) -> pb.RegisterVictimRequest:
    return pb.RegisterVictimRequest(
        request_id=str(uuid.uuid4()),
        workspace_id="jit-bench",
        victim_jurisdiction="NL",
        identity=pb.VictimIdentity(
            full_name=f"Bench victim {i}", date_of_birth="1990-01-01", contact="+31 20 000 0000", languages=["nl"]
        ),
    )


async def bench_victims(port: int, token: str, total: int, concurrency: int) -> dict[str, tuple[float, list[float]]]:
    md = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = victims_pb2_grpc.VictimServiceStub(ch)
        ids: list[str] = []

        async def register(i: int) -> object:
            victim = (await stub.RegisterVictim(_register(i), metadata=md, timeout=30)).victim
            ids.append(victim.id)
            return victim

        async def identity(i: int) -> object:
            req = pb.GetVictimIdentityRequest(id=ids[i % len(ids)], purpose="benchmark")
            return await stub.GetVictimIdentity(req, metadata=md, timeout=30)

        await measure(register, 100, concurrency)  # warm-up
        out = {"register_victim": await measure(register, total, concurrency)}
        await measure(identity, 100, concurrency)
        out["victim_identity"] = await measure(identity, total, concurrency)
        return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=1000, help="calls per measurement")
    p.add_argument("--backends", default="sqlite,postgresql")
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jit-bench-victims-"))
    jwks, token = make_key(work)
    nats_i = NatsInstance(free_port(), work / "nats", work / "nats.log").start()
    pg = PostgresInstance(free_port(), work / "pg" / "data", work / "pg.log", durable=True)
    procs = []
    try:
        asyncio.run(announce_workspace(nats_i.url))
        echo_port = free_port()
        procs.append(start(["echo"], work / "echo.log", echo_port))
        wait_until(lambda: _port_ready(echo_port), 30, "echo server")
        floors = {}
        for c in (1, 16):
            rps, lat = asyncio.run(bench_echo(echo_port, a.requests, c))
            floors[c] = statistics.median(lat)
            print(line(f"grpc_echo_floor_c{c}", rps, lat, floors[c]), flush=True)
        for backend in a.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{work / 'bench-victims.db'}"
            else:
                if pg.process is None:
                    pg.start()
                url = pg.create_database(f"bench_{uuid.uuid4().hex[:8]}")
            port = free_port()
            log = work / f"victims-{backend}.log"
            proc = start(
                ["victims", "--db", url, "--nats", nats_i.url, "--jwks", str(jwks), "--issuer", ISSUER], log, port
            )
            procs.append(proc)
            wait_until(lambda port=port: _grpc_healthy(port), 60, "victims service", log, proc)
            time.sleep(1.0)  # let the workspace directory catch up
            for c in (1, 16):
                for name, (rps, lat) in asyncio.run(bench_victims(port, token, a.requests, c)).items():
                    print(line(f"{name}_{backend}_c{c}", rps, lat, floors[c]), flush=True)
            terminate(proc)
    finally:
        for proc in procs:
            terminate(proc)
        nats_i.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
