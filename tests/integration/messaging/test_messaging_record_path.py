"""Messaging on the shared record path: idempotent creates with a request digest, ids validated before any
lookup, channel visibility in SQL, and one NATS listener per process for every Subscribe stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as ev
from jit.messaging.v1 import messaging_pb2 as pb
from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jitdev.nats import nats_server_binary
from jitdev.procs import free_port, port_open, spawn, terminate, wait_until
from tests.conftest import wait_for_workspace
from tests.harness import error_reason, eventually, field_violations, md, rich_status, rid
from tests.integration.messaging.conftest import announce_workspace, create_task, start_messaging
from tests.integration.messaging.test_messaging import Client

pytestmark = pytest.mark.integration
WS = "jit-demo"
HUGE = "x" * 10_000


@pytest.fixture(scope="module")
def client(messaging_svc: Any, tokens: Any) -> Client:
    return Client(messaging_svc, tokens)


def _refused(client: Client, user: str, method: str, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        client.call(user, method, request)
    return info.value


def _restricted(client: Client, title: str, members: list[str], user: str = "nl-prosecutor") -> pb.Channel:
    req = pb.CreateChannelRequest(request_id=rid(), workspace_id=WS, title=title, members=members)
    return client.call(user, "CreateChannel", req).channel


# -- idempotent creates ---------------------------------------------------------------------------------


def test_create_channel_replays_and_refuses_a_reused_request_id(client: Client) -> None:
    req = pb.CreateChannelRequest(request_id=rid(), workspace_id=WS, title="NL-DE: replay", members=["DE"])
    first = client.call("nl-prosecutor", "CreateChannel", req).channel
    again = client.call("nl-prosecutor", "CreateChannel", req).channel
    assert again.id == first.id and again.title == "NL-DE: replay"
    req.title = "NL-DE: something else"
    err = _refused(client, "nl-prosecutor", "CreateChannel", req)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(err) == "REQUEST_ID_REUSED"
    req.title, req.members[:] = "NL-DE: replay", ["IE"]
    err = _refused(client, "nl-prosecutor", "CreateChannel", req)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "REQUEST_ID_REUSED"


def test_post_message_replays_and_refuses_a_reused_request_id(client: Client) -> None:
    ch = _restricted(client, "NL-DE: posts", ["DE"])
    req = pb.PostMessageRequest(request_id=rid(), channel_id=ch.id, body="once only")
    first = client.call("nl-prosecutor", "PostMessage", req).message
    again = client.call("nl-prosecutor", "PostMessage", req).message
    assert (again.id, again.seq, again.body) == (first.id, first.seq, "once only")
    assert [m.id for m in client.messages("de-liaison", ch.id)] == [first.id]
    req.body = "other words"
    err = _refused(client, "nl-prosecutor", "PostMessage", req)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "REQUEST_ID_REUSED"
    assert [m.id for m in client.messages("de-liaison", ch.id)] == [first.id]


def test_a_request_id_replayed_against_another_channel_is_refused_never_internal(client: Client) -> None:
    one = _restricted(client, "NL-DE: one", ["DE"])
    other = _restricted(client, "NL-DE: other", ["DE"])
    request_id = rid()
    client.call(
        "nl-prosecutor", "PostMessage", pb.PostMessageRequest(request_id=request_id, channel_id=one.id, body="hi")
    )
    err = _refused(
        client,
        "nl-prosecutor",
        "PostMessage",
        pb.PostMessageRequest(request_id=request_id, channel_id=other.id, body="hi"),
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "REQUEST_ID_REUSED"
    assert client.messages("nl-prosecutor", other.id) == []


# -- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "request_", "field"),
    [
        ("ListChannels", pb.ListChannelsRequest(workspace_id=HUGE), "workspace_id"),
        ("OpenWorkspaceChannel", pb.OpenWorkspaceChannelRequest(workspace_id=HUGE), "workspace_id"),
        (
            "CreateChannel",
            pb.CreateChannelRequest(request_id=rid(), workspace_id=HUGE, title="t", members=["DE"]),
            "workspace_id",
        ),
        ("GetChannel", pb.GetChannelRequest(id=HUGE), "id"),
        ("ListMessages", pb.ListMessagesRequest(channel_id=HUGE), "channel_id"),
        ("MarkRead", pb.MarkReadRequest(channel_id=HUGE, up_to_seq=1), "channel_id"),
        ("RotateChannelKey", pb.RotateChannelKeyRequest(channel_id=HUGE), "channel_id"),
        ("PostMessage", pb.PostMessageRequest(request_id=rid(), channel_id=HUGE, body="hi"), "channel_id"),
        ("EditMessage", pb.EditMessageRequest(id=HUGE, body="hi"), "id"),
        ("DeleteMessage", pb.DeleteMessageRequest(id=HUGE), "id"),
        ("GetMessageHistory", pb.GetMessageHistoryRequest(id=HUGE), "id"),
        ("GetAttachment", pb.GetAttachmentRequest(message_id=HUGE), "message_id"),
        ("ListReceipts", pb.ListReceiptsRequest(message_id=HUGE), "message_id"),
        (
            "OpenRecordThread",
            pb.OpenRecordThreadRequest(record=common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_TASK, id=HUGE)),
            "record.id",
        ),
    ],
)
def test_a_10kb_id_is_invalid_argument_naming_the_field(client: Client, method: str, request_: Any, field: str) -> None:
    err = _refused(client, "nl-prosecutor", method, request_)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (err.code(), (err.details() or "")[:200])
    assert field in field_violations(err)
    assert HUGE[:200] not in (err.details() or "") and HUGE[:200] not in str(rich_status(err))


def test_a_10kb_channel_id_to_subscribe_is_invalid_argument(client: Client) -> None:
    call = client.stub.Subscribe(pb.SubscribeRequest(channel_id=HUGE), metadata=md(client.tokens("nl-prosecutor")))
    with pytest.raises(grpc.RpcError) as info:
        next(iter(call))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "channel_id" in field_violations(info.value)


# -- visibility in SQL ----------------------------------------------------------------------------------


def _listed(client: Client, user: str, workspace_id: str = WS) -> set[str]:
    return {c.id for c in client.call(user, "ListChannels", pb.ListChannelsRequest(workspace_id=workspace_id)).channels}


def test_list_channels_shows_a_restricted_channel_to_its_parties_only(client: Client) -> None:
    ch = _restricted(client, "NL-DE only", ["DE"])
    everyone = client.workspace_channel().id
    assert {ch.id, everyone} <= _listed(client, "nl-prosecutor")  # the origin
    assert {ch.id, everyone} <= _listed(client, "de-liaison")  # a member
    seen_by_ie = _listed(client, "ie-liaison")  # in the workspace, but no party
    assert everyone in seen_by_ie and ch.id not in seen_by_ie
    # Without a workspace: every workspace of the caller, the same rule.
    assert ch.id in _listed(client, "de-liaison", "") and ch.id not in _listed(client, "ie-liaison", "")
    err = _refused(client, "fr-prosecutor", "ListChannels", pb.ListChannelsRequest(workspace_id=WS))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = _refused(client, "nl-auditor", "ListChannels", pb.ListChannelsRequest(workspace_id=WS))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_record_threads_parties_follow_the_record_in_list_channels(
    client: Client, tasks_svc: Any, tokens: Any
) -> None:
    tasks = tasks_pb2_grpc.TaskServiceStub(tasks_svc.channel)

    def as_(user: str) -> Any:
        return md(tokens(user))

    task = create_task(tasks_svc, tokens, "Who holds the account?")
    ref = common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_TASK, id=task.id)
    thread = eventually(
        lambda: next(iter(_thread_of(client, ref)), None),
        timeout=20,
    )
    assert thread.id in _listed(client, "de-liaison") and thread.id not in _listed(client, "ie-liaison")
    # DE declines, NL gives the task to IE: the thread's parties become NL and IE.
    tasks.DeclineTask(
        tasks_pb2.DeclineTaskRequest(id=task.id, reason="not ours"), metadata=as_("de-liaison"), timeout=15
    )
    tasks.AssignTask(
        tasks_pb2.AssignTaskRequest(id=task.id, assignee_jurisdiction="IE"), metadata=as_("nl-prosecutor"), timeout=15
    )
    eventually(lambda: thread.id in _listed(client, "ie-liaison"), timeout=20)
    assert thread.id not in _listed(client, "de-liaison")
    assert thread.id in _listed(client, "nl-prosecutor")


def test_the_enforcing_state_of_an_epoc_joins_its_thread_once_the_order_is_transferred(
    client: Client, nats_server: Any
) -> None:
    """EPOC_ENFORCING_STATE_SEES_THE_ORDER: an EPOC NL -> a provider in IE without notification (restricted)
    has a thread IE may not open; once the evidence service's event says the order was transferred to IE for
    enforcement, IE's prosecutor opens the thread, lists it and posts in it; DE, a member and no party, still
    finds nothing. The parties come from the request's state in the event, as the evidence service's access."""
    request_id = str(uuid.uuid4())
    ref = common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_EVIDENCE_REQUEST, id=request_id)
    publish(nats_server.url, "jit.evidence.NL.issued", _epoc_event(request_id, 1, "Issued"))
    thread = eventually(lambda: next(iter(_thread_of(client, ref)), None), timeout=20)
    for outsider in ("ie-prosecutor", "de-prosecutor"):
        assert client.code(outsider, "OpenRecordThread", pb.OpenRecordThreadRequest(record=ref)) == (
            grpc.StatusCode.NOT_FOUND
        )
    assert thread.id not in _listed(client, "ie-prosecutor")

    publish(
        nats_server.url,
        "jit.evidence.NL.enforcement_requested",
        _epoc_event(request_id, 2, "EnforcementRequested", enforcing="IE"),
    )
    eventually(lambda: thread.id in _listed(client, "ie-prosecutor"), timeout=20)
    opened = client.call("ie-prosecutor", "OpenRecordThread", pb.OpenRecordThreadRequest(record=ref)).channel
    assert opened.id == thread.id and "IE" in opened.members
    client.post("ie-prosecutor", thread.id, "Recognition under way; which categories are still missing?")
    assert any(m.body.startswith("Recognition under way") for m in client.messages("nl-prosecutor", thread.id))
    assert client.code("de-prosecutor", "OpenRecordThread", pb.OpenRecordThreadRequest(record=ref)) == (
        grpc.StatusCode.NOT_FOUND
    )


def _epoc_event(request_id: str, version: int, event: str, enforcing: str = "") -> Envelope:
    """An evidence service event of an EPOC without notification NL -> a provider in IE, restricted; transferred
    for enforcement to ``enforcing`` when given."""
    state = ev.EvidenceRequest(
        id=request_id, workspace_id=WS, origin_jurisdiction="NL", version=version,
        visibility=common_pb2.VISIBILITY_RESTRICTED, legal_basis=ev.LEGAL_BASIS_EPOC,
        epoc_procedure=ev.EPOC_PROCEDURE_STANDARD, addressee_kind=ev.ADDRESSEE_KIND_SERVICE_PROVIDER,
        addressee_jurisdiction="IE", enforcing_jurisdiction=enforcing,
        state=ev.EVIDENCE_REQUEST_STATE_IN_ENFORCEMENT if enforcing else ev.EVIDENCE_REQUEST_STATE_ISSUED,
    )  # fmt: skip
    env = Envelope(
        id=rid(),
        type=f"jit.evidence.v1.EvidenceRequest{event}",
        workspace_id=WS,
        origin_jurisdiction="NL",
        audience=["NL", enforcing] if enforcing else ["NL"],
        aggregate_type="evidence_request",
        aggregate_id=request_id,
        aggregate_version=version,
        actor=common_pb2.Actor(user_id="u", username="nl-prosecutor", jurisdiction="NL"),
    )
    env.state.Pack(state)
    env.occurred_at.FromDatetime(datetime.now(UTC))
    return env


def publish(url: str, subject: str, env: Envelope) -> None:
    async def send() -> None:
        nc = await nats.connect(url)
        try:
            await nc.jetstream().publish(subject, env.SerializeToString(), headers={"Nats-Msg-Id": env.id})
        finally:
            await nc.close()

    asyncio.run(send())


def _thread_of(client: Client, ref: common_pb2.RecordRef) -> list[pb.Channel]:
    try:
        return [client.call("nl-prosecutor", "OpenRecordThread", pb.OpenRecordThreadRequest(record=ref)).channel]
    except grpc.RpcError:
        return []


# -- one NATS listener per process ----------------------------------------------------------------------


def _follow(client: Client, user: str, channel_id: str) -> tuple[list[pb.Message], Any]:
    """A Subscribe stream read in the background until cancelled: what it got so far, and the call."""
    got: list[pb.Message] = []
    call = client.stub.Subscribe(pb.SubscribeRequest(channel_id=channel_id), metadata=md(client.tokens(user)))

    def read() -> None:
        with contextlib.suppress(grpc.RpcError):  # cancelled at the end of the test
            for resp in call:
                got.append(resp.message)

    threading.Thread(target=read, daemon=True).start()
    return got, call


def _posted_subscriptions(monitor_port: int) -> list[str]:
    """The messaging process's subscriptions to posts, as the NATS server lists them."""
    with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/connz?subs=1", timeout=5) as resp:
        connz = json.load(resp)
    return [
        subject
        for conn in connz["connections"]
        if conn.get("name") == "jit-messaging"
        for subject in conn.get("subscriptions_list", [])
        if subject.startswith("jit.messaging.")
    ]


