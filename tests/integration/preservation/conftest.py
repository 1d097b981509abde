"""Fixtures of the preservation-service integration tests: the service on each database backend (via the
session's db_url), fresh databases on the same backend, and a client with real tokens."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, timestamp_pb2

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as epb
from jit.preservation.v1 import preservation_pb2 as pb
from jit.preservation.v1 import preservation_pb2_grpc
from jitdev.nats import NatsInstance
from jitdev.procs import free_port
from jitlib.clock import Clock, OffsetClock
from jitlib.config import CommonSettings
from jitlib.ids import new_id
from services.preservation.app import PreservationSettings, spec
from tests.conftest import wait_for_workspace
from tests.harness import RunningService, md, rid, start_service

WS = "jit-demo"


def ts(dt: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(dt)
    return out


class Launcher:
    """Starts preservation services (``start(db_url, clock=..., group=..., **settings)``); whatever a test
    did not stop itself is stopped at the end of the module."""

    def __init__(self, common: CommonSettings, workspace: str) -> None:
        self.common = common
        self.workspace = workspace
        self.running: list[RunningService] = []

    def start(self, url: str, *, clock: Clock | None = None, group: str = "", **overrides: Any) -> RunningService:
        settings = PreservationSettings(
            listen="127.0.0.1:0",
            database_url=url,
            consumer_group=group or f"preservation-{uuid.uuid4().hex[:8]}",
            **overrides,
        )
        svc = start_service(spec(settings), settings, self.common, clock=clock or OffsetClock())
        wait_for_workspace(svc, self.workspace)
        self.running.append(svc)
        return svc

    def stop(self, svc: RunningService) -> None:
        self.running.remove(svc)
        svc.stop()

    def stop_all(self) -> None:
        while self.running:
            self.stop(self.running[-1])


@pytest.fixture(scope="session")
def pnats(keycloak: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsInstance]:
    """A NATS of the preservation tests' own, with the demo workspace announced on it: expiry warnings
    these tests cause (and the follow-up tasks they open) never reach other modules' services, whose
    durable consumers replay every stream from the start."""
    from jitcli import kcadmin
    from jitcli.workspace_sync import publish_workspaces

    base = tmp_path_factory.mktemp("pnats")
    inst = NatsInstance(free_port(), base / "store", base / "nats.log").start()
    admin = kcadmin.connect(keycloak.base_url, keycloak.admin_user, keycloak.admin_password)
    asyncio.run(publish_workspaces(inst.url, kcadmin.list_workspaces(admin)))
    yield inst
    inst.stop()


@pytest.fixture(scope="module")
def launcher(keycloak: Any, pnats: NatsInstance, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    common = CommonSettings(
        nats_url=pnats.url, oidc_issuer=keycloak.issuer, state_dir=tmp_path_factory.mktemp("pstate")
    )
    launch = Launcher(common, WS)
    yield launch
    launch.stop_all()


@pytest.fixture(scope="module")
def preservation_svc(db_url: str, launcher: Launcher) -> RunningService:
    return launcher.start(db_url)


@pytest.fixture
def fresh_db_url(db_url: str, request: pytest.FixtureRequest, tmp_path: Any) -> Callable[[], str]:
    """A new empty database on the same backend as ``db_url`` (tests that own their service's data)."""

    def make() -> str:
        if db_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / f'p-{uuid.uuid4().hex[:8]}.db'}"
        pg = request.getfixturevalue("postgres")
        return str(pg.create_database(f"pres_{uuid.uuid4().hex[:12]}"))

    return make


