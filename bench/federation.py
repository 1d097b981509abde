"""Federation benchmark: how long an NL task takes to become readable on DE's node, next to a bare NATS
round trip across the same leafnode link, measured in the same run.

    BENCH federation_replication p50_ms=<x> spread_ms=<min..max of the trials' p50> p99_ms=<y>
          ratio_p50=<x / floor p50> trials=<n>
    BENCH federation_nats_floor p50_ms=<x> spread_ms=<a..b> p99_ms=<y> trials=<n>
    BENCH federation_forwarded_command p50_ms=<x> spread_ms=<a..b> p99_ms=<y> ratio_p50=<x / local p50> trials=<n>
    BENCH federation_local_command p50_ms=<x> spread_ms=<a..b> p99_ms=<y> trials=<n>

Two per-country nodes (NL, DE) run on loopback as ``make run NODES=nl,de`` runs them (``jitdev.nodes``):
a hub NATS server, one NATS server per country (its own JetStream domain, linked to the hub as a
leafnode), and each node's tasks service as its own process on its own SQLite database. Identity is the
benchmark's own: one RSA key per country's fake realm, served as that realm's JWKS over HTTP; each node
trusts each realm for its own country only (``JIT_OIDC_ISSUERS``), as with Keycloak.

The figure, per task: from just before ``CreateTask`` on NL's tasks service (an NL prosecutor, a
restricted task assigned to DE) until ``GetTask`` on DE's tasks service, by a DE police liaison, first
answers with the task. In between: NL's create transaction (task, outbox rows for NL and for DE, audit),
the relay publishing into ``JIT_OUT_NL``, DE's ``JIT_IN`` sourcing it across the link, DE's inbox consumer
applying the replica, and the poll that sees it (a GetTask every 2 ms).

The floor: a core-NATS request/reply from a client on NL's NATS server to a responder on DE's, through the
hub: the same two leafnode links and the same hub. The production link carries no such subject (the hub's
accounts isolate countries, the links deny ``jit.>``), so the benchmark renders the hub's configuration
with ``jitlib.natsconf`` and adds, for itself only, DE's service export of ``bench.rtt.>`` to NL.

The forwarded command: ``AcceptTask`` by the DE liaison on DE's node, for an NL task (restricted, assigned
to DE) already replicated there. DE's node reads its replica, checks the version, finds it is not the owner
and forwards the call over ``fed.cmd.nl.tasks`` (``jitlib.forwarding``); NL's node runs it on its own gRPC
server and its answer comes back through DE's. Its local counterpart: the same ``AcceptTask`` by the same
liaison made directly on NL's node (which trusts DE's realm for DE) for another NL task in the same state.
Every call has a fresh task of its own: a trial's tasks are created and seen on DE's node first, then only
the ``AcceptTask`` calls are timed, forwarded and local in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import jwt
import nats
import nats.errors
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.run import percentile
from jit.common.v1 import common_pb2
from jit.tasks.v1 import tasks_pb2 as pb
from jit.tasks.v1 import tasks_pb2_grpc
from jitdev.federation import link_passwords
from jitdev.nodes import LocalFederation, Ports
from jitdev.procs import free_port
from jitdev.realms import realm_name
from jitlib import natsconf, workspaces

COUNTRIES = ["NL", "DE"]
WORKSPACE = "jit-bench"
#: The subject the benchmark's hub carries from NL's account to DE's, and nothing of production's.
RTT_SUBJECT = "bench.rtt"
#: Seconds between two GetTask polls on DE's node.
POLL_SECONDS = 0.002


class FakeRealms:
    """One signing key per country's realm, its JWKS served where a node looks for a Keycloak realm's
    (``<base>/realms/jit-<cc>/protocol/openid-connect/certs``), and access tokens signed with it."""

    def __init__(self, countries: list[str]) -> None:
        self.keys = {c: rsa.generate_private_key(public_exponent=65537, key_size=2048) for c in countries}
        documents: dict[str, bytes] = {}
        for c, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            jwk.update({"kid": f"bench-{c.lower()}", "use": "sig", "alg": "RS256"})
            documents[f"/realms/{realm_name(c)}/protocol/openid-connect/certs"] = json.dumps({"keys": [jwk]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = documents.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body or b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-jwks", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeRealms:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(self, issuer: str, country: str, username: str, role: str) -> str:
        now = int(time.time())
        return jwt.encode(
            {
                "iss": issuer,
                "typ": "Bearer",
                "azp": "jit-cli",
                "aud": "jit-services",
                "sub": f"bench-{username}",
                "preferred_username": username,
                "iat": now,
                "exp": now + 3600,
                "jurisdiction": country,
                "realm_access": {"roles": [role]},
                "groups": [f"/workspaces/{WORKSPACE}/{country}"],
            },
            self.keys[country],
            algorithm="RS256",
            headers={"kid": f"bench-{country.lower()}"},
        )


def write_bench_hub_config(fed: LocalFederation) -> None:
    """The production hub configuration, plus DE's service ``bench.rtt.>`` exported to NL (for the floor)."""
    passwords = link_passwords(fed.root / "hub", fed.countries)
    conf = natsconf.hub_config(fed.countries, passwords, port=fed.ports.hub, leafnode_port=fed.ports.leafnode)
    de, nl = natsconf.account("DE"), natsconf.account("NL")
    conf["accounts"][de]["exports"].append({"service": f"{RTT_SUBJECT}.>", "accounts": [nl]})
    conf["accounts"][nl]["imports"].append({"service": {"account": de, "subject": f"{RTT_SUBJECT}.>"}})
    natsconf.write(fed.nats.hub.config_path, conf)
    # The nodes' own NATS take only their users: add the bench's (BENCH ONLY, every right) to each.
    for c in fed.countries:
        path = fed.nats.nodes[c].config_path
        node_conf = json.loads(path.read_text())
        node_conf["authorization"]["users"].append({"user": "bench", "password": BENCH_PASSWORD})
        natsconf.write(path, node_conf)


