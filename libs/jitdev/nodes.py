"""Several per-country nodes on one machine: ``make run NODES=nl,de,ie`` and the federation tests.

Each node is a folder (``var/nodes/<cc>/``) holding everything that country keeps: its NATS server's
JetStream store, its four services' databases and blobs, its logs and traces. The nodes are linked
through a hub NATS server (``var/hub/``); one Keycloak serves one realm per country (``jit-nl``, ...),
and every node trusts each realm for its own country only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jitdev.federation import FederationNats
from jitdev.procs import port_open, spawn, terminate, wait_until
from jitdev.realms import country_realm, realm_name
from jitlib.crypto import generate_kek_file
from jitlib.natsauth import NodeUsers
from jitlib.pki import LocalPki
from jitlib.tls import channel_credentials

ROOT = Path(__file__).resolve().parents[2]

#: The services of a node, in start order, with their module.
SERVICE_MODULES = (
    ("tasks", "services.tasks"),
    ("evidence", "services.evidence"),
    ("preservation", "services.preservation"),
    ("messaging", "services.messaging"),
    ("victims", "services.victims"),
)


def grpc_healthy(port: int, credentials: grpc.ChannelCredentials | None = None) -> bool:
    """Whether the service on ``port`` says SERVING (asked over TLS with ``credentials``)."""
    target = f"127.0.0.1:{port}"
    channel = grpc.insecure_channel(target) if credentials is None else grpc.secure_channel(target, credentials)
    with channel as ch:
        try:
            resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        except grpc.RpcError:
            return False
        return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)


@dataclass(frozen=True)
class Ports:
    """Where a local federation listens: the hub, and per node its NATS and its four services."""

    hub: int
    leafnode: int
    nats: dict[str, int]
    services: dict[str, dict[str, int]]

    @classmethod
    def fixed(cls, countries: list[str], base: int = 50100) -> Ports:
        """``make run NODES=...``: node i has NATS on 4231+i and its services on base+10*i+1..4."""
        return cls(
            hub=4229,
            leafnode=7422,
            nats={c: 4231 + i for i, c in enumerate(countries)},
            services={
                c: {name: base + 10 * i + k for k, (name, _) in enumerate(SERVICE_MODULES, start=1)}
                for i, c in enumerate(countries)
            },
        )

    @classmethod
    def free(cls, countries: list[str], pick: Callable[[], int]) -> Ports:
        return cls(
            hub=pick(),
            leafnode=pick(),
            nats={c: pick() for c in countries},
            services={c: {name: pick() for name, _ in SERVICE_MODULES} for c in countries},
        )


@dataclass
class Node:
    country: str
    folder: Path
    env: dict[str, str]
    ports: dict[str, int]
    #: The node's NATS users: each service is started with its own credentials only.
    nats_users: NodeUsers | None = None
    #: How the node's services are asked for their health: over TLS when they serve it.
    credentials: grpc.ChannelCredentials | None = field(default=None, repr=False)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    def pidfile(self, name: str) -> Path:
        return self.folder / "run" / f"{name}.pid"

    def start_service(self, name: str, module: str) -> None:
        port = self.ports[name]
        log = self.folder / "logs" / f"{name}.log"
        env = {
            **self.env,
            **(self.nats_users.env(name) if self.nats_users is not None else {}),
            f"JIT_{name.upper()}_LISTEN": f"127.0.0.1:{port}",
        }
        proc = spawn([sys.executable, "-m", module], log, env=env, cwd=ROOT)
        self.processes[name] = proc
        self.pidfile(name).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.pidfile(name).write_text(str(proc.pid))

    def wait_healthy(self, timeout: float = 90) -> None:
        for name, proc in self.processes.items():
            port = self.ports[name]
            log = self.folder / "logs" / f"{name}.log"
            wait_until(
                lambda p=port: grpc_healthy(p, self.credentials),  # type: ignore[misc]
                timeout,
                f"{self.country}'s {name} service",
                log,
                proc,
            )

    def stop_services(self) -> None:
        for name, proc in reversed(list(self.processes.items())):
            terminate(proc)
            self.pidfile(name).unlink(missing_ok=True)
        self.processes.clear()


@dataclass
class LocalFederation:
    """A federation on this machine: the NATS side (hub, node servers) and each node's services."""

    countries: list[str]
    root: Path
    ports: Ports
    keycloak_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Countries without a node here whose realms every node trusts too (each for its own country): their
    #: users may ask a node, which answers by its policy (FR, not a member of the demo JIT, gets NOT_FOUND).
    guests: list[str] = field(default_factory=list)
    #: The services each node runs (names from ``SERVICE_MODULES``); None: all four.
    services: tuple[str, ...] | None = None
    #: TLS on every link of every node (NATS, the hub, the gRPC ports), with these files; None: plaintext.
    tls: LocalPki | None = None
    nats: FederationNats = field(init=False)
    nodes: dict[str, Node] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.nats = FederationNats(
            self.countries, self.root, self.ports.hub, self.ports.leafnode, self.ports.nats, tls=self.tls
        )
        issuers = ",".join(f"{c}={self.issuer(c)}" for c in [*self.countries, *self.guests])
        for c in self.countries:
            # Each node's key-encryption key (base64 of 32 random bytes, mode 0600), made once.
            generate_kek_file(self.nats.node_dir(c) / "kek.b64")
            env = {
                **self.nats.node_env(c),
                "JIT_KEK_FILE": str(self.nats.node_dir(c) / "kek.b64"),
                "JIT_OIDC_ISSUERS": issuers,
                # The local realms' issuer of the one-node run is not trusted by a node.
                "JIT_OIDC_ISSUER": self.issuer(c),
                "JIT_OTEL_EXPORTER": os.environ.get("JIT_OTEL_EXPORTER", "file"),
                "JIT_OTEL_FILE": str(self.nats.node_dir(c) / "traces.jsonl"),
                "PYTHONUNBUFFERED": "1",
                **self._tls_env(),
                **self.extra_env,
            }
            credentials = channel_credentials(self.tls.ca) if self.tls is not None else None
            self.nodes[c] = Node(
                c, self.nats.node_dir(c), env, self.ports.services[c], self.nats.users[c], credentials=credentials
            )

    def _tls_env(self) -> dict[str, str]:
        """The services' TLS settings: their gRPC ports serve TLS, and they trust the CA for Keycloak."""
        if self.tls is None:
            return {}
        return {
            "JIT_TLS_CERT_FILE": str(self.tls.server.cert),
            "JIT_TLS_KEY_FILE": str(self.tls.server.key),
            "JIT_TLS_CA_FILE": str(self.tls.ca),
            "JIT_OIDC_CA_FILE": str(self.tls.ca),
        }

    def issuer(self, country: str) -> str:
        return f"{self.keycloak_url.rstrip('/')}/realms/{realm_name(country)}"

    def start(self, say: Callable[[str], None] = lambda _msg: None) -> LocalFederation:
        t0 = time.monotonic()
        self.nats.start()
        say(f"  hub          healthy           {self.nats.hub.url} (leafnodes :{self.ports.leafnode})")
        for node in self.nodes.values():
            for name, module in SERVICE_MODULES:
                if self.services is None or name in self.services:
                    node.start_service(name, module)
        for node in self.nodes.values():  # started together, waited for together: the nodes start in parallel
            node.wait_healthy()
            say(f"  node {node.country:<7} healthy           {self._describe(node)}")
        say(f"  {len(self.nodes)} nodes up in {time.monotonic() - t0:.0f} s")
        return self

    def _describe(self, node: Node) -> str:
        services = " ".join(f"{n}:{p}" for n, p in node.ports.items())
        return f"{self.nats.nodes[node.country].url}  {services}"

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop_services()
        self.nats.stop()


