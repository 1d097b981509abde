"""`make run` / `make stop` / `make status`: the whole system on one machine, no Docker.

Starts Keycloak (realm `jit` imported, port 8080), NATS with JetStream (port 4222) and every service on
SQLite, as background processes whose pids and logs live under ``var/``; waits until each is healthy;
announces the workspaces held in Keycloak to the services; prints what to do next.

``make run TLS=1`` (``up --tls``) is the TLS profile of the same one-node system: a CA of its own and the
certificates it issues under ``var/tls/`` (``jitlib.pki``), Keycloak over HTTPS only, NATS with TLS on its
client port, the services' gRPC ports and the web console over TLS; it writes ``var/tls/cli.env``, the
settings that point the ``jit`` command at the CA. A plaintext client of any of them is refused. With
``NODES=...`` it does the same for every node, the hub and the links between them.

``make run NATS_CLUSTER=3`` (``up --nats-cluster 3``) runs the node's NATS as a cluster of three servers
(client ports 4222-4224, routes 6222-6224, monitoring 8222-8224, stores under ``var/nats-cluster/``) and
gives the services every server and ``JIT_NATS_STREAM_REPLICAS=3``: the streams are kept in three copies.

``make run NODES=nl,de,ie`` starts a federation instead: one node per country (its own NATS in its own
JetStream domain, its four services, its folder ``var/nodes/<cc>/``), linked through a hub NATS, with one
Keycloak realm per country (``jitdev.nodes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from jitdev.nats import NatsCluster, NatsInstance, kept_secret
from jitdev.nodes import grpc_healthy
from jitdev.procs import port_open, spawn, wait_until
from jitlib.crypto import generate_kek_file
from jitlib.natsauth import NodeUsers, node_users

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("JIT_STATE_DIR", ROOT / "var")).resolve()
RUN = STATE / "run"
LOGS = STATE / "logs"
KEYCLOAK_PORT = int(os.environ.get("JIT_KEYCLOAK_PORT", "8080"))
KEYCLOAK_MGMT_PORT = int(os.environ.get("JIT_KEYCLOAK_MANAGEMENT_PORT", "9000"))
NATS_PORT = int(os.environ.get("JIT_NATS_PORT", "4222"))
#: ``make run NATS_CLUSTER=3``: the first route and monitoring ports of the cluster's servers.
CLUSTER_ROUTE_PORT = int(os.environ.get("JIT_NATS_CLUSTER_PORT", "6222"))
CLUSTER_MONITOR_PORT = int(os.environ.get("JIT_NATS_MONITOR_PORT", "8222"))
CONSOLE_PORT = int(os.environ.get("JIT_CONSOLE_PORT", "8088"))
KEYCLOAK_HTTPS_PORT = int(os.environ.get("JIT_KEYCLOAK_HTTPS_PORT", "8443"))
#: The TLS profile's CA and certificates (``make run TLS=1``), and the marker saying it is the one running.
TLS_DIR = STATE / "tls"
TLS_MARKER = RUN / "tls"


def tls_on() -> bool:
    """Whether what runs (or is about to) is the TLS profile."""
    return TLS_MARKER.exists()


def _scheme(plain: str, secure: str) -> str:
    return secure if tls_on() else plain


def keycloak_url() -> str:
    if tls_on():
        return f"https://127.0.0.1:{KEYCLOAK_HTTPS_PORT}"
    return f"http://127.0.0.1:{KEYCLOAK_PORT}"


def issuer() -> str:
    return f"{keycloak_url()}/realms/jit"


#: ``make run NATS_CLUSTER=3``: the size of the node's NATS cluster, while it is the one running.
CLUSTER_MARKER = RUN / "nats-cluster"


def nats_cluster_size() -> int:
    """How many NATS servers the node runs (1: a single server; 3 with ``make run NATS_CLUSTER=3``)."""
    try:
        return max(1, int(CLUSTER_MARKER.read_text()))
    except (FileNotFoundError, ValueError):
        return 1


def nats_ports() -> list[int]:
    """The client port of each of the node's NATS servers (4222, or 4222-4224 for a cluster of three)."""
    return [NATS_PORT + i for i in range(nats_cluster_size())]