def test_one_nats_subscription_feeds_every_subscribe_stream(keycloak: Any, tokens: Any, tmp_path: Path) -> None:
    # Its own NATS, with the monitoring endpoint that lists each connection's subscriptions.
    port, monitor = free_port(), free_port()
    nats_proc = spawn(
        [
            nats_server_binary(),
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            str(monitor),
            "-js",
            "-sd",
            str(tmp_path / "nats"),
        ],
        tmp_path / "nats.log",
    )
    svc = None
    calls: list[Any] = []
    try:
        wait_until(lambda: port_open(port) and port_open(monitor), 30, "nats-server", tmp_path / "nats.log", nats_proc)
        url = f"nats://127.0.0.1:{port}"
        svc = start_messaging(url, keycloak.issuer, f"sqlite:///{tmp_path / 'messaging.db'}", tmp_path)
        asyncio.run(announce_workspace(url, common_pb2.WORKSPACE_STATUS_OPEN, 1))
        wait_for_workspace(svc, WS)
        client = Client(svc, tokens)
        eventually(lambda: len(_posted_subscriptions(monitor)) == 1)  # the listener, before any stream
        everyone = client.workspace_channel()
        nl_de = _restricted(client, "NL-DE live", ["DE"])
        first = client.post("nl-prosecutor", everyone.id, "before the streams")
        streams = [
            _follow(client, "de-liaison", everyone.id),
            _follow(client, "ie-liaison", everyone.id),
            _follow(client, "nl-prosecutor", everyone.id),
            _follow(client, "de-liaison", nl_de.id),
        ]
        calls.extend(call for _, call in streams)
        got = [messages for messages, _ in streams]
        eventually(lambda: all(len(m) >= 1 for m in got[:3]))
        second = client.post("de-liaison", everyone.id, "while four streams follow")
        live = client.post("nl-prosecutor", nl_de.id, "restricted, live")
        eventually(lambda: all(len(m) >= 2 for m in got[:3]) and len(got[3]) >= 1)
        assert all([m.id for m in messages] == [first.id, second.id] for messages in got[:3])
        assert [m.id for m in got[3]] == [live.id]
        # Four streams open on two channels, and still one subscription on the process's connection.
        assert _posted_subscriptions(monitor) == ["jit.messaging.*.*"]
    finally:
        for call in calls:
            call.cancel()
        if svc is not None:
            svc.stop()
        terminate(nats_proc)