def ensure_country_realms(admin: object, countries: Iterable[str]) -> list[str]:
    """Create the realm of each country that Keycloak does not hold yet; returns those created."""
    created = []
    existing = {r["realm"] for r in admin.get_realms()}  # type: ignore[attr-defined]
    for c in countries:
        if realm_name(c) not in existing:
            admin.create_realm(payload=country_realm(c), skip_exists=True)  # type: ignore[attr-defined]
            created.append(realm_name(c))
    return created


def announce_workspaces(federation: LocalFederation, keycloak_url: str, admin_user: str, admin_password: str) -> int:
    """Each node announces the workspaces its country leads, from its own realm, to itself and its peers."""
    from jitcli import kcadmin
    from jitcli.workspace_sync import publish_workspaces
    from jitlib.tls import client_context

    ca = federation.tls.ca if federation.tls is not None else None
    verify: bool | str = str(ca) if ca is not None else True
    count = 0
    for c in federation.countries:
        admin = kcadmin.connect(keycloak_url, admin_user, admin_password, realm=realm_name(c), verify=verify)
        url = federation.nats.nodes[c].url
        workspaces = kcadmin.list_workspaces(admin)
        admin_nats = federation.nats.users[c].credentials("admin")
        tls = client_context(ca) if ca is not None else None
        count += asyncio.run(
            publish_workspaces(url, workspaces, federation.nats.federation(c), tls=tls, credentials=admin_nats)
        )
    return count


def stop_recorded(root: Path) -> list[str]:
    """``make stop``: stop every process a federation under ``root`` recorded (services, then NATS)."""
    stopped = []
    services = [p for p in sorted(root.glob("nodes/*/run/*.pid")) if p.name != "nats.pid"]
    servers = sorted(root.glob("nodes/*/run/nats.pid")) + sorted(root.glob("hub/run/nats.pid"))
    for pidfile in services + servers:
        with contextlib.suppress(ValueError, FileNotFoundError):
            pid = int(pidfile.read_text())
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
                stopped.append(f"{pidfile.parent.parent.name}/{pidfile.stem}")
                _wait_gone(pid)
        pidfile.unlink(missing_ok=True)
    return stopped


def _wait_gone(pid: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


__all__ = ["LocalFederation", "Node", "Ports", "announce_workspaces", "ensure_country_realms", "port_open"]