#: The bench's own NATS user on each node (BENCH ONLY): raw clients for the floor and the announcement.
BENCH_PASSWORD = secrets.token_urlsafe(24)


def bench_connect(fed: LocalFederation, country: str) -> Any:
    return nats.connect(fed.nats.nodes[country].url, user="bench", password=BENCH_PASSWORD)


def trial_line(name: str, p50s: list[float], every: list[float], floor_p50: float | None = None) -> str:
    """The median of the trials' p50s, their spread (min..max), the p99 over every sample of every trial,
    and (for a figure) the ratio to the floor's median p50."""
    p50, p99 = statistics.median(p50s), percentile(every, 0.99)
    ratio = f" ratio_p50={p50 / floor_p50:.2f}" if floor_p50 is not None else ""
    return (
        f"BENCH {name} p50_ms={p50:.3f} spread_ms={min(p50s):.3f}..{max(p50s):.3f} p99_ms={p99:.3f}"
        f"{ratio} trials={len(p50s)}"
    )


async def announce_workspace(fed: LocalFederation) -> None:
    """The workspace's lead (NL) announces it from its node, to itself and to DE's node. The outbound
    stream is made by NL's services as they start; retried until it takes the announcement."""
    ws = common_pb2.Workspace(
        id=WORKSPACE, name="bench", lead="NL", members=COUNTRIES, status=common_pb2.WORKSPACE_STATUS_OPEN, version=1
    )
    nc = await bench_connect(fed, "NL")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                await workspaces.publish(
                    nc.jetstream(timeout=5), ws, common_pb2.Actor(username="bench"), fed.nats.federation("NL")
                )
                return
            except (nats.errors.Error, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await nc.close()


class Bench:
    def __init__(self, fed: LocalFederation, realms: FakeRealms) -> None:
        self.fed = fed
        nl_token = realms.token(fed.issuer("NL"), "NL", "nl-prosecutor", "prosecutor")
        self.nl_md = (("authorization", f"Bearer {nl_token}"),)
        de_token = realms.token(fed.issuer("DE"), "DE", "de-liaison", "police_liaison")
        self.de_md = (("authorization", f"Bearer {de_token}"),)

    async def __aenter__(self) -> Bench:
        self.nl_ch = grpc.aio.insecure_channel(self.fed.nodes["NL"].address("tasks"))
        self.de_ch = grpc.aio.insecure_channel(self.fed.nodes["DE"].address("tasks"))
        self.nl = tasks_pb2_grpc.TaskServiceStub(self.nl_ch)
        self.de = tasks_pb2_grpc.TaskServiceStub(self.de_ch)
        self.nl_nc = await bench_connect(self.fed, "NL")
        self.de_nc = await bench_connect(self.fed, "DE")

        async def echo(msg: Any) -> None:
            await msg.respond(msg.data)

        await self.de_nc.subscribe(f"{RTT_SUBJECT}.>", cb=echo)
        await self.de_nc.flush()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for nc in (self.nl_nc, self.de_nc):
            await nc.close()
        await self.nl_ch.close(None)
        await self.de_ch.close(None)

    async def create(self, title: str) -> str:
        return str((await self.create_task(title)).id)

    async def create_task(self, title: str) -> pb.Task:
        resp = await self.nl.CreateTask(
            pb.CreateTaskRequest(
                request_id=str(uuid.uuid4()),
                workspace_id=WORKSPACE,
                title=title,
                kind=pb.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
                assignee_jurisdiction="DE",
                visibility=common_pb2.VISIBILITY_RESTRICTED,
            ),
            metadata=self.nl_md,
            timeout=30,
        )
        return resp.task

    async def visible_on_de(self, task_id: str, timeout: float, version: int = 0) -> float:
        """Poll DE's GetTask until it answers with the task (at ``version`` or later); the time
        (perf_counter) of that answer."""
        deadline = time.perf_counter() + timeout
        while True:
            try:
                resp = await self.de.GetTask(pb.GetTaskRequest(id=task_id), metadata=self.de_md, timeout=10)
                if resp.task.version >= version:
                    return time.perf_counter()
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.NOT_FOUND:
                    raise
            if time.perf_counter() > deadline:
                raise RuntimeError(f"task {task_id} (version {version}) did not reach DE's node within {timeout:.0f} s")
            await asyncio.sleep(POLL_SECONDS)

    async def replicate_one(self, title: str, timeout: float = 30) -> tuple[float, float]:
        """(create to visible on DE, the create call alone), in milliseconds."""
        t0 = time.perf_counter()
        task_id = await self.create(title)
        created = time.perf_counter()
        return (await self.visible_on_de(task_id, timeout) - t0) * 1000, (created - t0) * 1000

    async def warm_up(self) -> None:
        """Until NL's directory knows the workspace (a create succeeds) and a task reaches DE (DE's directory,
        its inbox consumer and both JWKS fetches done), then a few more of each measurement."""
        deadline = time.monotonic() + 60
        while True:
            try:
                await self.replicate_one("warm-up", timeout=60)
                break
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.FAILED_PRECONDITION or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        while True:
            try:
                await self.nl_nc.request(f"{RTT_SUBJECT}.warm", b"x", timeout=1)
                break
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        for i in range(5):
            await self.replicate_one(f"warm-up {i}")
        await self.floor_trial(50)
        # The first forwarded call also opens NL's responder's channel to its own server.
        await self.command_trial(5)

    async def replication_trial(self, tasks: int) -> tuple[list[float], list[float]]:
        pairs = [await self.replicate_one(f"Identify account holder {i}") for i in range(tasks)]
        return [total for total, _ in pairs], [create for _, create in pairs]

    async def accept(self, on_de: bool, task: pb.Task) -> float:
        """``AcceptTask`` by the DE liaison, on DE's node (forwarded to NL) or on NL's: its time in ms. The
        answer must be the owner's record (no replica marker), accepted at the next version."""
        stub = self.de if on_de else self.nl
        request = pb.AcceptTaskRequest(id=task.id, expected_version=task.version)
        t0 = time.perf_counter()
        resp = await stub.AcceptTask(request, metadata=self.de_md, timeout=30)
        elapsed = (time.perf_counter() - t0) * 1000
        got = resp.task
        if got.state != pb.TASK_STATE_ACCEPTED or got.version != task.version + 1 or got.HasField("replica"):
            where = "DE's node (forwarded)" if on_de else "NL's node"
            raise RuntimeError(f"AcceptTask on {where} for {task.id} answered {got.state=} {got.version=}")
        return elapsed

    async def command_trial(self, commands: int) -> tuple[list[float], list[float]]:
        """(forwarded, local) AcceptTask times in ms: ``2 * commands`` fresh NL tasks created and seen on DE's
        node first (untimed), then their AcceptTask calls timed, forwarded and local in turn. Ends when DE's
        replicas show every acceptance, so the next trial starts on an idle link."""
        tasks = [await self.create_task(f"Accept me {i}") for i in range(2 * commands)]
        for task in tasks:
            await self.visible_on_de(task.id, timeout=30)
        forwarded, local = [], []
        for i in range(commands):
            forwarded.append(await self.accept(True, tasks[2 * i]))
            local.append(await self.accept(False, tasks[2 * i + 1]))
        for task in tasks:
            await self.visible_on_de(task.id, timeout=30, version=task.version + 1)
        return forwarded, local

    async def floor_trial(self, round_trips: int) -> list[float]:
        subject = f"{RTT_SUBJECT}.{uuid.uuid4().hex}"
        payload = b"x" * 200
        out = []
        for _ in range(round_trips):
            t0 = time.perf_counter()
            await self.nl_nc.request(subject, payload, timeout=5)
            out.append((time.perf_counter() - t0) * 1000)
        return out


async def measure(
    fed: LocalFederation, realms: FakeRealms, trials: int, tasks: int, round_trips: int, commands: int
) -> None:
    async with Bench(fed, realms) as b:
        await b.warm_up()
        # Interleaved trials (floor, replication, commands, floor, replication, commands, ...), so a busy or
        # quiet spell of the machine weighs on all; each figure is the median of its trials' p50s. Within a
        # commands trial, forwarded and local calls alternate call by call.
        floors: list[float] = []
        figures: list[float] = []
        floor_all: list[float] = []
        figure_all: list[float] = []
        creates: list[float] = []
        forwarded: list[float] = []
        local: list[float] = []
        forwarded_all: list[float] = []
        local_all: list[float] = []
        for _ in range(trials):
            floor = await b.floor_trial(round_trips)
            lat, create = await b.replication_trial(tasks)
            fwd, loc = await b.command_trial(commands)
            floors.append(statistics.median(floor))
            figures.append(statistics.median(lat))
            forwarded.append(statistics.median(fwd))
            local.append(statistics.median(loc))
            floor_all += floor
            figure_all += lat
            creates += create
            forwarded_all += fwd
            local_all += loc
        floor_p50, local_p50 = statistics.median(floors), statistics.median(local)
        print(f"# federation_replication includes the CreateTask call on NL: p50 {statistics.median(creates):.3f} ms")
        print(trial_line("federation_replication", figures, figure_all, floor_p50), flush=True)
        print(trial_line("federation_nats_floor", floors, floor_all), flush=True)
        extra = statistics.median(forwarded) - local_p50
        print(
            f"# forwarding adds {extra:.3f} ms at p50 to a local AcceptTask; the link's bare round trip: "
            f"{floor_p50:.3f} ms",
            flush=True,
        )
        print(trial_line("federation_forwarded_command", forwarded, forwarded_all, local_p50), flush=True)
        print(trial_line("federation_local_command", local, local_all), flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=5, help="interleaved trials per figure (default 5)")
    p.add_argument("--tasks", type=int, default=40, help="tasks created per replication trial (default 40)")
    p.add_argument("--round-trips", type=int, default=200, help="NATS round trips per floor trial (default 200)")
    p.add_argument(
        "--commands", type=int, default=40, help="AcceptTask calls of each kind per commands trial (default 40)"
    )
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jit-bench-fed-"))
    realms = FakeRealms(COUNTRIES).start()
    fed = LocalFederation(
        COUNTRIES,
        work,
        Ports.free(COUNTRIES, free_port),
        realms.base_url,
        extra_env={"JIT_OTEL_EXPORTER": "none"},
        services=("tasks",),
    )
    write_bench_hub_config(fed)
    ok = False
    try:
        fed.start()
        asyncio.run(announce_workspace(fed))
        asyncio.run(measure(fed, realms, a.trials, a.tasks, a.round_trips, a.commands))
        ok = True
    finally:
        fed.stop()
        realms.stop()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"# logs kept in {work}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
