"""A federation's link: each country node's leafnode remote to the hub, and the hub's configuration.

``jit node init --hub URL --peers CC,CC`` links a node to a hub: its NATS configuration gets the leafnode
remote exactly as :class:`jitlib.natsconf.NodeNats` renders it (the application's subjects denied both
ways), and the node's link password is kept in ``nats/link-password`` (0600). The country gives that
password (and its CA certificate, when the hub checks the nodes' certificates) to the hub's operator.

``jit node hub-config --countries NL,DE,IE --passwords-dir D`` writes the hub's configuration from those
passwords (``D/<cc>.password``, one line each) with :func:`jitlib.natsconf.hub_config`: one account per
country and the exports that carry exactly what each owner sends each peer.
"""

from __future__ import annotations

import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jitlib import natsconf

#: The schemes of a hub's leafnode URL (``tls://`` asks for TLS on the link).
HUB_SCHEMES = ("nats-leaf", "tls", "nats")
#: A link password goes into the remote's URL (``user:password@host``): URL-safe characters only.
PASSWORD_RE = re.compile(r"^[A-Za-z0-9._~-]{16,128}$")
LINK_PASSWORD_FILE = "link-password"  # noqa: S105 - a file name


class HubError(Exception):
    """The link or the hub cannot be configured; the text says why, in words."""


def hub_url_problem(url: str) -> str | None:
    """Why ``url`` is not a hub's leafnode URL (``nats-leaf://host:7422``), or None when it is one."""
    try:
        parts = urlsplit(url)
        port_ok = parts.port is not None and 0 < parts.port < 65536
    except ValueError:
        return "is not a URL of the form nats-leaf://host:port"
    if parts.scheme not in HUB_SCHEMES:
        return f"is not a URL of the form nats-leaf://host:port (allowed schemes: {', '.join(HUB_SCHEMES)})"
    if not parts.hostname or not port_ok:
        return "is not a URL of the form nats-leaf://host:port (it needs a host and a port)"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "is not a URL of the form nats-leaf://host:port (nothing may follow the port)"
    return None


def password_problem(password: str) -> str | None:
    if not PASSWORD_RE.fullmatch(password):
        return "must be 16 to 128 characters of A-Z, a-z, 0-9 and . _ ~ - (it goes into the link's URL)"
    return None


def new_password() -> str:
    return secrets.token_urlsafe(24)


def read_password(path: Path, what: str) -> str:
    """A link password file: one line, URL-safe, readable by its owner only."""
    if not path.is_file():
        raise HubError(f"{what}: {path} does not exist")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise HubError(f"{what}: {path} may be read by others (mode {mode:04o}); make it 0600")
    password = path.read_text().strip()
    problem = password_problem(password)
    if problem:
        raise HubError(f"{what}: the password in {path} {problem}")
    return password


def node_leafnodes(country: str, hub_url: str, password: str, link_tls: dict[str, Any] | None) -> dict[str, Any]:
    """The ``leafnodes`` block of a country node's NATS configuration: its one remote, the hub, as
    :class:`jitlib.natsconf.NodeNats` renders it (the rest of that rendering is not used here)."""
    rendered = natsconf.NodeNats(
        country=country, port=0, store_dir=Path(), hub_url=hub_url, password=password, link_tls=link_tls
    ).config()
    leafnodes: dict[str, Any] = rendered["leafnodes"]
    return leafnodes


@dataclass
class HubOptions:
    countries: list[str]
    passwords_dir: Path
    out: Path
    host: str = "0.0.0.0"  # noqa: S104 - a hub is reached by other countries' nodes
    port: int = 4222
    leafnode_port: int = 7422
    monitor_port: int | None = None
    server_name: str = "jit-hub"
    #: The hub's certificate and key (TLS on its client and leafnode ports), and the CA bundle the
    #: nodes' certificates are checked against (each country's CA): all three or none.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None


def hub_file(passwords_dir: Path, country: str) -> Path:
    return passwords_dir / f"{country.lower()}.password"


def hub(opts: HubOptions) -> dict[str, Any]:
    """Write the hub's configuration (0600: it holds every country's link password); return it."""
    codes = opts.countries
    if len(codes) < 2:
        raise HubError("--countries: a federation links at least two countries (such as NL,DE)")
    if len(set(codes)) != len(codes):
        raise HubError("--countries names a country more than once")
    tls_files = (opts.tls_cert, opts.tls_key, opts.tls_ca)
    if any(f is not None for f in tls_files) and not all(f is not None for f in tls_files):
        raise HubError(
            "--tls-cert, --tls-key and --tls-ca go together (the hub's certificate, its key, the nodes' CAs)"
        )
    for f in tls_files:
        if f is not None and not f.is_file():
            raise HubError(f"{f} does not exist")
    if opts.out.exists():
        raise HubError(f"{opts.out} exists; choose another --out (or remove it first)")
    passwords = {c: read_password(hub_file(opts.passwords_dir, c), f"the link password of {c}") for c in codes}
    tls = (
        natsconf.tls_block(opts.tls_cert, opts.tls_key, opts.tls_ca, verify=True) if opts.tls_cert is not None else None
    )
    config = natsconf.hub_config(
        codes,
        passwords,
        host=opts.host,
        port=opts.port,
        leafnode_port=opts.leafnode_port,
        monitor_port=opts.monitor_port,
        server_name=opts.server_name,
        tls=tls,
    )
    natsconf.write(opts.out, config)
    return config