def nats_pid_names() -> list[str]:
    """The names its pids are recorded under (``nats``, or ``nats-1`` ... for a cluster)."""
    size = nats_cluster_size()
    return ["nats"] if size == 1 else [f"nats-{i + 1}" for i in range(size)]


def nats_url() -> str:
    """Every server of the node's NATS, comma-separated (``JIT_NATS_URL``)."""
    return ",".join(f"{_scheme('nats', 'tls')}://127.0.0.1:{port}" for port in nats_ports())


def console_url(port: int = CONSOLE_PORT) -> str:
    return f"{_scheme('http', 'https')}://127.0.0.1:{port}"


def local_pki() -> Any:
    """The TLS profile's CA and certificates (made on first use, kept after)."""
    from jitlib.pki import write_local_pki

    return write_local_pki(TLS_DIR, ca_name="JIT local TLS profile CA (make run TLS=1)")


def _verify() -> Any:
    """What an HTTPS client of the local stack checks certificates against."""
    if not tls_on():
        return True
    from jitlib.tls import client_context

    return client_context(local_pki().ca)


@dataclass(frozen=True)
class ServiceDef:
    name: str
    module: str
    port: int


#: Every gRPC service `make run` starts, in start order.
SERVICES = [
    ServiceDef("tasks", "services.tasks", int(os.environ.get("JIT_TASKS_PORT", "50051"))),
    ServiceDef("evidence", "services.evidence", int(os.environ.get("JIT_EVIDENCE_PORT", "50052"))),
    ServiceDef("preservation", "services.preservation", int(os.environ.get("JIT_PRESERVATION_PORT", "50053"))),
    ServiceDef("messaging", "services.messaging", int(os.environ.get("JIT_MESSAGING_PORT", "50054"))),
    ServiceDef("victims", "services.victims", int(os.environ.get("JIT_VICTIMS_PORT", "50055"))),
]

DEMO_USERS = [
    ("nl-prosecutor", "NL", "prosecutor (JIT leader)"),
    ("nl-liaison", "NL", "police liaison"),
    ("de-prosecutor", "DE", "prosecutor"),
    ("de-liaison", "DE", "police liaison"),
    ("ie-prosecutor", "IE", "prosecutor"),
    ("ie-liaison", "IE", "police liaison"),
    ("eurojust-analyst", "EUROJUST", "participant"),
    ("fr-prosecutor", "FR", "prosecutor, NOT a member of the demo JIT"),
    ("nl-operator", "NL", "operator (no case content)"),
    ("nl-auditor", "NL", "auditor (audit logs only)"),
]


def _pidfile(name: str) -> Path:
    return RUN / f"{name}.pid"


def _pid(name: str) -> int | None:
    try:
        pid = int(_pidfile(name).read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def _record(name: str, proc: subprocess.Popen[bytes]) -> None:
    RUN.mkdir(mode=0o700, parents=True, exist_ok=True)
    _pidfile(name).write_text(str(proc.pid))


def _grpc_healthy(port: int, tls: bool = False) -> bool:
    """Whether the service on ``port`` says SERVING (``tls``: asked over TLS, trusting the profile's CA)."""
    if not tls:
        return grpc_healthy(port)
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from jitlib.tls import channel_credentials

    with grpc.secure_channel(f"127.0.0.1:{port}", channel_credentials(local_pki().ca)) as ch:
        try:
            resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        except grpc.RpcError:
            return False
        return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)


def _keycloak_healthy() -> bool:
    try:
        # The management port (health) stays plain HTTP on loopback in both profiles.
        r = httpx.get(f"http://127.0.0.1:{KEYCLOAK_MGMT_PORT}/health/ready", timeout=2)
        d = httpx.get(f"{issuer()}/.well-known/openid-configuration", timeout=2, verify=_verify())
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and d.status_code == 200


