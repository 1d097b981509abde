"""Test harness: run a service in-process on its own event loop thread, call it with real tokens,
read JetStream. Used by the integration tests; the servers it talks to are real."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2, status_pb2
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jitlib.config import CommonSettings, ServiceSettings
from jitlib.crypto import generate_kek_file
from jitlib.server import ServiceApp, ServiceSpec

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running in a daemon thread; sync tests submit coroutines to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@dataclass
class RunningService:
    app: ServiceApp
    loop: LoopThread
    channel: grpc.Channel = field(init=False)

    def __post_init__(self) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.app.port}")

    @property
    def rt(self) -> Any:
        return self.app.runtime

    def audit_linked(self) -> None:
        """Link the audit entries changes recorded so far (the chainer does it within about 50 ms of each commit),
        before a test reads ``audit_log`` directly."""
        self.loop.run(self.rt.chainer.flush())

    def leave_unpublished(self, workspace_id: str, subject: str, at: datetime) -> None:
        """Stop the service's outbox relay (after it published what was pending) and leave one event of
        ``workspace_id`` in its outbox, never to be published: what an outage of NATS leaves behind."""
        self.loop.run(self.rt.relay.stop())
        never = self.rt.tables.outbox.insert().values(
            id="never-published",
            subject=subject,
            event_type="test",
            payload=b"{}",
            headers="{}",
            created_at=at,
            workspace_id=workspace_id,
        )
        self.loop.run(self.rt.db.write(lambda s: s.execute(never)))

    def stop(self) -> None:
        self.channel.close()
        self.loop.run(self.app.stop(grace=2))
        self.loop.close()


_SUITE_KEK: list[Path] = []


def suite_kek_file() -> Path:
    """The KEK file of the suite's node, as make run keeps one per node (base64 of 32 bytes, 0600): the
    services a test starts without a KEK of their own share it, as a node's services (and its replicas on
    one database, in one process or several) share theirs. Its folder is removed when the process ends (each
    test worker made one, and every ``make test`` left them, a key in each, in the system's temporary folder)."""
    if not _SUITE_KEK:
        folder = tempfile.mkdtemp(prefix="jit-test-kek-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = Path(folder) / "kek.b64"
        generate_kek_file(path)
        _SUITE_KEK.append(path)
    return _SUITE_KEK[0]


class DeliveredMsg:
    """What an ``EventConsumer`` uses of a NATS message, delivered once, for a test that hands a consumer an
    event without a broker: ``outcome`` says how the consumer answered it (ack, term or nak)."""

    def __init__(self, envelope: Any, subject: str) -> None:
        self.data = envelope.SerializeToString()
        self.subject = subject
        self.headers: dict[str, str] = {}
        self.metadata = SimpleNamespace(num_delivered=1)
        self.outcome = ""

    async def ack(self) -> None:
        self.outcome = "ack"

    async def term(self) -> None:
        self.outcome = "term"

    async def nak(self, delay: float = 0) -> None:
        self.outcome = "nak"


def start_service(spec: ServiceSpec, settings: ServiceSettings, common: CommonSettings, **kw: Any) -> RunningService:
    if common.kek_file is None and not common.kek.get_secret_value():
        common = common.model_copy(update={"kek_file": suite_kek_file()})
    loop = LoopThread()
    app = ServiceApp(spec, settings, common, **kw)
    loop.run(app.start(), timeout=120)
    return RunningService(app, loop)


def md(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def at_once(stub: Any, tokens: Any, calls: list[tuple[str, str, Any]], field: str, timeout: float = 30) -> list[Any]:
    """Send every (user, method, request) through ``stub`` at once, without waiting for any answer first (each
    user's token from ``tokens``): each answer's ``field`` (the record it answers with), or the error it was
    refused with, in the order sent."""
    sent = [getattr(stub, m).future(r, metadata=md(tokens(u)), timeout=timeout) for u, m, r in calls]
    answers: list[Any] = []
    for future in sent:
        try:
            answers.append(getattr(future.result(), field))
        except grpc.RpcError as refused:
            answers.append(refused)
    return answers


def files_holding(root: Path, needle: bytes) -> tuple[list[Path], int]:
    """The files under ``root`` that hold ``needle``, and how many files could be read: a byte search of a
    folder that live servers may be changing meanwhile (a NATS consumer's folder deleted, a WAL checkpointed),
    so a file or folder gone between its listing and its reading is passed over, never an error."""
    found, read = [], 0
    for folder, _, names in os.walk(root):  # a folder gone while listed is skipped (os.walk ignores the error)
        for name in names:
            path = Path(folder, name)
            try:
                if not path.is_file():
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            read += 1
            if needle in data:
                found.append(path)
    return found, read


def rid() -> str:
    return str(uuid.uuid4())


def rich_status(err: grpc.RpcError) -> status_pb2.Status:
    """The google.rpc.Status carried in the error's trailers."""
    for key, value in err.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    raise AssertionError("error carries no rich status")


def field_violations(err: grpc.RpcError) -> dict[str, str]:
    out = {}
    for detail in rich_status(err).details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out.update({v.field: v.description for v in bad.field_violations})
    return out


def error_reason(err: grpc.RpcError) -> str:
    for detail in rich_status(err).details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


def eventually(check: Any, timeout: float = 15.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value {last!r})")


async def _close_workspace(url: str, info: Any) -> None:
    import nats

    from jit.common.v1 import common_pb2
    from jitlib import workspaces

    nc = await nats.connect(url)
    try:
        ws = common_pb2.Workspace(
            id=info.id,
            name=info.name,
            lead=info.lead,
            members=sorted(info.members),
            status=common_pb2.WORKSPACE_STATUS_CLOSED,
            version=info.version + 1,
            closed_at=datetime.now(UTC).date().isoformat(),
        )
        await workspaces.publish(nc.jetstream(), ws, common_pb2.Actor(username="test"))
    finally:
        await nc.close()


def close_workspace(svc: RunningService, nats_url: str, ws_id: str = "jit-demo") -> None:
    """Close ``ws_id`` on the NATS at ``nats_url`` (a test's own broker: never the suite's, where other
    modules' services follow the directory) as `jit admin workspace close` announces it (version + 1), and
    wait until ``svc``'s directory holds it closed."""
    info = svc.rt.workspaces.get(ws_id)
    assert info is not None and info.is_open
    asyncio.run(_close_workspace(nats_url, info))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = svc.rt.workspaces.get(ws_id)
        if now is not None and not now.is_open:
            return
        time.sleep(0.1)
    raise AssertionError(f"workspace {ws_id} never closed in the service's directory")


def demo_user_claiming(keycloak: Any, realm: str, jurisdiction: str) -> str:
    """A DEMO ONLY prosecutor made in ``realm`` by its administrator, whose attribute claims
    ``jurisdiction`` (another realm's country, to show that the issuer decides): its username (password
    ``demo``)."""
    from keycloak import KeycloakAdmin

    admin = KeycloakAdmin(
        server_url=keycloak.base_url + "/",
        username=keycloak.admin_user,
        password=keycloak.admin_password,
        realm_name=realm,
        user_realm_name="master",
        client_id="admin-cli",
    )
    username = f"claims-{jurisdiction.lower()}-{uuid.uuid4().hex[:6]}"
    user_id = admin.create_user(
        {
            "username": username,
            "enabled": True,
            "email": f"{username}@demo.invalid",
            "firstName": "DEMO ONLY",
            "lastName": f"claims {jurisdiction}",
            "emailVerified": True,
            "attributes": {"jurisdiction": [jurisdiction], "demo_account": ["true"]},
            "credentials": [{"type": "password", "value": "demo", "temporary": False}],
        }
    )
    admin.assign_realm_roles(user_id, [admin.get_realm_role("prosecutor"), admin.get_realm_role("demo_user")])
    return username


def service_factories() -> list[tuple[str, Any, Any]]:
    """(name, spec factory, settings class) of every gRPC service `make run` starts."""
    from jitdev.stack import SERVICES

    out = []
    for svc in SERVICES:
        module = __import__(f"{svc.module}.app", fromlist=["spec"])
        settings_cls = next(
            getattr(module, n) for n in dir(module) if n.endswith("Settings") and n != "ServiceSettings"
        )
        out.append((svc.name, module.spec, settings_cls))
    return out


def start_all_services(common: CommonSettings, state: Path, group: str) -> dict[str, RunningService]:
    """Every gRPC service of a node, on SQLite files under ``state``, in-process on free ports. The
    caller stops them (``svc.stop()``); when one fails to start, those started are stopped first."""
    running: dict[str, RunningService] = {}
    try:
        for name, spec_factory, settings_cls in service_factories():
            settings = settings_cls(
                listen="127.0.0.1:0",
                database_url=f"sqlite:///{state / (name + '.db')}",
                consumer_group=f"{group}-{name}-{uuid.uuid4().hex[:6]}",
            )
            try:
                spec = spec_factory(settings)
            except TypeError:
                spec = spec_factory()
            running[name] = start_service(spec, settings, common)
    except BaseException:
        for svc in running.values():
            svc.stop()
        raise
    return running


async def _announce_victim(nats_url: str, pseudonym: str, workspace: str, lead: str) -> None:
    import nats
    from google.protobuf import any_pb2

    from jit.events.v1.envelope_pb2 import Envelope
    from jit.victims.v1 import victims_pb2
    from jitlib.bus import ensure_stream, stream_for

    victim = victims_pb2.Victim(
        id=str(uuid.uuid4()),
        pseudonym=pseudonym,
        workspace_id=workspace,
        origin_jurisdiction=lead,
        victim_jurisdiction=lead,
        version=1,
    )
    victim.created_at.FromDatetime(datetime.now(UTC))
    state = any_pb2.Any()
    state.Pack(victim)
    env = Envelope(
        id=str(uuid.uuid4()),
        type="jit.victims.v1.VictimRegistered",
        workspace_id=workspace,
        origin_jurisdiction=lead,
        audience=[lead],
        aggregate_type="victim",
        aggregate_id=victim.id,
        aggregate_version=1,
        state=state,
    )
    env.occurred_at.CopyFrom(victim.created_at)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, stream_for("victims"))
        await js.publish(f"jit.victims.{lead}.registered", env.SerializeToString(), headers={"Nats-Msg-Id": env.id})
    finally:
        await nc.close()


def announce_victim(nats_url: str, pseudonym: str, workspace: str = "jit-demo", lead: str = "NL") -> None:
    """What the victims service publishes when it registers a victim (its pseudonym, never an identity),
    published as test code with broker access would: so a service that refers to victims learns one
    (``jitlib.victimdir``) without the victims service running. In a thread of its own: a browser test's
    thread already runs an event loop."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _announce_victim(nats_url, pseudonym, workspace, lead)).result(timeout=30)


def new_pseudonym(lead: str = "NL") -> str:
    """A pseudonym no other test uses (``V-NL-`` and eight digits)."""
    return f"V-{lead}-{uuid.uuid4().int % 10**8:08}"


def victims_known(svc: RunningService, workspace: str = "jit-demo", *pseudonyms: str) -> bool:
    """Whether ``svc``'s directory of victims (``jitlib.victimdir``) knows each of ``pseudonyms``."""
    from sqlalchemy import func, select

    table = svc.app.spec.metadata.tables["victim_pseudonyms"]
    query = select(func.count()).where(table.c.workspace_id == workspace, table.c.pseudonym.in_(pseudonyms))
    return int(svc.loop.run(svc.rt.read(lambda s: s.scalar(query))) or 0) == len(set(pseudonyms))


def registered_victims(svc: RunningService, nats_url: str, count: int = 1, workspace: str = "jit-demo") -> list[str]:
    """``count`` new pseudonyms of victims of ``workspace`` (led by NL), once ``svc`` knows them."""
    refs = [new_pseudonym() for _ in range(count)]
    for ref in refs:
        announce_victim(nats_url, ref, workspace)
    eventually(lambda: victims_known(svc, workspace, *refs), timeout=30)
    return refs


def audit_entries(session: Session, runtime: Any) -> int:
    """A service's audit entries, linked into the chain or still pending, counted in ONE statement: the
    chainer moves entries from ``audit_pending`` to ``audit_log`` in a transaction of its own, and two
    separate counts (two snapshots under PostgreSQL's read committed) can miss or double the entries it
    moved in between."""
    linked = select(func.count()).select_from(runtime.audit_log).scalar_subquery()
    pending = select(func.count()).select_from(runtime.audit_pending).scalar_subquery()
    return int(session.scalar(select(linked + pending)) or 0)
