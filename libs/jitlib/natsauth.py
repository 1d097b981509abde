"""Who may do what on a node's NATS server: one user per client (each service, ``jit admin``, ``jit node
backup``), its password, and the subjects it may publish and subscribe to, derived in ONE place from what
each service publishes and consumes (:data:`CLIENTS`). The same table renders the server's
``authorization`` block (``natsconf.local_config``, ``natsconf.NodeNats``, ``jit node init``) and is what
the tests check the server against.

A service may:

- publish its own events (``jit.<own>.>``) and, on a federation, their copies for peers
  (``jit.out.*.<own>.>``; messaging also ``jit.out.*.peers.messaging.>``); nothing of another service;
- create, update and read its own stream (``JIT_<OWN>``) and the node's shared ones (``JIT_WORKSPACES``,
  ``JIT_OUT_<NODE>``, ``JIT_IN``), which every service declares the same way; a stream of another service
  that it consumes, it may create (when its owner has not started yet, as the owner declares it) and read
  its description, never update;
- create and read from durable consumers, ack and answer flow control on the streams it consumes, and no
  other: ``$JS.API.CONSUMER.*.<STREAM>.>``, ``$JS.API.CONSUMER.MSG.NEXT.<STREAM>.>``,
  ``$JS.ACK.<STREAM>.>``, ``$JS.FC.<STREAM>.>`` for those streams only;
- receive on its own inbox prefix only (``_INBOX.<user>.>``: the client is told to use it, see
  :func:`connect_options`), so no service sees the replies, JetStream acknowledgements or pulled
  messages of another;
- send commands on its own service's records to other nodes (``fed.cmd.*.<own>``), serve those sent to
  this node (``fed.cmd.<node>.<own>``, in its queue group) and answer them (``allow_responses``: only to
  the reply subject of a request it received, as many pieces as a download needs, within 10 minutes).

``jit admin workspace`` (user ``admin``) announces workspaces (``jit.workspaces.>``, and on a federation
``jit.out.*.workspaces.>``) and reads what other nodes announced to this one (``JIT_IN``). ``jit node
backup`` and ``restore`` (user ``backup``) snapshot, restore and replace streams (:data:`BACKUP_API`): the
one user that reads every stream and may delete one; it publishes no event.

What NATS subject permissions cannot restrict: the name of a durable consumer is a token of the
``MSG.NEXT`` subject, not its filter, so a service allowed to consume a stream could pull from another
service's durable consumer on that same stream (on the shared ``JIT_IN``, where every service reads its
own subjects); the body of a stream update (a service allowed to update a shared stream could change its
limits); and what a message says (the consumers check an event's sender and audience themselves).
Deleting or purging a stream, or deleting a consumer, is allowed to no service (only ``backup`` may delete
a stream, to restore it); a service may read and erase single messages of its own stream
(``STREAM.MSG.GET``/``MSG.DELETE``: the retention sweep erases a destroyed workspace's events).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
from pydantic import SecretStr

from jitlib.federation import INBOUND_STREAM, outbound_stream_name

WORKSPACES_STREAM = "JIT_WORKSPACES"
#: bcrypt cost of the hashes in the server configuration: each connection costs the server one check.
BCRYPT_ROUNDS = 11
#: How long a service may keep answering a request it received (a download streams many pieces).
RESPONSE_WINDOW = "10m"
RESPONSE_MAX = 1_000_000


@dataclass(frozen=True)
class Client:
    """A NATS client of a node and what it does there."""

    name: str
    #: The event domains it publishes (``jit.<domain>.>``) and whose stream ``JIT_<DOMAIN>`` it owns.
    publishes: tuple[str, ...] = ()
    #: Other domains whose streams it reads with durable consumers.
    consumes: tuple[str, ...] = ()
    #: Core subscriptions on its own subjects (messaging's live delivery).
    listens: tuple[str, ...] = ()
    #: A service of its own: it forwards commands to, and serves commands from, other nodes.
    service: bool = True
    #: Further subjects it may publish to (an operator tool's JetStream API calls).
    api: tuple[str, ...] = ()


#: What ``jit node backup`` and ``restore`` call: list streams, snapshot and restore them (their
#: messages and consumers), delete one that a restore replaces, and read the ids of what a stream stored
#: after a time (an ephemeral consumer, deleted after). It reads every stream, as a backup must; it
#: publishes no event.
BACKUP_API = (
    "$JS.API.INFO",
    "$JS.API.STREAM.NAMES",
    "$JS.API.STREAM.LIST",
    "$JS.API.STREAM.INFO.*",
    "$JS.API.STREAM.SNAPSHOT.*",
    "$JS.SNAPSHOT.ACK.>",
    "$JS.API.STREAM.RESTORE.*",
    "$JS.SNAPSHOT.RESTORE.>",
    "$JS.API.STREAM.DELETE.*",
    "$JS.API.CONSUMER.CREATE.*",
    "$JS.API.CONSUMER.CREATE.*.>",
    "$JS.API.CONSUMER.INFO.*.*",
    "$JS.API.CONSUMER.MSG.NEXT.*.*",
    "$JS.API.CONSUMER.DELETE.*.*",
)


#: Every client of a node. A service that starts consuming another stream is added here, or it is refused.
CLIENTS: tuple[Client, ...] = (
    Client("tasks", publishes=("tasks",), consumes=("preservation", "victims")),
    Client("evidence", publishes=("evidence",), consumes=("preservation", "victims")),
    Client("preservation", publishes=("preservation",), consumes=("evidence", "victims")),
    Client(
        "messaging",
        publishes=("messaging", "peers.messaging"),
        consumes=("tasks", "evidence", "preservation"),
        listens=("jit.messaging.>",),
    ),
    Client("victims", publishes=("victims",), consumes=("tasks", "evidence", "preservation")),
    Client("admin", publishes=("workspaces",), service=False),
    Client("backup", service=False, api=BACKUP_API),
)
CLIENT_NAMES = tuple(c.name for c in CLIENTS)


def client(name: str) -> Client:
    for c in CLIENTS:
        if c.name == name:
            return c
    raise KeyError(f"no NATS client named {name!r} (known: {', '.join(CLIENT_NAMES)})")


def stream_name(event_domain: str) -> str:
    return f"JIT_{event_domain.upper()}"


def inbox_prefix(user: str) -> str:
    """The inbox prefix a client uses, and the only one it may subscribe to."""
    return f"_INBOX.{user}"


def _manage(stream: str) -> list[str]:
    return [f"$JS.API.STREAM.{op}.{stream}" for op in ("INFO", "CREATE", "UPDATE")]


def _consume(stream: str) -> list[str]:
    return [
        f"$JS.API.STREAM.INFO.{stream}",
        # Made by its consumer when its owner has not started yet (as the owner declares it); never updated.
        f"$JS.API.STREAM.CREATE.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.INFO.{stream}.>",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.>",
        f"$JS.ACK.{stream}.>",
        f"$JS.FC.{stream}.>",
    ]


def _dedup(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def permissions(name: str, country: str = "") -> dict[str, Any]:
    """The publish and subscribe permissions of client ``name`` on the node of ``country`` (empty: a
    single node for every country, no federation)."""
    c = client(name)
    own_streams = [stream_name(d) for d in c.publishes if not d.startswith("peers.")]
    shared = [WORKSPACES_STREAM, *([outbound_stream_name(country), INBOUND_STREAM] if country else [])]
    publish: list[str] = []
    subscribe: list[str] = [f"{inbox_prefix(name)}.>"]
    for d in c.publishes:
        if not d.startswith("peers."):
            publish.append(f"jit.{d}.>")
        if country:
            publish.append(f"jit.out.*.{d}.>")
    if c.service:
        for s in own_streams:
            publish += _manage(s)
            # The retention sweep erases a destroyed workspace's events from its own stream, one by one.
            publish += [f"$JS.API.STREAM.MSG.GET.{s}", f"$JS.API.STREAM.MSG.DELETE.{s}"]
        for s in shared:
            publish += _manage(s)
        for d in c.consumes:
            publish += _consume(stream_name(d))
        publish += _consume(WORKSPACES_STREAM)
        if country:
            publish += _consume(INBOUND_STREAM)
            publish.append(f"fed.cmd.*.{name}")
            subscribe.append(f"fed.cmd.{country.lower()}.{name} cmd-{name}")
        subscribe += list(c.listens)
    else:  # the operator's tools: jit admin announces workspaces and reads what other nodes announced
        for d in c.publishes:
            publish += _manage(stream_name(d))
        if country and c.publishes:
            publish += _consume(INBOUND_STREAM)
        publish += list(c.api)
    perms: dict[str, Any] = {
        "publish": {"allow": _dedup(publish)},
        "subscribe": {"allow": _dedup(subscribe)},
    }
    if c.service and country:
        perms["allow_responses"] = {"max": RESPONSE_MAX, "expires": RESPONSE_WINDOW}
    return perms


@dataclass(frozen=True)
class Credentials:
    """What one client connects with. The password never shows in a repr."""

    user: str
    password: SecretStr = field(repr=False)

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments of ``nats.connect``: the user, its password and its own inbox prefix."""
        return {
            "user": self.user,
            "password": self.password.get_secret_value(),
            "inbox_prefix": inbox_prefix(self.user),
        }


