"""Fixtures of the evidence-service integration tests: the service on each database backend (the session's
db_url), with its own blob folder and key-encryption key, and a client with real Keycloak tokens."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2

from jit.audit.v1 import audit_pb2_grpc
from jit.evidence.v1 import evidence_pb2 as pb
from jit.evidence.v1 import evidence_pb2_grpc
from jitdev.nats import NatsInstance
from jitlib.clock import OffsetClock
from jitlib.config import CommonSettings
from services.evidence.app import EvidenceSettings, spec
from tests.conftest import wait_for_workspace
from tests.harness import RunningService, md, rid, start_service

WS = "jit-demo"


def ts(dt: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(dt)
    return out


def now_utc() -> datetime:
    return datetime.now(UTC)


DAY = timedelta(days=1)


class Launcher:
    """Starts evidence services; what a test did not stop is stopped at the end of the module."""

    def __init__(self, common: CommonSettings, blob_dir: Path, kek: str) -> None:
        self.common = common
        self.blob_dir = blob_dir
        self.kek = kek
        self.running: list[RunningService] = []

    def start(self, url: str, *, clock: Any = None, group: str = "", **overrides: Any) -> RunningService:
        fields: dict[str, Any] = dict(
            listen="127.0.0.1:0",
            database_url=url,
            consumer_group=group or f"evidence-{uuid.uuid4().hex[:8]}",
            blob_dir=str(self.blob_dir),
            kek=self.kek,
        )
        fields.update(overrides)
        settings = EvidenceSettings(**fields)
        svc = start_service(spec(settings), settings, self.common, clock=clock or OffsetClock())
        wait_for_workspace(svc, WS)
        self.running.append(svc)
        return svc

    def stop(self, svc: RunningService) -> None:
        self.running.remove(svc)
        svc.stop()

    def stop_all(self) -> None:
        while self.running:
            self.stop(self.running[-1])


@pytest.fixture(scope="module")
def launcher(
    keycloak: Any, nats_server: NatsInstance, demo_workspace_synced: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Launcher]:
    state = tmp_path_factory.mktemp("evidence-state")
    common = CommonSettings(nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=state)
    launch = Launcher(common, state / "blobs", base64.b64encode(os.urandom(32)).decode())
    yield launch
    launch.stop_all()


@pytest.fixture(scope="module")
def evidence_svc(db_url: str, launcher: Launcher) -> RunningService:
    """The evidence service on this module's backend (SQLite or PostgreSQL), like tasks_svc."""
    return launcher.start(db_url)


def new_request(**over: Any) -> pb.CreateRequestRequest:
    """A valid EIO from NL to DE in the demo workspace, with ``over`` replacing fields."""
    fields: dict[str, Any] = dict(
        request_id=rid(),
        workspace_id=WS,
        legal_basis=pb.LEGAL_BASIS_EIO,
        issuing_authority="Openbaar Ministerie, Arrondissementsparket Amsterdam",
        addressee_kind=pb.ADDRESSEE_KIND_MEMBER_STATE,
        addressee_jurisdiction="DE",
        data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
        targets=[pb.TargetIdentifier(type=pb.TARGET_TYPE_ACCOUNT_HANDLE, value="@harasser_x", platform="instagram")],
        offence_category=pb.OFFENCE_CATEGORY_CYBERSTALKING,
        urgency=pb.URGENCY_NORMAL,
        title="Subscriber data of @harasser_x",
    )
    fields.update(over)
    return pb.CreateRequestRequest(**fields)


class Client:
    def __init__(self, svc: RunningService, tokens: Any) -> None:
        self.svc = svc
        self.stub = evidence_pb2_grpc.EvidenceServiceStub(svc.channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(svc.channel)
        self.tokens = tokens

    def call(self, user: str, method: str, request: Any, timeout: float = 30) -> Any:
        return getattr(self.stub, method)(request, metadata=md(self.tokens(user)), timeout=timeout)

    def create(self, user: str = "nl-prosecutor", **over: Any) -> pb.EvidenceRequest:
        return self.call(user, "CreateRequest", new_request(**over)).request

    def epoc(self, procedure: int = pb.EPOC_PROCEDURE_STANDARD, **over: Any) -> pb.EvidenceRequest:
        fields: dict[str, Any] = dict(
            legal_basis=pb.LEGAL_BASIS_EPOC,
            epoc_procedure=procedure,
            addressee_kind=pb.ADDRESSEE_KIND_SERVICE_PROVIDER,
            addressee_jurisdiction="IE",
            provider_name="SocialNet Ireland Ltd",
            data_categories=[pb.DATA_CATEGORY_SUBSCRIBER, pb.DATA_CATEGORY_CONTENT],
            urgency=pb.URGENCY_UNSPECIFIED,
        )
        if procedure in (pb.EPOC_PROCEDURE_STANDARD, pb.EPOC_PROCEDURE_EMERGENCY):
            # Content without notification of IE: on recorded grounds (Reg. (EU) 2023/1543 Art. 8(2)).
            fields["notification_exemption_reason"] = "Offence committed in NL; the account holder resides in NL"
        fields.update(over)
        return self.create(**fields)

    def executing(self, **over: Any) -> pb.EvidenceRequest:
        """An EIO NL -> DE, issued, acknowledged and in execution (evidence may be received)."""
        r = self.create(**over)
        self.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
        self.call("de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id))
        return self.call("de-prosecutor", "StartExecution", pb.StartExecutionRequest(id=r.id)).request

    def code_of(self, user: str, method: str, request: Any) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as info:
            self.call(user, method, request)
        return info.value.code()

    def error(self, user: str, method: str, request: Any) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as info:
            self.call(user, method, request)
        return info.value


@pytest.fixture(scope="module")
def client(evidence_svc: RunningService, tokens: Any) -> Client:
    return Client(evidence_svc, tokens)


def scan_now(svc: RunningService) -> None:
    scanner = svc.app.spec.extra["scanner"]
    scanner.wake()
    svc.loop.run(scanner.scan_once())


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
    asyncio.run(_publish(url, stream, subject, payload, msg_id))
