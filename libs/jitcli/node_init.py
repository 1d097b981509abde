"""``jit node init --country NL``: a new country node's configuration, keys and certificates, in one folder.

What it writes (``--dir``, default ``./node-<cc>``; secrets 0600, folders 0700)::

    node.env                      every JIT_* setting of the node's services (set ones, then defaults)
    cli.env                       the jit command's settings for this node
    keys/kek.b64                  the node's key-encryption key: base64 of 32 random bytes, one line
    tls/ca.pem [ca-key.pem]       the CA: a new self-signed one (a test federation), or yours (--ca-cert)
    tls/server.pem, server-key.pem   the node's server certificate (gRPC, NATS, console), for --name
    tls/client.pem, client-key.pem   the services' client certificate (mutual TLS)
    nats/credentials/<client>.json   each NATS client's user and password (``jitlib.natsauth``)
    nats/nats-server.json         the node's NATS server: TLS, JetStream (own domain, store encrypted),
                                  the users and their permissions, and with --hub the link to the hub
    nats/link-password            with --hub: the node's link password (give it to the hub's operator)
    state/                        the services' state folder (SQLite, blobs), empty

``jit node check --env-file DIR/node.env`` passes on what it writes.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import json
import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from jitcli import node_hub
from jitcli.node_check import known_country
from jitcli.nodeconf import SERVICES
from jitlib import natsconf, pki
from jitlib.config import CommonSettings, ServiceSettings

#: Default gRPC ports of the services, in the order of :data:`SERVICES` (as ``make run``).
PORTS = {"tasks": 50051, "evidence": 50052, "preservation": 50053, "messaging": 50054, "victims": 50055}
NATS_PORT = 4222


class InitError(Exception):
    """Init cannot go on; the text says why, in words."""


@dataclass
class InitOptions:
    country: str
    directory: Path
    peers: list[str] = field(default_factory=list)
    #: DNS names and IP addresses of the node's host (its server certificate and URLs use the first).
    names: list[str] = field(default_factory=lambda: list(pki.LOCAL_NAMES))
    #: The node's identity realm issuer; empty: https://<first name>:8443/realms/jit-<cc>.
    issuer: str = ""
    #: The host the services and NATS listen on.
    bind: str = "127.0.0.1"
    #: A PostgreSQL server URL (``postgresql+psycopg://user@host:5432``): each service gets its database
    #: ``jit_<cc>_<service>`` there. Empty: SQLite under the state folder.
    postgres: str = ""
    ca_cert: Path | None = None
    ca_key: Path | None = None
    nats_port: int = NATS_PORT
    #: The federation hub's leafnode URL (``nats-leaf://hub.example:7422``); empty: a node on its own.
    hub: str = ""
    #: A file holding the link password the hub knows this node by; None: a new one is generated.
    link_password_file: Path | None = None
    #: The CA of the hub's certificate (TLS on the link); None: the node's own CA when the URL is tls://.
    hub_ca: Path | None = None


@dataclass
class InitResult:
    directory: Path
    env_file: Path
    cli_env_file: Path
    written: list[Path]
    notes: list[str]


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _write(path: Path, data: bytes | str, mode: int = 0o600) -> Path:
    _private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    return path


def new_kek(path: Path) -> Path:
    """The KEK file: one line, the base64 of 32 random bytes (the same as ``head -c 32 /dev/urandom |
    base64``)."""
    return _write(path, base64.b64encode(secrets.token_bytes(32)) + b"\n")


def _validate(opts: InitOptions) -> None:
    cc = opts.country
    if not (len(cc) == 2 and cc.isupper() and known_country(cc)):
        raise InitError(f"--country {cc[:12]!r} is not an ISO 3166-1 country code (such as NL)")
    for peer in opts.peers:
        if not (len(peer) == 2 and peer.isupper() and known_country(peer)):
            raise InitError(f"--peers names {peer[:12]!r}, not an ISO 3166-1 country code")
        if peer == cc:
            raise InitError(f"--peers names the node's own country {cc}")
    if len(set(opts.peers)) != len(opts.peers):
        raise InitError("--peers names a country more than once")
    if not [n for n in opts.names if n.strip()]:
        raise InitError("--name: give at least one DNS name or IP address of the node's host")
    if opts.ca_key is not None and opts.ca_cert is None:
        raise InitError("--ca-key needs --ca-cert (the CA's certificate)")
    if opts.postgres and not opts.postgres.startswith(("postgresql://", "postgresql+psycopg://")):
        raise InitError("--postgres: give a PostgreSQL server URL such as postgresql+psycopg://jit@db:5432")
    if opts.hub:
        problem = node_hub.hub_url_problem(opts.hub)
        if problem:
            raise InitError(f"--hub {problem}")
        if not opts.peers:
            raise InitError("--hub needs --peers: the countries this node exchanges with through the hub")
    if (opts.link_password_file is not None or opts.hub_ca is not None) and not opts.hub:
        raise InitError("--link-password-file and --hub-ca need --hub")
    if opts.hub_ca is not None and not opts.hub_ca.is_file():
        raise InitError(f"--hub-ca {opts.hub_ca} does not exist")
    if (opts.directory / "node.env").exists():
        raise InitError(f"{opts.directory / 'node.env'} exists: this folder holds a node already; choose another --dir")


def _own_ca(cert_path: Path, key_path: Path | None) -> tuple[x509.Certificate, pki.Issued | None]:
    """Your CA: its certificate, and with its key the means to issue the node's certificates."""
    cert = pki.load_certificate(cert_path)
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise InitError(f"{cert_path} is not a CA certificate (its basic constraints do not say CA)")
    if cert.not_valid_after_utc <= dt.datetime.now(dt.UTC):
        raise InitError(f"the CA certificate {cert_path} has expired")
    if key_path is None:
        return cert, None
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        raise InitError(f"{key_path} is not an unencrypted PEM private key") from None
    if cert.public_key() != key.public_key():
        raise InitError(f"{key_path} is not the key of the CA certificate {cert_path}")
    return cert, pki.Issued(cert, key)  # type: ignore[arg-type]