def _say(msg: str) -> None:
    print(msg, flush=True)


def _ensure_port_free(port: int, what: str) -> None:
    if port_open(port):
        raise SystemExit(
            f"port {port} is in use by another program, so {what} cannot start there. "
            f"Stop that program or set the port variable (see README, Configuration)."
        )


def start_keycloak() -> None:
    if _pid("keycloak") and _keycloak_healthy():
        _say(f"  keycloak     already running   {keycloak_url()}")
        return
    _ensure_port_free(KEYCLOAK_PORT, "Keycloak")
    from jitdev.keycloak import start_keycloak as kc_start

    t0 = time.monotonic()
    _say("  keycloak     starting (first start builds the server: a minute or two; later starts: seconds)")
    https: dict[str, Any] = {}
    if tls_on():
        _ensure_port_free(KEYCLOAK_HTTPS_PORT, "Keycloak (HTTPS)")
        https = {"https_port": KEYCLOAK_HTTPS_PORT, "tls": local_pki().server, "http_enabled": False}
    inst = kc_start("run", KEYCLOAK_PORT, KEYCLOAK_MGMT_PORT, LOGS / "keycloak.log", detach=True, **https)
    assert inst.process is not None
    _record("keycloak", inst.process)
    _say(f"  keycloak     healthy in {time.monotonic() - t0:.0f} s   {keycloak_url()} (realm jit)")


def start_nats() -> None:
    if nats_cluster_size() > 1:
        start_nats_cluster(nats_cluster_size())
        return
    if _pid("nats") and port_open(NATS_PORT):
        _say(f"  nats         already running   {nats_url()}")
        return
    _ensure_port_free(NATS_PORT, "NATS")
    tls = local_pki().server if tls_on() else None
    users = nats_users()
    inst = NatsInstance(
        NATS_PORT,
        STATE / "nats",
        LOGS / "nats.log",
        server_name="jit-local",
        authorization=users.authorization(),
        tls=tls,
        store_key=kept_secret(STATE / "nats-store.key"),
    ).start()
    assert inst.process is not None
    proc = inst.process
    _record("nats", proc)
    _say(
        f"  nats         healthy           {nats_url()} (JetStream, store {STATE / 'nats'}; "
        f"a user per service, credentials in {users.folder})"
    )


def start_nats_cluster(size: int) -> None:
    """``make run NATS_CLUSTER=3``: the node's NATS as ``size`` servers routed to each other, each with the
    node's users (and TLS in the TLS profile)."""
    names = nats_pid_names()
    if all(_pid(n) for n in names) and all(port_open(p) for p in nats_ports()):
        _say(f"  nats         already running   {nats_url()} (a cluster of {size})")
        return
    ports = [(NATS_PORT + i, CLUSTER_ROUTE_PORT + i, CLUSTER_MONITOR_PORT + i) for i in range(size)]
    for client, route, monitor in ports:
        for port in (client, route, monitor):
            _ensure_port_free(port, "the NATS cluster")
    users = nats_users()
    cluster = NatsCluster.local(
        STATE / "nats-cluster",
        size,
        authorization=users.authorization(),
        tls=local_pki().server if tls_on() else None,
        ports=ports,
        log_dir=LOGS,
        store_key=kept_secret(STATE / "nats-store.key"),
    ).start()
    for name, member in zip(names, cluster.members, strict=True):
        assert member.process is not None
        _record(name, member.process)
    _say(
        f"  nats         healthy           {nats_url()} (a cluster of {size}, JetStream R{size}, stores in "
        f"{STATE / 'nats-cluster'}; a user per service, credentials in {users.folder})"
    )


def nats_users() -> NodeUsers:
    """The node's NATS users (each service, ``jit admin``), made once in ``var/nats-users`` (0600 files)."""
    return node_users(STATE / "nats-users")


