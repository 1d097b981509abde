"""NATS server configuration of a federation of per-country nodes: the hub that carries the links, and
each country's node. Rendered as JSON, which nats-server reads as its configuration format.

The hub holds one account per country, with one user: the credentials that country's node links in
with (a leafnode connection). Accounts isolate: nothing crosses from one country's account to another's
unless the owner's account exports it to exactly that recipient. For each ordered pair (owner, peer):

- the owner exports, to the peer only, the service that creates a consumer on its outbound stream
  filtered to the peer's subjects (``$JS.<owner>.API.CONSUMER.CREATE.JIT_OUT_<OWNER>.*.jit.out.<peer>.>``:
  the filter is part of the subject, and the server checks that the request's filter matches it);
- the owner exports, to the peer only, the stream its server delivers those messages on
  (``fed.deliver.<peer>.<owner>.>``), and the service the peer answers flow control on
  (``$JS.FC.JIT_OUT_<OWNER>.>``);
- the owner exports, to every peer, the commands forwarded to it (``fed.cmd.<owner>.>``: a user's node
  sends the command with the user's token; the owner verifies it and applies its own policy);
- the peer imports exactly those.

So IE's credentials can neither create a consumer that reads what NL sends DE, nor receive its
deliveries, nor read NL's stream any other way (no other JetStream API of NL's is exported): the broker
enforces residency. On each node, the link denies the application's own subjects (``jit.>``) both ways:
events leave a node only through its outbound stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jitlib.federation import deliver_prefix, domain, outbound_stream_name


def account(jurisdiction: str) -> str:
    return jurisdiction.upper()


def _consumer_create(owner: str, peer: str) -> str:
    return f"$JS.{domain(owner)}.API.CONSUMER.CREATE.{outbound_stream_name(owner)}.*.jit.out.{domain(peer)}.>"


def _flow_control(owner: str) -> str:
    return f"$JS.FC.{outbound_stream_name(owner)}.>"


def _commands(owner: str) -> str:
    return f"fed.cmd.{domain(owner)}.>"


def tls_block(
    cert_file: Path | None = None,
    key_file: Path | None = None,
    ca_file: Path | None = None,
    *,
    verify: bool = False,
    timeout: float = 2.0,
) -> dict[str, Any]:
    """A nats-server ``tls`` map. On a listener (client port, leafnode port): the server's certificate and
    key, and with ``verify`` the CA whose client certificates it requires. On a leafnode remote: the CA
    the hub's certificate is checked against, and the node's own certificate when the hub verifies it.
    ``timeout``: seconds a handshake may take (the server's default, half a second, is short for a busy
    host)."""
    block: dict[str, Any] = {"timeout": timeout}
    if cert_file is not None:
        block["cert_file"] = str(cert_file)
    if key_file is not None:
        block["key_file"] = str(key_file)
    if ca_file is not None:
        block["ca_file"] = str(ca_file)
    if verify:
        if ca_file is None:
            raise ValueError("verify: client certificates are checked against a CA file; give one")
        block["verify"] = True
    return block


def hub_config(
    countries: Iterable[str],
    passwords: Mapping[str, str],
    *,
    host: str = "127.0.0.1",
    port: int,
    leafnode_port: int,
    monitor_port: int | None = None,
    server_name: str = "jit-hub",
    tls: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The hub: one account per country (its node's link user), the exports and imports that carry what
    each owner sends each peer, and nothing else. ``tls`` (a :func:`tls_block`): TLS on its client port
    and on its leafnode port (the links)."""
    codes = sorted({c.upper() for c in countries})
    accounts: dict[str, Any] = {}
    for me in codes:
        others = [o for o in codes if o != me]
        exports: list[dict[str, Any]] = [
            {"service": _flow_control(me), "accounts": [account(o) for o in others]},
            # Commands on this country's records, forwarded by the node of the user who acts.
            # (A download is answered piece by piece: a stream of responses, each within a minute.)
            {
                "service": _commands(me),
                "accounts": [account(o) for o in others],
                "response_type": "stream",
                "response_threshold": "1m",
            },
        ]
        imports: list[dict[str, Any]] = []
        for other in others:
            exports.append({"service": _consumer_create(me, other), "accounts": [account(other)]})
            exports.append({"stream": f"{deliver_prefix(other, me)}.>", "accounts": [account(other)]})
            imports.append({"service": {"account": account(other), "subject": _consumer_create(other, me)}})
            imports.append({"stream": {"account": account(other), "subject": f"{deliver_prefix(me, other)}.>"}})
            imports.append({"service": {"account": account(other), "subject": _flow_control(other)}})
            imports.append({"service": {"account": account(other), "subject": _commands(other)}})
        user = {
            "user": domain(me),
            "password": passwords[me],
            # Within its own account nothing of another country's arrives anyway; this makes an attempt
            # to listen on what is delivered to another country an explicit refusal. (A leafnode user's
            # subscribe permissions also decide which requests its node may send through the hub: never
            # deny another domain's JetStream API here, or sourcing from that domain stops.)
            "permissions": {
                "subscribe": {
                    "allow": [">"],
                    "deny": [f"fed.deliver.{domain(o)}.>" for o in others],
                }
            },
        }
        accounts[account(me)] = {"users": [user], "exports": exports, "imports": imports}
    config: dict[str, Any] = {
        "server_name": server_name,
        "listen": f"{host}:{port}",
        "leafnodes": {"listen": f"{host}:{leafnode_port}", **({"tls": dict(tls)} if tls is not None else {})},
        "accounts": accounts,
    }
    if tls is not None:
        config["tls"] = dict(tls)
    if monitor_port is not None:
        config["http"] = f"{host}:{monitor_port}"
    return config


