"""The JIT's agreed period through the real services (Council Framework Decision 2002/465/JHA Art. 1(1): a
JIT is set up "for a limited period, which may be extended by mutual consent"): once the period ended, the
tasks, evidence and preservation services refuse a new record and keep the existing ones going; a later end
date, announced as `jit admin workspace extend` announces it, lets new records through again.

The services run on a NATS of this module's own, with the workspaces of Keycloak announced on it, so moving
the demo workspace's end date here changes it for no other module; their clocks are moved past the end."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as epb
from jit.evidence.v1 import evidence_pb2_grpc
from jit.preservation.v1 import preservation_pb2 as ppb
from jit.preservation.v1 import preservation_pb2_grpc
from jit.tasks.v1 import tasks_pb2 as tpb
from jit.tasks.v1 import tasks_pb2_grpc
from jitdev.nats import NatsInstance
from jitlib import period, workspaces
from jitlib.clock import OffsetClock
from jitlib.config import CommonSettings
from jitlib.natsauth import NodeUsers
from tests.conftest import authenticated_nats, read_stream, wait_for_workspace
from tests.harness import RunningService, error_reason, eventually, md, rid, start_service
from tests.integration.evidence.conftest import new_request

pytestmark = pytest.mark.integration

WS = "jit-demo"
OFFSETS = period.parse_offsets(period.DEFAULT_OFFSETS)


def announce_end(keycloak: Any, url: str, ends_on: str, version: int) -> None:
    """Announce the demo workspace with another end date as ``version`` on the NATS at ``url``, as `jit
    admin workspace extend` announces it (without changing Keycloak, which the whole suite shares)."""
    from jitcli import kcadmin
    from jitcli.workspace_sync import publish_workspaces

    admin = kcadmin.connect(keycloak.base_url, keycloak.admin_user, keycloak.admin_password)
    moved = dataclasses.replace(kcadmin.get_workspace(admin, WS), ends_on=ends_on, version=version)
    asyncio.run(publish_workspaces(url, [moved]))


def wait_for_end(svc: RunningService, ends_on: str) -> None:
    def held() -> bool:
        info = svc.rt.workspaces.get(WS)
        return info is not None and info.ends_on == ends_on

    eventually(held, timeout=30)


@pytest.fixture(scope="module")
def period_nats(
    keycloak: Any, nats_users: NodeUsers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NatsInstance]:
    from jitcli import kcadmin
    from jitcli.workspace_sync import publish_workspaces

    inst = authenticated_nats(tmp_path_factory.mktemp("period-nats"), nats_users).start()
    admin = kcadmin.connect(keycloak.base_url, keycloak.admin_user, keycloak.admin_password)
    asyncio.run(publish_workspaces(inst.url, kcadmin.list_workspaces(admin)))
    yield inst
    inst.stop()


@dataclasses.dataclass
class Node:
    clock: OffsetClock
    tasks: RunningService
    evidence: RunningService
    preservation: RunningService

    @property
    def services(self) -> tuple[RunningService, ...]:
        return (self.tasks, self.evidence, self.preservation)


@pytest.fixture(scope="module")
def node(keycloak: Any, period_nats: NatsInstance, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """The tasks, evidence and preservation services of one node, on SQLite, sharing one test clock."""
    from services.evidence.app import EvidenceSettings
    from services.evidence.app import spec as evidence_spec
    from services.preservation.app import PreservationSettings
    from services.preservation.app import spec as preservation_spec
    from services.tasks.app import TasksSettings
    from services.tasks.app import spec as tasks_spec

    state = tmp_path_factory.mktemp("period-node")
    common = CommonSettings(nats_url=period_nats.url, oidc_issuer=keycloak.issuer, state_dir=state)
    clock = OffsetClock()
    group = uuid.uuid4().hex[:8]

    def fields(name: str) -> dict[str, Any]:
        return dict(
            listen="127.0.0.1:0", database_url=f"sqlite:///{state / name}.db", consumer_group=f"period-{name}-{group}"
        )

    started: list[RunningService] = []
    try:
        t = TasksSettings(**fields("tasks"))
        started.append(start_service(tasks_spec(t), t, common, clock=clock))
        e = EvidenceSettings(**fields("evidence"), blob_dir=str(state / "blobs"))
        started.append(start_service(evidence_spec(e), e, common, clock=clock))
        p = PreservationSettings(**fields("preservation"))
        started.append(start_service(preservation_spec(p), p, common, clock=clock))
        for svc in started:
            wait_for_workspace(svc, WS)
        yield Node(clock, *started)
    finally:
        for svc in started:
            svc.stop()


class Calls:
    def __init__(self, node: Node, tokens: Any) -> None:
        self.tasks = tasks_pb2_grpc.TaskServiceStub(node.tasks.channel)
        self.evidence = evidence_pb2_grpc.EvidenceServiceStub(node.evidence.channel)
        self.preservation = preservation_pb2_grpc.PreservationServiceStub(node.preservation.channel)
        self.tokens = tokens

    def call(self, stub: Any, method: str, user: str, request: Any) -> Any:
        return getattr(stub, method)(request, metadata=md(self.tokens(user)), timeout=30)

    def refused(self, stub: Any, method: str, user: str, request: Any) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as info:
            self.call(stub, method, user, request)
        return info.value


def new_task() -> tpb.CreateTaskRequest:
    return tpb.CreateTaskRequest(
        request_id=rid(),
        workspace_id=WS,
        title="Identify the account holder",
        kind=tpb.TASK_KIND_OTHER,
        assignee_jurisdiction="DE",
    )


def new_order() -> ppb.CreateOrderRequest:
    return ppb.CreateOrderRequest(
        request_id=rid(),
        workspace_id=WS,
        legal_basis=ppb.LEGAL_BASIS_PROVIDER_VOLUNTARY,
        provider_id="socialnet-ie",
        targets=[ppb.TargetIdentifier(kind=ppb.TARGET_KIND_ACCOUNT_HANDLE, value="@harasser_x")],
        data_categories=[ppb.DATA_CATEGORY_SUBSCRIBER],
        description="Posts against victim V-17",
    )


def counts(node: Node) -> tuple[int, ...]:
    """How many records and outbox rows each service holds."""
    from services.evidence.store import REQUESTS
    from services.preservation.store import ORDERS
    from services.tasks.store import TASKS

    def rows(svc: RunningService, table: Any) -> int:
        return int(svc.loop.run(svc.rt.read(lambda s: len(s.execute(select(table)).all()))))

    return (
        rows(node.tasks, TASKS.row),
        rows(node.evidence, REQUESTS.row),
        rows(node.preservation, ORDERS.row),
        *(rows(svc, svc.rt.tables.outbox) for svc in node.services),
    )


def test_jit_period_ended_refuses_new_records_and_an_extension_lets_them_through(
    node: Node, tokens: Any, keycloak: Any, period_nats: NatsInstance
) -> None:
    """JIT_PERIOD_ENDED and JIT_PERIOD_EXTENSION (FD 2002/465/JHA Art. 1(1); 2000 EU MLA Convention
    Art. 13(1)): after the workspace's last day (by each service's clock) a new task, evidence request and
    preservation order are FAILED_PRECONDITION JIT_PERIOD_ENDED naming the end date, and nothing is
    written; the records already there keep their transitions (an issued request stays executable), and
    a replayed create still gets its stored record. A later end date, announced as a new workspace version,
    lets new records through again and is in each service's audit log."""
    calls = Calls(node, tokens)
    task = calls.call(calls.tasks, "CreateTask", "nl-prosecutor", new_task()).task
    first_request = new_request()
    draft = calls.call(calls.evidence, "CreateRequest", "nl-prosecutor", first_request).request
    order = calls.call(calls.preservation, "CreateOrder", "nl-liaison", new_order()).order

    info = node.tasks.rt.workspaces.get(WS)
    assert info is not None and info.last_day is not None
    ended = period.start_of(info.last_day) + timedelta(days=1, hours=1)
    node.clock.advance(ended - node.clock.now())
    before = counts(node)

    for stub, method, user, req in (
        (calls.tasks, "CreateTask", "nl-prosecutor", new_task()),
        (calls.evidence, "CreateRequest", "nl-prosecutor", new_request()),
        (calls.preservation, "CreateOrder", "nl-liaison", new_order()),
    ):
        err = calls.refused(stub, method, user, req)
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION, (method, err)
        assert error_reason(err) == "JIT_PERIOD_ENDED", (method, err.details())
        assert f"ended on {info.ends_on}" in (err.details() or "") and "extend" in (err.details() or "")
    assert counts(node) == before

    # A retry of a create made in time gets what it stored.
    again = calls.call(calls.evidence, "CreateRequest", "nl-prosecutor", first_request).request
    assert again.id == draft.id
    # Existing records go on: the addressee accepts the task, the request and the order are issued.
    accepted = calls.call(calls.tasks, "AcceptTask", "de-liaison", tpb.AcceptTaskRequest(id=task.id)).task
    assert accepted.state == tpb.TASK_STATE_ACCEPTED
    issued = calls.call(calls.evidence, "IssueRequest", "nl-prosecutor", epb.IssueRequestRequest(id=draft.id))
    assert issued.request.state == epb.EVIDENCE_REQUEST_STATE_ISSUED
    sent = calls.call(calls.preservation, "IssueOrder", "nl-liaison", ppb.IssueOrderRequest(id=order.id)).order
    assert sent.state == ppb.PRESERVATION_ORDER_STATE_ISSUED

    # The members agree to extend by a year: the administrator records and announces the new end date.
    new_end = (info.last_day + timedelta(days=365)).isoformat()
    announce_end(keycloak, period_nats.url, new_end, info.version + 1)
    for svc in node.services:
        wait_for_end(svc, new_end)
    assert calls.call(calls.tasks, "CreateTask", "nl-prosecutor", new_task()).task.id
    assert calls.call(calls.evidence, "CreateRequest", "nl-prosecutor", new_request()).request.id
    assert calls.call(calls.preservation, "CreateOrder", "nl-liaison", new_order()).order.id
    for svc in node.services:
        log = svc.rt.tables.audit_log
        entries = svc.loop.run(
            svc.rt.read(
                lambda s, log=log: s.execute(
                    select(log.c.operation, log.c.record_id).where(log.c.operation == workspaces.PERIOD_CHANGED)
                ).all()
            )
        )
        assert [tuple(e) for e in entries] == [(workspaces.PERIOD_CHANGED, WS)], svc.app.spec.name