def tls_env() -> dict[str, str]:
    """The TLS profile's settings of the services and the console (empty in the plaintext one)."""
    if not tls_on():
        return {}
    files = local_pki()
    return {
        "JIT_TLS_CERT_FILE": str(files.server.cert),
        "JIT_TLS_KEY_FILE": str(files.server.key),
        "JIT_TLS_CA_FILE": str(files.ca),
        "JIT_OIDC_CA_FILE": str(files.ca),
        "JIT_NATS_TLS_CA_FILE": str(files.ca),
    }


def cli_env() -> dict[str, str]:
    """What points the ``jit`` command at the TLS profile: its URLs and the CA (``var/tls/cli.env``)."""
    files = local_pki()
    return {
        "JIT_KEYCLOAK_URL": keycloak_url(),
        "JIT_OIDC_CA_FILE": str(files.ca),
        "JIT_TLS_CA_FILE": str(files.ca),
        "JIT_NATS_URL": nats_url(),
        "JIT_NATS_TLS_CA_FILE": str(files.ca),
        "JIT_NATS_CREDENTIALS_DIR": str(STATE / "nats-users"),  # `jit admin` reads admin.json only
    }


def service_env() -> dict[str, str]:
    # The node's key-encryption key, made once (base64 of 32 random bytes, mode 0600): every service reads it.
    generate_kek_file(STATE / "kek.b64")
    env = {
        "JIT_KEK_FILE": str(STATE / "kek.b64"),
        "JIT_NATS_URL": nats_url(),
        "JIT_NATS_STREAM_REPLICAS": str(nats_cluster_size()),
        "JIT_OIDC_ISSUER": issuer(),
        "JIT_STATE_DIR": str(STATE),
        "JIT_OTEL_FILE": str(STATE / "traces.jsonl"),
        "PYTHONUNBUFFERED": "1",
        **tls_env(),
    }
    if "JIT_OTEL_EXPORTER" not in os.environ:
        env["JIT_OTEL_EXPORTER"] = "otlp" if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") else "file"
    return env


def start_service(svc: ServiceDef) -> None:
    if _pid(svc.name) and _grpc_healthy(svc.port, tls_on()):
        _say(f"  {svc.name:<12} already running   127.0.0.1:{svc.port}")
        return
    _ensure_port_free(svc.port, f"the {svc.name} service")
    log = LOGS / f"{svc.name}.log"
    env = {**service_env(), **nats_users().env(svc.name), f"JIT_{svc.name.upper()}_LISTEN": f"127.0.0.1:{svc.port}"}
    proc = spawn([sys.executable, "-m", svc.module], log, env=env, cwd=ROOT)
    _record(svc.name, proc)
    wait_until(lambda: _grpc_healthy(svc.port, tls_on()), 60, f"the {svc.name} service", log, proc)
    _say(f"  {svc.name:<12} healthy           127.0.0.1:{svc.port} (SQLite {STATE / (svc.name + '.db')})")


def console_env(keycloak_url: str, realm: str, port: int, addrs: dict[str, str]) -> dict[str, str]:
    """The environment of a console on loopback ``port``, for ``realm`` and the services at ``addrs``."""
    from jitdev.realms import demo_client_secret

    return {
        "JIT_CONSOLE_LISTEN": f"127.0.0.1:{port}",
        "JIT_CONSOLE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "JIT_CONSOLE_CLIENT_SECRET": demo_client_secret("jit-console"),  # DEMO-ONLY secret of the demo realm
        "JIT_KEYCLOAK_URL": keycloak_url,
        "JIT_REALM": realm,
        **{f"JIT_{name.upper()}_ADDR": addr for name, addr in addrs.items()},
    }


def console_tls_env(port: int) -> dict[str, str]:
    """In the TLS profile: the console on ``port`` serves HTTPS with the profile's certificate."""
    if not tls_on():
        return {}
    files = local_pki()
    return {
        "JIT_CONSOLE_PUBLIC_URL": console_url(port),
        "JIT_CONSOLE_TLS_CERT_FILE": str(files.server.cert),
        "JIT_CONSOLE_TLS_KEY_FILE": str(files.server.key),
    }