def _store_cipher(store_key: str) -> dict[str, str]:
    """The ``jetstream`` settings that encrypt the store under ``store_key`` (none when it is empty)."""
    return {"cipher": "chachapoly", "key": store_key} if store_key else {}


def local_config(
    *,
    port: int,
    store_dir: Path,
    server_name: str,
    host: str = "127.0.0.1",
    authorization: Mapping[str, Any] | None = None,
    tls: Mapping[str, Any] | None = None,
    monitor_port: int | None = None,
    store_key: str = "",
) -> dict[str, Any]:
    """A single node's NATS server (``make run``, the test suite): JetStream with its store, and the
    ``authorization`` block of its users when given (without one, any client is accepted). ``tls`` (a
    :func:`tls_block`): TLS on the client port; a plaintext client is then refused. The HTTP monitoring
    endpoint on ``monitor_port`` when given (it shows who is connected as which user). ``store_key``: the
    server encrypts its JetStream store with it (ChaCha20-Poly1305), so the events it keeps (record states,
    titles included) are not readable on disk; blocks written before the key was set stay as they were."""
    config: dict[str, Any] = {
        "server_name": server_name,
        "listen": f"{host}:{port}",
        "jetstream": {"store_dir": str(store_dir), **_store_cipher(store_key)},
    }
    if authorization is not None:
        config["authorization"] = dict(authorization)
    if tls is not None:
        config["tls"] = dict(tls)
    if monitor_port is not None:
        config["http"] = f"{host}:{monitor_port}"
    return config


@dataclass(frozen=True)
class NodeNats:
    """One country's NATS server: JetStream in the country's own domain, linked to the hub."""

    country: str
    port: int
    store_dir: Path
    hub_url: str  # nats-leaf://host:port
    password: str
    host: str = "127.0.0.1"
    #: The link kept in the configuration but not connected (a cut link; reloadable with SIGHUP).
    link_disabled: bool = False
    #: The key the server encrypts its JetStream store with (ChaCha20-Poly1305): the events it keeps,
    #: and those it holds for or receives from other nodes, are not readable on disk. Empty: not encrypted.
    store_key: str = ""
    #: TLS on the node's client port (a :func:`tls_block` with its certificate); None: plaintext.
    tls: Mapping[str, Any] | None = None
    #: TLS on the link to the hub (a :func:`tls_block` with the CA of the hub's certificate, and the
    #: node's own certificate when the hub verifies it); None: a plaintext link.
    link_tls: Mapping[str, Any] | None = None
    #: The ``authorization`` block of the node's own clients (``jitlib.natsauth.NodeUsers.authorization``):
    #: each service and the admin tool with its own user and permissions. None: any local client.
    authorization: Mapping[str, Any] | None = field(default=None, repr=False)

    def config(self) -> dict[str, Any]:
        user = domain(self.country)
        scheme, _, rest = self.hub_url.partition("://")
        config: dict[str, Any] = {
            "server_name": f"jit-{user}",
            "listen": f"{self.host}:{self.port}",
            "jetstream": {
                "store_dir": str(self.store_dir),
                "domain": domain(self.country),
                **_store_cipher(self.store_key),
            },
            "leafnodes": {
                "remotes": [
                    {
                        "url": f"{scheme}://{user}:{self.password}@{rest}",
                        # The application's subjects never cross a link: events leave through the
                        # outbound stream only, and arrive through JIT_IN.
                        "deny_exports": ["jit.>"],
                        "deny_imports": ["jit.>"],
                        "disabled": self.link_disabled,
                        **({"tls": dict(self.link_tls)} if self.link_tls is not None else {}),
                    }
                ]
            },
            **({"tls": dict(self.tls)} if self.tls is not None else {}),
        }
        if self.authorization is not None:
            config["authorization"] = dict(self.authorization)
        return config


def write(path: Path, config: Mapping[str, Any]) -> Path:
    """Write a configuration readable by its owner only (it holds the link credentials)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path