# -- the warnings -------------------------------------------------------------------------------------


def start_messaging(url: str, nats_url: str, issuer: str, state: Any, group: str, clock: OffsetClock) -> RunningService:
    from services.messaging.app import MessagingSettings, spec

    common = CommonSettings(nats_url=nats_url, oidc_issuer=issuer, state_dir=state)
    # A scan only when the test asks (and the one at start): the test moves the clock between scans.
    cfg = MessagingSettings(
        listen="127.0.0.1:0", database_url=url, consumer_group=group, outbox_poll_seconds=0.2, period_scan_seconds=3600
    )
    svc = start_service(spec(cfg), cfg, common, clock=clock)
    wait_for_workspace(svc, WS)
    return svc


def scan_everywhere(replicas: list[RunningService]) -> None:
    """Every replica scans at once (each on its own event loop), as replicas woken together would."""
    threads = [
        threading.Thread(target=lambda r=r: r.loop.run(r.app.spec.extra["period"].scan_once())) for r in replicas
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def test_jit_period_warning_reaches_every_member_once_through_replicas_and_restarts(
    keycloak: Any, tokens: Any, period_nats: NatsInstance, postgres: Any, tmp_path: Any
) -> None:
    """JIT_PERIOD_WARNING (FD 2002/465/JHA Art. 1(1)): two messaging replicas on one PostgreSQL database
    warn the members in the workspace channel, once per warning however often and wherever they scan, a
    restart included: the latest warning due only (7 days before the last day, when nothing was sent at
    60 and 30), then once the period ended, each with its period_warning event. After the end the members
    still post and open channels (JIT_PERIOD_ENDED keeps messaging open); an extension (JIT_PERIOD_EXTENSION)
    starts a new series for the new end date."""
    from jit.messaging.v1 import messaging_pb2 as mpb
    from jit.messaging.v1 import messaging_pb2_grpc
    from jitlib.bus import stream_for

    url = str(postgres.create_database(f"period_msg_{uuid.uuid4().hex[:10]}"))
    group, clock = f"period-msg-{uuid.uuid4().hex[:8]}", OffsetClock()
    replicas = [start_messaging(url, period_nats.url, keycloak.issuer, tmp_path, group, clock) for _ in range(2)]
    try:
        info = replicas[0].rt.workspaces.get(WS)
        assert info is not None and info.last_day is not None
        end = info.last_day
        stub = messaging_pb2_grpc.MessagingServiceStub(replicas[1].channel)

        def call(user: str, method: str, request: Any) -> Any:
            return getattr(stub, method)(request, metadata=md(tokens(user)), timeout=30)

        def warnings() -> list[str]:
            ch = call("de-liaison", "OpenWorkspaceChannel", mpb.OpenWorkspaceChannelRequest(workspace_id=WS)).channel
            listed = call("de-liaison", "ListMessages", mpb.ListMessagesRequest(channel_id=ch.id)).messages
            return [m.body for m in listed if m.system and "agreed period" in m.body]

        def events() -> list[common_pb2.WorkspacePeriodWarning]:
            out = []
            for m in read_stream(period_nats.url, stream_for("messaging").name or "", "jit.messaging.*.period_warning"):
                state = common_pb2.WorkspacePeriodWarning()
                env = Envelope.FromString(m.data)
                if env.workspace_id == WS and env.state.Unpack(state):
                    out.append(state)
            return out

        clock.advance(period.start_of(end) - timedelta(days=7) + timedelta(hours=1) - clock.now())
        scan_everywhere(replicas)
        scan_everywhere(replicas)
        assert warnings() == [period.due_warning(WS, end.isoformat(), OFFSETS, clock.now()).text(clock.now())]
        assert f"on {end.isoformat()}, in 7 days" in warnings()[0] and "Art. 1(1)" in warnings()[0]
        sent = eventually(events, timeout=30)
        assert [(e.label, e.days_left, e.ended, e.workspace.ends_on) for e in sent] == [("7d", 7, False, str(end))]
        assert sorted(read_envelope_audience(period_nats.url)) == sorted(info.members)

        # A replica restarts: its scan at start and the next find the warning sent.
        replicas[1].stop()
        replicas[1] = start_messaging(url, period_nats.url, keycloak.issuer, tmp_path, group, clock)
        stub = messaging_pb2_grpc.MessagingServiceStub(replicas[1].channel)
        scan_everywhere(replicas)
        assert len(warnings()) == 1

        # The period ends: one more warning; the members still talk, in the workspace channel and in a new one.
        clock.advance(period.start_of(end) + timedelta(days=1, hours=2) - clock.now())
        scan_everywhere(replicas)
        scan_everywhere(replicas)
        texts = warnings()
        assert len(texts) == 2 and f"ended on {end.isoformat()}" in texts[1]
        eventually(lambda: [e.label for e in events()] == ["7d", period.ENDED], timeout=30)
        ch = call("de-liaison", "OpenWorkspaceChannel", mpb.OpenWorkspaceChannelRequest(workspace_id=WS)).channel
        call("de-liaison", "PostMessage", mpb.PostMessageRequest(request_id=rid(), channel_id=ch.id, body="Closing"))
        opened = call(
            "nl-prosecutor",
            "CreateChannel",
            mpb.CreateChannelRequest(request_id=rid(), workspace_id=WS, title="Wind-down NL-DE", members=["DE"]),
        )
        assert opened.channel.id

        # Extended by a year: a new series, from 60 days before the new last day.
        new_end = end + timedelta(days=365)
        announce_end(keycloak, period_nats.url, new_end.isoformat(), info.version + 1)
        for r in replicas:
            eventually(lambda r=r: r.rt.workspaces.get(WS).ends_on == new_end.isoformat(), timeout=30)
        scan_everywhere(replicas)
        assert len(warnings()) == 2
        clock.advance(period.start_of(new_end) - timedelta(days=60) + timedelta(hours=1) - clock.now())
        scan_everywhere(replicas)
        assert len(warnings()) == 3 and f"on {new_end.isoformat()}, in 60 days" in warnings()[2]
        eventually(lambda: [(e.label, e.workspace.ends_on) for e in events()][2:] == [("60d", str(new_end))])
    finally:
        for r in replicas:
            r.stop()


def read_envelope_audience(url: str) -> list[str]:
    """The audience of the first period_warning event of the demo workspace."""
    from jitlib.bus import stream_for

    for m in read_stream(url, stream_for("messaging").name or "", "jit.messaging.*.period_warning"):
        env = Envelope.FromString(m.data)
        if env.workspace_id == WS:
            return list(env.audience)
    return []