def console_healthy(port: int, tls: bool = False) -> bool:
    """Whether the console on ``port`` answers (``tls``: over HTTPS, trusting the profile's CA)."""
    scheme, verify = ("https", _verify()) if tls else ("http", True)
    try:
        return httpx.get(f"{scheme}://127.0.0.1:{port}/healthz", timeout=2, verify=verify).status_code == 200
    except httpx.HTTPError:
        return False


def start_console() -> None:
    if _pid("console") and console_healthy(CONSOLE_PORT, tls_on()):
        _say(f"  console      already running   {console_url()}")
        return
    _ensure_port_free(CONSOLE_PORT, "the web console")
    log = LOGS / "console.log"
    addrs = {svc.name: f"127.0.0.1:{svc.port}" for svc in SERVICES}
    env = {**service_env(), **console_env(keycloak_url(), "jit", CONSOLE_PORT, addrs)}
    env |= console_tls_env(CONSOLE_PORT)
    proc = spawn([sys.executable, "-m", "services.console"], log, env=env, cwd=ROOT)
    _record("console", proc)
    wait_until(lambda: console_healthy(CONSOLE_PORT, tls_on()), 60, "the web console", log, proc)
    _say(f"  console      healthy           {console_url()}")


def sync_workspaces() -> int:
    from jitcli import kcadmin
    from jitcli.workspace_sync import publish_workspaces
    from jitlib.tls import client_context

    ca = local_pki().ca if tls_on() else None
    admin = kcadmin.connect(keycloak_url(), "admin", "admin", verify=str(ca) if ca else True)
    nats_tls = client_context(ca) if ca else None
    # asyncio warns when nats-py closes a TLS connection ("returning true from eof_received()..."): noise here.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    workspaces = kcadmin.list_workspaces(admin)
    credentials = nats_users().credentials("admin")
    return asyncio.run(publish_workspaces(nats_url(), workspaces, tls=nats_tls, credentials=credentials))


def _choose_profile(tls: bool, nats_cluster: int = 1) -> None:
    """Record the profile asked for; refuse to switch while the other one runs (``make stop`` first)."""
    running = [name for name in ("keycloak", *nats_pid_names(), *(s.name for s in SERVICES), "console") if _pid(name)]
    if running and tls != tls_on():
        now, asked = ("TLS", "plaintext") if tls_on() else ("plaintext", "TLS")
        raise RuntimeError(f"the {now} profile is running ({', '.join(running)}): `make stop` before the {asked} one")
    if running and nats_cluster != nats_cluster_size():
        now_n, asked_n = nats_cluster_size(), nats_cluster
        raise RuntimeError(
            f"NATS runs as {now_n} server(s) ({', '.join(running)}): `make stop` before asking for {asked_n}"
        )
    RUN.mkdir(mode=0o700, parents=True, exist_ok=True)
    if nats_cluster > 1:
        CLUSTER_MARKER.write_text(f"{nats_cluster}\n")
    else:
        CLUSTER_MARKER.unlink(missing_ok=True)
    if tls:
        TLS_MARKER.write_text("1\n")
        local_pki()
    else:
        TLS_MARKER.unlink(missing_ok=True)