def connect_options(credentials: Credentials | None) -> dict[str, Any]:
    return credentials.connect_options() if credentials is not None else {}


def resolve(user: str, password: SecretStr | None, credentials_dir: Path | None, name: str) -> Credentials | None:
    """A client's credentials from its settings: the user and password given (the user defaults to the
    client's name), or else its file ``<name>.json`` in the node's credentials folder; None when neither
    is set (an authenticated server then refuses the connection)."""
    if password is not None and password.get_secret_value():
        return Credentials(user or name, password)
    if credentials_dir is not None and str(credentials_dir):
        path = Path(credentials_dir) / f"{name}.json"
        if path.exists():
            data = json.loads(path.read_text())
            return Credentials(str(data["user"]), SecretStr(str(data["password"])))
    return None


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


@dataclass(frozen=True)
class NodeUsers:
    """The NATS users of one node: a credentials file per client (``<folder>/<client>.json``, 0600,
    holding the user, its password and the bcrypt hash the server checks it against), made once and
    kept. ``country`` is the node's (empty for a single node of every country)."""

    folder: Path
    country: str = ""

    def ensure(self) -> NodeUsers:
        for name in CLIENT_NAMES:
            path = self.path(name)
            if path.exists():
                continue
            password = secrets.token_urlsafe(24)
            digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS, prefix=b"2a")).decode()
            _write_private(path, json.dumps({"user": name, "password": password, "bcrypt": digest}, indent=2) + "\n")
        return self

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def credentials(self, name: str) -> Credentials:
        found = resolve("", None, self.folder, name)
        if found is None:
            raise FileNotFoundError(f"no NATS credentials for {name} in {self.folder}")
        return found

    def env(self, name: str) -> dict[str, str]:
        """The settings that give one process (a service, or ``jit admin``) its own credentials only."""
        creds = self.credentials(name)
        return {"JIT_NATS_USER": creds.user, "JIT_NATS_PASSWORD": creds.password.get_secret_value()}

    def authorization(self, extra_users: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
        """The server's ``authorization`` block: every client with its bcrypt hash and permissions."""
        users: list[dict[str, Any]] = []
        for name in CLIENT_NAMES:
            data = json.loads(self.path(name).read_text())
            users.append(
                {"user": data["user"], "password": data["bcrypt"], "permissions": permissions(name, self.country)}
            )
        users += [dict(u) for u in extra_users]
        return {"users": users}

    def write_authorization(self, path: Path, extra_users: Iterable[Mapping[str, Any]] = ()) -> Path:
        """The ``authorization`` block as a file a server configuration includes (``include
        ./authorization.conf``: nats-server reads JSON values in its own syntax), readable by its owner only."""
        _write_private(Path(path), "authorization: " + json.dumps(self.authorization(extra_users), indent=2) + "\n")
        return Path(path)


def node_users(folder: Path, country: str = "") -> NodeUsers:
    """Make (once, kept in ``folder``) the credentials of every NATS client of the node of ``country``,
    and return them; ``.authorization()`` is the server's block, ``.credentials(name)`` and ``.env(name)``
    what each client connects with, ``.write_authorization(path)`` the block as a file a server
    configuration includes. ``jit node init`` and the local runners call this."""
    return NodeUsers(Path(folder), country.upper()).ensure()
