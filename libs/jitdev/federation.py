"""The NATS side of a local federation of per-country nodes: the hub that carries the links and one NATS
server per country, each with JetStream in its own domain and its own store under its node's folder.

Used by ``make run NODES=nl,de,ie`` (``jitdev.stack``) and by the federation tests. The link passwords are
generated per federation and kept, readable by their owner only, in the hub's folder.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from jitdev.nats import kept_secret, nats_server_binary
from jitdev.procs import port_open, spawn, terminate, wait_until
from jitlib import natsconf
from jitlib.federation import Federation
from jitlib.natsauth import NodeUsers, node_users
from jitlib.pki import LocalPki


def parse_nodes(text: str) -> list[str]:
    """``nl,de,ie`` → ``["NL", "DE", "IE"]`` (order kept, duplicates dropped)."""
    out: list[str] = []
    for item in text.split(","):
        code = item.strip().upper()
        if code and code not in out:
            out.append(code)
    if len(out) < 2:
        raise ValueError("NODES names at least two countries, for example NODES=nl,de,ie")
    return out


def link_passwords(folder: Path, countries: list[str]) -> dict[str, str]:
    """Each country's link password, made once and kept (0600) in ``folder``."""
    path = folder / "links.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for c in countries:
        if c not in known:
            known[c] = secrets.token_urlsafe(24)
            changed = True
    if changed:
        natsconf.write(path, known)
    return {c: known[c] for c in countries}


def set_link(node_dir: Path, up: bool) -> None:
    """Cut or restore a running node's link to the hub, as an operator would: the leafnode remote disabled
    (or enabled) in the node's configuration, reloaded with SIGHUP; the node's server keeps running and
    serving its own clients."""
    conf_path = node_dir / "nats.conf"
    conf = json.loads(conf_path.read_text())
    for remote in conf["leafnodes"]["remotes"]:
        remote["disabled"] = not up
    natsconf.write(conf_path, conf)
    pid = int((node_dir / "run" / "nats.pid").read_text())
    os.kill(pid, signal.SIGHUP)


@dataclass
class NatsProcess:
    name: str
    port: int
    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    #: ``tls`` when the server's client port takes TLS clients only.
    scheme: str = "nats"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> NatsProcess:
        self.process = spawn([nats_server_binary(), "-c", str(self.config_path)], self.log_path)
        self.pidfile.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.pidfile.write_text(str(self.process.pid))
        wait_until(lambda: port_open(self.port), 30, f"nats-server {self.name}", self.log_path, self.process)
        return self

    @property
    def pidfile(self) -> Path:
        return self.config_path.parent / "run" / "nats.pid"

    def stop(self) -> None:
        terminate(self.process)
        self.process = None
        self.pidfile.unlink(missing_ok=True)

    def kill(self) -> None:
        """Abrupt stop (SIGKILL): a crash, or a cut link when it is the hub."""
        import signal

        terminate(self.process, timeout=5, sig=signal.SIGKILL)
        self.process = None


@dataclass
class FederationNats:
    """The hub and each country's NATS server of a local federation, with their configurations."""

    countries: list[str]
    root: Path
    hub_port: int
    leafnode_port: int
    node_ports: dict[str, int]
    #: TLS on every NATS port (the hub's client and leafnode ports, which require a certificate of the CA;
    #: each node's client port) and on each node's link, from these files; None: plaintext.
    tls: LocalPki | None = None
    hub: NatsProcess = field(init=False)
    nodes: dict[str, NatsProcess] = field(init=False, default_factory=dict)
    #: Each node's own NATS users (its services and its ``jit admin``), kept in ``nodes/<cc>/nats-users``.
    users: dict[str, NodeUsers] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        hub_dir = self.root / "hub"
        passwords = link_passwords(hub_dir, self.countries)
        files = self.tls
        scheme = "tls" if files is not None else "nats"
        hub_conf = natsconf.hub_config(
            self.countries,
            passwords,
            port=self.hub_port,
            leafnode_port=self.leafnode_port,
            tls=natsconf.tls_block(files.server.cert, files.server.key, files.ca, verify=True) if files else None,
        )
        self.hub = NatsProcess(
            "hub",
            self.hub_port,
            natsconf.write(hub_dir / "hub.conf", hub_conf),
            hub_dir / "logs" / "nats.log",
            scheme=scheme,
        )
        for c in self.countries:
            node_dir = self.node_dir(c)
            self.users[c] = node_users(node_dir / "nats-users", c)
            node_conf = natsconf.NodeNats(
                country=c,
                port=self.node_ports[c],
                store_dir=node_dir / "nats",
                hub_url=f"nats-leaf://127.0.0.1:{self.leafnode_port}",
                password=passwords[c],
                store_key=kept_secret(node_dir / "nats-store.key"),
                authorization=self.users[c].authorization(),
                tls=natsconf.tls_block(files.server.cert, files.server.key) if files else None,
                # The node shows its certificate to the hub and checks the hub's against the CA.
                link_tls=natsconf.tls_block(files.server.cert, files.server.key, files.ca) if files else None,
            )
            config_path = natsconf.write(node_dir / "nats.conf", node_conf.config())
            self.nodes[c] = NatsProcess(
                c.lower(), self.node_ports[c], config_path, node_dir / "logs" / "nats.log", scheme=scheme
            )

    def set_link(self, country: str, up: bool) -> None:
        """Cut or restore one node's link to the hub (``set_link`` below)."""
        set_link(self.node_dir(country), up)

    def node_dir(self, country: str) -> Path:
        return self.root / "nodes" / country.lower()

    def federation(self, country: str) -> Federation:
        fed = Federation.parse(country, [c for c in self.countries if c != country])
        assert fed is not None
        return fed

    def start(self) -> FederationNats:
        self.hub.start()
        for proc in self.nodes.values():
            proc.start()
        return self

    def stop(self) -> None:
        for proc in self.nodes.values():
            proc.stop()
        self.hub.stop()

    def node_env(self, country: str) -> dict[str, str]:
        """What a node's services need to know of the federation (besides their own ports and their own
        NATS credentials, ``users[country].env(service)``)."""
        return {
            "JIT_NATS_URL": self.nodes[country].url,
            "JIT_NODE_JURISDICTION": country,
            "JIT_FEDERATION_PEERS": ",".join(c for c in self.countries if c != country),
            "JIT_STATE_DIR": str(self.node_dir(country)),
            **({"JIT_NATS_TLS_CA_FILE": str(self.tls.ca)} if self.tls is not None else {}),
        }