def up(tls: bool = False, nats_cluster: int = 1) -> None:
    STATE.mkdir(mode=0o700, parents=True, exist_ok=True)
    STATE.chmod(0o700)  # a folder made by an older version was world-readable
    _choose_profile(tls, nats_cluster)
    _say(f"Starting the JIT platform{' (TLS profile)' if tls else ''} (logs in var/logs/):")
    start_keycloak()
    start_nats()
    for svc in SERVICES:
        start_service(svc)
    start_console()
    n = sync_workspaces()
    _say(f"  workspaces announced to the services: {n}")
    _say("")
    _say("Demo users (DEMO ONLY, password `demo` for all):")
    for user, jur, role in DEMO_USERS:
        _say(f"  {user:<17} {jur:<9} {role}")
    if tls:
        env_file = TLS_DIR / "cli.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in cli_env().items()))
        _say(
            f"""
TLS profile: every link is TLS with certificates of the CA {local_pki().ca}
(made for this machine; a real node brings its own, see README "TLS"). Point the command line at it first:
  set -a; . {env_file}; set +a
A browser does not know this CA: trust {local_pki().ca} in it, or accept the warning, for the console."""
        )
    _say(
        f"""
Open the web console: {console_url()}  (log in as nl-prosecutor, password demo)

Or, in this folder, the command line (.venv/bin/jit; `source .venv/bin/activate` puts it on your PATH):
  .venv/bin/jit login nl-prosecutor --password demo
  .venv/bin/jit task create --workspace jit-demo --assignee DE --kind identify-account-holder \\
      --title "Identify the holder of the harassing account" --due-in 10d
  .venv/bin/jit task list --workspace jit-demo
  .venv/bin/jit --as de-liaison task accept <task id>      (after: jit login de-liaison --password demo)
  make status      what runs and whether it is healthy
  make stop        stop everything"""
    )


def _terminate_pid(name: str) -> bool:
    pid = _pid(name)
    if pid is None:
        _pidfile(name).unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    _pidfile(name).unlink(missing_ok=True)
    return True


def down() -> None:
    for name in ["console", *(s.name for s in reversed(SERVICES)), *nats_pid_names(), "keycloak"]:
        _say(f"  {name:<12} {'stopped' if _terminate_pid(name) else 'was not running'}")
    TLS_MARKER.unlink(missing_ok=True)
    CLUSTER_MARKER.unlink(missing_ok=True)


def status() -> int:
    if tls_on():
        _say("  TLS profile (make run TLS=1)")
    rows = [("keycloak", keycloak_url(), _keycloak_healthy)]
    for name, port in zip(nats_pid_names(), nats_ports(), strict=True):
        rows.append((name, f"{_scheme('nats', 'tls')}://127.0.0.1:{port}", lambda p=port: port_open(p)))  # type: ignore[misc]
    for svc in SERVICES:
        rows.append((svc.name, f"127.0.0.1:{svc.port}", lambda p=svc.port: _grpc_healthy(p, tls_on())))  # type: ignore[misc]
    rows.append(("console", console_url(), lambda: console_healthy(CONSOLE_PORT, tls_on())))
    bad = 0
    _say(f"  {'component':<13} {'pid':<8} {'address':<28} health")
    for name, addr, check in rows:
        pid = _pid(name)
        healthy = pid is not None and check()
        bad += not healthy
        state = "healthy" if healthy else ("running, NOT healthy" if pid else "not running")
        _say(f"  {name:<13} {pid or '-'!s:<8} {addr:<28} {state}")
    return 1 if bad else 0


NODES_FILE = STATE / "nodes.json"
#: Countries whose realm the local nodes trust without running a node of theirs (the demo's outsider).
GUESTS = ["FR"]