class Client:
    def __init__(self, svc: RunningService, tokens: Any) -> None:
        self.svc = svc
        self.stub = preservation_pb2_grpc.PreservationServiceStub(svc.channel)
        self.tokens = tokens

    def call(self, user: str, method: str, request: Any) -> Any:
        return getattr(self.stub, method)(request, metadata=md(self.tokens(user)), timeout=20)

    def create(self, user: str = "nl-liaison", **over: Any) -> pb.PreservationOrder:
        fields: dict[str, Any] = dict(
            request_id=rid(),
            workspace_id=WS,
            legal_basis=pb.LEGAL_BASIS_PROVIDER_VOLUNTARY,
            provider_id="socialnet-ie",
            targets=[pb.TargetIdentifier(kind=pb.TARGET_KIND_ACCOUNT_HANDLE, value="@harasser_x")],
            data_categories=[pb.DATA_CATEGORY_SUBSCRIBER, pb.DATA_CATEGORY_CONTENT],
            description="Doxxing posts against victim V-17",
        )
        fields.update(over)
        return self.call(user, "CreateOrder", pb.CreateOrderRequest(**fields)).order

    def confirmed(self, user: str = "nl-liaison", confirmed_at: datetime | None = None, **over: Any) -> Any:
        order = self.create(user, **over)
        issue = pb.IssueOrderRequest(id=order.id)
        req = pb.ConfirmOrderRequest(id=order.id, provider_reference="SN-123")
        if confirmed_at is not None:
            issue.issued_at.CopyFrom(ts(confirmed_at - timedelta(hours=1)))
            req.confirmed_at.CopyFrom(ts(confirmed_at))
        self.call(user, "IssueOrder", issue)
        return self.call(user, "ConfirmOrder", req).order

    def code_of(self, user: str, method: str, request: Any) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as info:
            self.call(user, method, request)
        return info.value.code()


def now_utc() -> datetime:
    return datetime.now(UTC)


DAY = timedelta(days=1)


def scanner_of(svc: RunningService) -> Any:
    return svc.app.spec.extra["scanner"]


def scan_now(svc: RunningService) -> None:
    """Wake the service's warning scanner, and run one scan at the service's current clock (so the test
    knows a scan at this time has completed; the woken background scan may send the alerts first)."""
    scanner = scanner_of(svc)
    scanner.wake()
    svc.loop.run(scanner.scan_once())


def stream_envelopes(url: str, stream: str, subject: str) -> list[Any]:
    from jit.events.v1.envelope_pb2 import Envelope
    from tests.conftest import read_stream

    return [Envelope.FromString(m.data) for m in read_stream(url, stream, subject)]


async def _publish(url: str, stream: Any, subject: str, payload: bytes, msg_id: str) -> None:
    import nats

    from jitlib.bus import ensure_stream

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, stream)
        await js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})
    finally:
        await nc.close()


def publish(url: str, stream: Any, subject: str, payload: bytes, msg_id: str) -> None:
    """Publish one message to JetStream (ensuring the stream exists), as another service's relay would."""
    asyncio.run(_publish(url, stream, subject, payload, msg_id))


def evidence_event(
    order_id: str,
    state: int,
    *,
    origin: str = "NL",
    event_origin: str = "",
    workspace: str = WS,
    event_workspace: str = "",
    request_id: str = "",
    version: int = 2,
    legal_basis: int = epb.LEGAL_BASIS_MLA,
    addressee: str = "IE",
) -> Envelope:
    """An evidence request's event as the evidence service publishes it; the envelope's origin and
    workspace are the request's unless given. By default an MLA request to IE (not bound by the EIO Directive),
    where the demo's ``socialnet-ie`` is established: a production request of the data an order of any basis
    preserves there."""
    request_id = request_id or new_id()
    req = epb.EvidenceRequest(
        id=request_id,
        workspace_id=workspace,
        origin_jurisdiction=origin,
        state=state,
        version=version,
        preservation_order_id=order_id,
        visibility=common_pb2.VISIBILITY_RESTRICTED,
        addressee_jurisdiction=addressee,
        legal_basis=legal_basis,
    )
    packed = any_pb2.Any()
    packed.Pack(req)
    occurred = timestamp_pb2.Timestamp()
    occurred.GetCurrentTime()
    return Envelope(
        id=new_id(),
        type="jit.evidence.v1.EvidenceRequestIssued",
        occurred_at=occurred,
        workspace_id=event_workspace or workspace,
        origin_jurisdiction=event_origin or origin,
        audience=sorted({origin, "IE"}),
        aggregate_type="evidence_request",
        aggregate_id=request_id,
        aggregate_version=version,
        state=packed,
    )