def _settings_lines(model: type[BaseSettings], prefix: str, set_values: Mapping[str, str]) -> list[str]:
    """Each setting of ``model`` as ``KEY=value`` when set here, else as a commented default."""
    lines = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}".upper()
        if key in set_values:
            lines.append(f"{key}={_quote(set_values[key])}")
            continue
        default = info.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            lines.append(f"# {key}=  (a secret: prefer the file setting)")
        else:
            lines.append(f"# {key}={'' if default is None else _quote(str(default))}")
    known = {f"{prefix}{n}".upper() for n in model.model_fields}
    extra = [k for k in set_values if k.startswith(prefix) and k not in known]
    if prefix == "JIT_":
        extra = [k for k in extra if not any(k.startswith(f"JIT_{s.upper()}_") for s in SERVICES)]
    lines.extend(f"{k}={_quote(set_values[k])}" for k in extra)
    return lines


def _quote(value: str) -> str:
    return json.dumps(value) if any(c in value for c in " #'\"$\\") else value


def _natsauth() -> Any:
    """``jitlib.natsauth`` (NATS users and permissions), when this version of the platform has it."""
    try:
        return importlib.import_module("jitlib.natsauth")
    except ImportError:
        return None


def init(opts: InitOptions) -> InitResult:
    _validate(opts)
    cc, d = opts.country, opts.directory.absolute()
    host = opts.names[0]
    written: list[Path] = []
    notes: list[str] = []
    _private_dir(d)
    state = _private_dir(d / "state")
    tls = _private_dir(d / "tls")

    # The key-encryption key.
    kek = new_kek(d / "keys" / "kek.b64")
    written.append(kek)

    # The CA and the node's certificates.
    ca_file = tls / "ca.pem"
    server = pki.TlsFiles(tls / "server.pem", tls / "server-key.pem", ca_file)
    client = pki.TlsFiles(tls / "client.pem", tls / "client-key.pem", ca_file)
    issuer_ca: pki.Issued | None
    if opts.ca_cert is not None:
        _, issuer_ca = _own_ca(opts.ca_cert, opts.ca_key)
        shutil.copyfile(opts.ca_cert, ca_file)
        os.chmod(ca_file, 0o644)
    else:
        issuer_ca = pki.create_ca(f"JIT test federation CA ({cc})")
        pki.write_pem(issuer_ca, ca_file, tls / "ca-key.pem")
        written.append(tls / "ca-key.pem")
        notes.append(
            f"a new self-signed CA is in {ca_file} (key {tls / 'ca-key.pem'}): give both to the other nodes' "
            f"init (--ca-cert, --ca-key) for a test federation, then keep the key offline"
        )
    written.append(ca_file)
    if issuer_ca is not None:
        pki.write_pem(pki.issue_server(issuer_ca, host, opts.names), server.cert, server.key)
        pki.write_pem(pki.issue_client(issuer_ca, f"jit-node-{cc.lower()}"), client.cert, client.key)
        written += [server.cert, server.key, client.cert, client.key]
    else:
        notes.append(
            f"your CA issues the node's certificates: put them at {server.cert} and {server.key} (server, for "
            f"{', '.join(opts.names)}) and {client.cert} and {client.key} (client), keys 0600; "
            f"`jit node check` verifies them"
        )

    # NATS: the users of the node's clients, and the server's configuration.
    values: dict[str, str] = {
        "JIT_NODE_JURISDICTION": cc,
        "JIT_FEDERATION_PEERS": ",".join(opts.peers),
        "JIT_STATE_DIR": str(state),
        "JIT_NATS_URL": f"tls://{host}:{opts.nats_port}",
        "JIT_NATS_TLS_CA_FILE": str(ca_file),
        "JIT_OIDC_ISSUER": opts.issuer or f"https://{host}:8443/realms/jit-{cc.lower()}",
        "JIT_OIDC_CA_FILE": str(ca_file),
        "JIT_KEK_FILE": str(kek),
        "JIT_TLS_CA_FILE": str(ca_file),
        "JIT_TLS_CERT_FILE": str(server.cert),
        "JIT_TLS_KEY_FILE": str(server.key),
        "JIT_TLS_CLIENT_CERT_FILE": str(client.cert),
        "JIT_TLS_CLIENT_KEY_FILE": str(client.key),
    }
    nats_conf: dict[str, Any] = {
        "server_name": f"jit-{cc.lower()}",
        "listen": f"{opts.bind}:{opts.nats_port}",
        "jetstream": {
            "store_dir": str(state / "nats"),
            "domain": cc.lower(),
            "cipher": "chachapoly",
            "key": secrets.token_hex(32),
        },
        "tls": {"cert_file": str(server.cert), "key_file": str(server.key), "ca_file": str(ca_file), "timeout": 2},
    }
    if opts.hub:
        if opts.link_password_file is not None:
            try:
                password = node_hub.read_password(opts.link_password_file, "--link-password-file")
            except node_hub.HubError as exc:
                raise InitError(str(exc)) from None
        else:
            password = node_hub.new_password()
        password_file = _write(d / "nats" / node_hub.LINK_PASSWORD_FILE, password + "\n")
        written.append(password_file)
        # TLS on the link: the node shows its client certificate and checks the hub's against --hub-ca
        # (or its own CA for a tls:// URL); a plain nats-leaf:// URL without --hub-ca is a plaintext link.
        link_tls = None
        if opts.hub_ca is not None or opts.hub.startswith("tls://"):
            hub_ca = tls / "hub-ca.pem" if opts.hub_ca is not None else ca_file
            if opts.hub_ca is not None:
                shutil.copyfile(opts.hub_ca, hub_ca)
                os.chmod(hub_ca, 0o644)
            link_tls = natsconf.tls_block(client.cert, client.key, hub_ca)
        else:
            notes.append("the link to the hub is plaintext: give --hub-ca (or a tls:// URL) when the hub uses TLS")
        nats_conf["leafnodes"] = node_hub.node_leafnodes(cc, opts.hub, password, link_tls)
        notes.append(
            f"give the hub's operator {password_file} (as {cc.lower()}.password) and, when the hub checks "
            f"the nodes' certificates, {ca_file}"
        )
    elif opts.peers:
        notes.append("--peers without --hub: the node has no link to its peers (jit node check says so)")
    natsauth = _natsauth()
    if natsauth is not None:
        users = natsauth.node_users(_private_dir(d / "nats" / "credentials"), cc).ensure()
        nats_conf["authorization"] = users.authorization()
        values["JIT_NATS_CREDENTIALS_DIR"] = str(d / "nats" / "credentials")
        written += sorted((d / "nats" / "credentials").glob("*.json"))
    else:
        notes.append("this version has no NATS users (jitlib.natsauth): the NATS server takes any client")
    written.append(_write(d / "nats" / "nats-server.json", json.dumps(nats_conf, indent=2) + "\n"))

    # The services' settings.
    for name in SERVICES:
        values[f"JIT_{name.upper()}_LISTEN"] = f"{opts.bind}:{PORTS[name]}"
        if opts.postgres:
            base = opts.postgres.rstrip("/").replace("postgresql://", "postgresql+psycopg://", 1)
            values[f"JIT_{name.upper()}_DATABASE_URL"] = f"{base}/jit_{cc.lower()}_{name}"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# The {cc} node, written by `jit node init` on {now}. Every JIT_* setting of the node's services:",
        "# the ones set here, then each default (commented). README.md, Configuration, says what each means;",
        "# each service's README lists its own. Check it with: jit node check --env-file THIS-FILE",
        "",
        "# Every service (jitlib.config.CommonSettings)",
        *_settings_lines(CommonSettings, "JIT_", values),
    ]
    for name in SERVICES:
        lines += ["", f"# The {name} service (prefix JIT_{name.upper()}_)"]
        lines += _settings_lines(ServiceSettings, f"JIT_{name.upper()}_", values)
    env_file = _write(d / "node.env", "\n".join(lines) + "\n")
    keycloak = values["JIT_OIDC_ISSUER"].split("/realms/")[0]
    cli = [
        f"# The jit command's settings for the {cc} node (set -a; . THIS-FILE; set +a).",
        f"JIT_KEYCLOAK_URL={keycloak}",
        f"JIT_REALM=jit-{cc.lower()}",
        *(f"JIT_{name.upper()}_ADDR={host}:{PORTS[name]}" for name in SERVICES),
        f"JIT_NATS_URL={values['JIT_NATS_URL']}",
        f"JIT_NATS_TLS_CA_FILE={ca_file}",
        f"JIT_TLS_CA_FILE={ca_file}",
        f"JIT_OIDC_CA_FILE={ca_file}",
        f"JIT_NODE_JURISDICTION={cc}",
        f"JIT_FEDERATION_PEERS={values['JIT_FEDERATION_PEERS']}",
    ]
    cli_env_file = _write(d / "cli.env", "\n".join(cli) + "\n")
    return InitResult(d, env_file, cli_env_file, [env_file, cli_env_file, *written], notes)