def up_nodes(countries: list[str], tls: bool = False) -> None:
    """A federation of per-country nodes on loopback (``make run NODES=nl,de,ie``; ``TLS=1``: every link of
    every node over TLS, with the TLS profile's CA)."""
    from jitcli import kcadmin
    from jitdev.nodes import LocalFederation, Ports, announce_workspaces, ensure_country_realms, port_open

    STATE.mkdir(mode=0o700, parents=True, exist_ok=True)
    known = json.loads(NODES_FILE.read_text()) if NODES_FILE.exists() else None
    if known is not None:
        if known["countries"] == countries and all(port_open(p) for p in known["ports"]["nats"].values()):
            _say(f"  the nodes {', '.join(countries)} are already running: `make status` shows them")
            return
        raise RuntimeError(f"nodes {', '.join(known['countries'])} are recorded as running: `make stop` first")
    _choose_profile(tls)
    ports = Ports.fixed(countries)
    for port in [
        ports.hub,
        ports.leafnode,
        *ports.nats.values(),
        *(p for s in ports.services.values() for p in s.values()),
        *(node_console_port(i) for i in range(len(countries))),
    ]:
        _ensure_port_free(port, "a node of the federation")
    _say(f"Starting a federation of {len(countries)} nodes: {', '.join(countries)} (state in {STATE})")
    start_keycloak()
    verify = str(local_pki().ca) if tls else True
    admin = kcadmin.connect(keycloak_url(), "admin", "admin", verify=verify)
    guests = [g for g in GUESTS if g not in countries]
    created = ensure_country_realms(admin, [*countries, *guests])
    realms = ", ".join(f"jit-{c.lower()}" for c in [*countries, *guests])
    _say(f"  realms       {realms}" + (" (created)" if created else "") + f"; {', '.join(guests)} has no node")
    fed = LocalFederation(countries, STATE, ports, keycloak_url(), guests=guests, tls=local_pki() if tls else None)
    NODES_FILE.write_text(json.dumps({"countries": countries, "guests": guests, "ports": dataclasses.asdict(ports)}))
    try:
        fed.start(_say)
    except Exception:
        fed.stop()
        NODES_FILE.unlink(missing_ok=True)
        raise
    n = announce_workspaces(fed, keycloak_url(), "admin", "admin")
    _say(f"  workspaces announced by their lead's node: {n}")
    consoles = start_node_consoles(fed, countries)
    for c, node in fed.nodes.items():
        env = node.folder / "cli.env"
        env.write_text(
            "".join(
                f"{k}={v}\n"
                for k, v in {
                    **(cli_env() if tls else {}),
                    "JIT_REALM": f"jit-{c.lower()}",
                    "JIT_CONFIG_DIR": str(node.folder / "cli"),
                    **{f"JIT_{svc.upper()}_ADDR": node.address(svc) for svc in node.ports},
                    "JIT_NATS_URL": fed.nats.nodes[c].url,
                    # `jit admin` reads only its own file (admin.json) there.
                    "JIT_NATS_CREDENTIALS_DIR": str(fed.nats.users[c].folder),
                    "JIT_NODE_JURISDICTION": c,
                    "JIT_FEDERATION_PEERS": ",".join(x for x in countries if x != c),
                }.items()
            )
        )
    first, second = countries[0].lower(), countries[1]
    _say(
        f"""
Each country's users work on their own node (DEMO ONLY users, password `demo`). In a browser, each node's
web console: {", ".join(f"{c} {u}" for c, u in consoles.items())}
(for example {countries[0]}'s at {consoles[countries[0]]}, as {first}-prosecutor).
The settings of the `jit` command for a node are in var/nodes/<cc>/cli.env; for example, in a shell for
{countries[0]}:
  set -a; . var/nodes/{first}/cli.env; set +a
  .venv/bin/jit login {first}-prosecutor --password demo
  .venv/bin/jit task create --workspace jit-demo --assignee {second} --kind identify-account-holder \\
      --title "Identify the holder of the harassing account" --due-in 10d
and in a shell for {second}: source var/nodes/{second.lower()}/cli.env the same way, then
  .venv/bin/jit login {second.lower()}-liaison --password demo && .venv/bin/jit task list --workspace jit-demo
A record stays on its owner's node; another node receives it only when its country may see it.
  make status      every node and whether it is healthy
  make stop        stop everything"""
    )


def node_console_port(index: int) -> int:
    """``make run NODES=...``: node i's web console listens on 8091+i (8088 is the one-node console's)."""
    return 8091 + index


def start_node_consoles(fed: Any, countries: list[str]) -> dict[str, str]:
    """A web console per node, for its country's realm and its own services; the node's pid files hold
    it, so `make stop` stops it with the node."""
    urls: dict[str, str] = {}
    for i, c in enumerate(countries):
        node, port = fed.nodes[c], node_console_port(i)
        _ensure_port_free(port, f"{c}'s web console")
        addrs = {svc: node.address(svc) for svc in node.ports}
        env = {**node.env, **console_env(keycloak_url(), f"jit-{c.lower()}", port, addrs), **console_tls_env(port)}
        log = node.folder / "logs" / "console.log"
        proc = spawn([sys.executable, "-m", "services.console"], log, env=env, cwd=ROOT)
        node.pidfile("console").parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        node.pidfile("console").write_text(str(proc.pid))
        wait_until(lambda p=port: console_healthy(p, tls_on()), 60, f"{c}'s web console", log, proc)  # type: ignore[misc]
        urls[c] = console_url(port)
        _say(f"  console {c:<4} healthy           {urls[c]} (realm jit-{c.lower()})")
    return urls


def down_nodes() -> None:
    from jitdev.nodes import stop_recorded

    for name in stop_recorded(STATE):
        _say(f"  {name:<20} stopped")
    NODES_FILE.unlink(missing_ok=True)


def status_nodes() -> int:
    if not NODES_FILE.exists():
        return 0
    known = json.loads(NODES_FILE.read_text())
    bad = 0
    _say(f"  federation of {', '.join(known['countries'])}:")
    hub = known["ports"]["hub"]
    scheme = "tls" if tls_on() else "nats"
    rows = [("hub", f"{scheme}://127.0.0.1:{hub}", port_open(hub))]
    for c in known["countries"]:
        nats_port = known["ports"]["nats"][c]
        rows.append((f"{c.lower()}/nats", f"{scheme}://127.0.0.1:{nats_port}", port_open(nats_port)))
        for svc, port in known["ports"]["services"][c].items():
            rows.append((f"{c.lower()}/{svc}", f"127.0.0.1:{port}", _grpc_healthy(port, tls_on())))
        web = node_console_port(known["countries"].index(c))
        rows.append((f"{c.lower()}/console", console_url(web), console_healthy(web, tls_on())))
    for name, addr, healthy in rows:
        bad += not healthy
        _say(f"  {name:<20} {addr:<28} {'healthy' if healthy else 'NOT healthy'}")
    return 1 if bad else 0


def parse_nats_cluster(value: str) -> int:
    """``NATS_CLUSTER``: empty or 1 (one server), or an odd number of servers, 3 or 5 (a quorum survives the
    loss of one, or two)."""
    if not value.strip():
        return 1
    if value.strip() not in ("1", "3", "5"):
        raise ValueError("NATS_CLUSTER: give 3 (or 5) servers, an odd number for a JetStream quorum, or 1")
    return int(value)


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "status"
    nodes = argv[argv.index("--nodes") + 1] if "--nodes" in argv[:-1] else os.environ.get("NODES", "")
    tls = "--tls" in argv
    cluster = argv[argv.index("--nats-cluster") + 1] if "--nats-cluster" in argv[:-1] else ""
    if cmd == "up":
        try:
            size = parse_nats_cluster(cluster)
            if nodes.strip():
                from jitdev.federation import parse_nodes

                if size > 1:
                    raise ValueError("a NATS cluster runs on one node for now: make run NATS_CLUSTER=3 without NODES")
                up_nodes(parse_nodes(nodes), tls=tls)
            else:
                up(tls=tls, nats_cluster=size)
        except (RuntimeError, OSError, ValueError) as exc:
            _say(f"error: {exc}")
            return 1
        return 0
    if cmd == "down":
        down_nodes()
        down()
        return 0
    if cmd == "status":
        if not NODES_FILE.exists():
            return status()
        healthy = _pid("keycloak") is not None and _keycloak_healthy()
        address = keycloak_url()
        _say(f"  {'keycloak':<20} {address:<28} {'healthy' if healthy else 'NOT healthy'}")
        return max(0 if healthy else 1, status_nodes())
    _say("usage: python -m jitdev.stack up [--tls] [--nats-cluster 3] [--nodes nl,de,ie]|down|status")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
