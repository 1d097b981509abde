"""A country added to a workspace gets, on its own node, the messages written before it joined in the
channels it may read (the workspace channel, the thread of a record open to the workspace), each as it
reads now (an edited one as edited, a deleted one as its tombstone), and the workspace's victims at the
pseudonym level; never a restricted channel it is no party to (``jitlib.joining``: messaging's and
victims' resend kinds)."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from jit.common.v1 import common_pb2
from jit.messaging.v1 import messaging_pb2 as pb
from jit.messaging.v1 import messaging_pb2_grpc
from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jit.victims.v1 import victims_pb2, victims_pb2_grpc
from jitdev.nodes import LocalFederation
from tests.federation.test_joining import Workspace
from tests.harness import eventually, md, rid

pytestmark = pytest.mark.integration


def _messaging(federation: LocalFederation, country: str) -> messaging_pb2_grpc.MessagingServiceStub:
    return messaging_pb2_grpc.MessagingServiceStub(
        grpc.insecure_channel(federation.nodes[country].address("messaging"))
    )


def _victims(federation: LocalFederation, country: str) -> victims_pb2_grpc.VictimServiceStub:
    return victims_pb2_grpc.VictimServiceStub(grpc.insecure_channel(federation.nodes[country].address("victims")))


def _messages(federation: LocalFederation, country: str, token: str, channel_id: str) -> list[pb.Message]:
    """The channel's messages on ``country``'s node; [] while the node holds none of the channel."""
    try:
        resp = _messaging(federation, country).ListMessages(
            pb.ListMessagesRequest(channel_id=channel_id, page_size=500), metadata=md(token), timeout=15
        )
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.NOT_FOUND:
            return []
        raise
    return list(resp.messages)


def _victim(federation: LocalFederation, country: str, token: str, victim_id: str) -> victims_pb2.Victim | None:
    try:
        req = victims_pb2.GetVictimRequest(id=victim_id)
        return _victims(federation, country).GetVictim(req, metadata=md(token), timeout=15).victim
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise


def test_a_country_added_to_a_workspace_gets_on_its_node_the_messages_and_victims_from_before_it_joined(
    federation: LocalFederation, keycloak: Any, country_tokens: Any
) -> None:
    workspace = Workspace(federation, keycloak, country_tokens, "joinm")
    workspace.open("Stalking case")
    ws = workspace.id

    nl = md(country_tokens("nl-prosecutor"))
    on_nl = _messaging(federation, "NL")

    # Before IE joins, on NL's node: the workspace channel with a message, one edited, one deleted ...
    channel = on_nl.OpenWorkspaceChannel(pb.OpenWorkspaceChannelRequest(workspace_id=ws), metadata=nl, timeout=15)
    ws_channel = channel.channel

    def post(channel_id: str, body: str) -> pb.Message:
        req = pb.PostMessageRequest(request_id=rid(), channel_id=channel_id, body=body)
        return on_nl.PostMessage(req, metadata=nl, timeout=15).message

    said = post(ws_channel.id, f"NL: the suspect moved to Dublin {uuid.uuid4().hex}")
    edited = post(ws_channel.id, f"NL: a first draft {uuid.uuid4().hex}")
    edit = pb.EditMessageRequest(id=edited.id, body=f"NL: as corrected {uuid.uuid4().hex}", expected_revision=1)
    edited = on_nl.EditMessage(edit, metadata=nl, timeout=15).message
    deleted = post(ws_channel.id, f"NL: posted by mistake {uuid.uuid4().hex}")
    on_nl.DeleteMessage(pb.DeleteMessageRequest(id=deleted.id), metadata=nl, timeout=15)
    # ... a restricted NL-DE channel with a message ...
    create = pb.CreateChannelRequest(request_id=rid(), workspace_id=ws, title="NL-DE only", members=["DE"])
    restricted = on_nl.CreateChannel(create, metadata=nl, timeout=15).channel
    secret = post(restricted.id, f"NL to DE only: the informant {uuid.uuid4().hex}")
    # ... the thread of a task open to the workspace, with its notice and a message ...
    task = (
        tasks_pb2_grpc.TaskServiceStub(grpc.insecure_channel(federation.nodes["NL"].address("tasks")))
        .CreateTask(
            tasks_pb2.CreateTaskRequest(
                request_id=rid(),
                workspace_id=ws,
                title="Which accounts followed her?",
                kind=tasks_pb2.TASK_KIND_OTHER,
                assignee_jurisdiction="DE",
                visibility=common_pb2.VISIBILITY_WORKSPACE,
            ),
            metadata=nl,
            timeout=15,
        )
        .task
    )
    ref = common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_TASK, id=task.id)

    def nl_thread() -> pb.Channel | None:
        try:
            return on_nl.OpenRecordThread(pb.OpenRecordThreadRequest(record=ref), metadata=nl, timeout=15).channel
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:  # messaging has not heard of the task yet
                return None
            raise

    thread = eventually(nl_thread, timeout=30)
    in_thread = post(thread.id, f"NL: the platform answered {uuid.uuid4().hex}")
    # ... and a victim, held by the lead's node.
    register = victims_pb2.RegisterVictimRequest(
        request_id=rid(), workspace_id=ws, victim_jurisdiction="NL",
        identity=victims_pb2.VictimIdentity(full_name=f"Fenna zzjoin{uuid.uuid4().hex[:8]}", languages=["nl"]),
    )  # fmt: skip
    victim = _victims(federation, "NL").RegisterVictim(register, metadata=nl, timeout=30).victim
    # DE holds them all, as every member node does.
    de = country_tokens("de-liaison")
    eventually(lambda: secret.id in {m.id for m in _messages(federation, "DE", de, restricted.id)}, timeout=30)

    # IE joins the workspace: NL's administrator adds it, IE's puts its users in it on IE's node.
    workspace.add("IE", "ie-liaison")
    ie = country_tokens("ie-liaison")

    # The workspace channel's messages reach IE's node, as they read now: the edited one as edited, the
    # deleted one as its tombstone, each at NL's sequence number.
    def on_ie(channel_id: str, *ids: str) -> dict[str, pb.Message] | None:
        got = {m.id: m for m in _messages(federation, "IE", ie, channel_id)}
        return got if set(ids) <= set(got) else None

    held = eventually(lambda: on_ie(ws_channel.id, said.id, edited.id, deleted.id), timeout=45)
    assert (held[said.id].body, held[said.id].seq) == (said.body, said.seq)
    assert (held[edited.id].body, held[edited.id].revision) == (edited.body, edited.revision)
    assert held[deleted.id].deleted and held[deleted.id].body == ""
    # So do the open task's thread's: its notice, and what NL wrote in it.
    in_ie_thread = eventually(lambda: on_ie(thread.id, in_thread.id), timeout=45)
    assert in_ie_thread[in_thread.id].body == in_thread.body
    assert any(m.system for m in in_ie_thread.values())
    # The restricted NL-DE channel never does.
    with pytest.raises(grpc.RpcError) as refused:
        _messaging(federation, "IE").GetChannel(pb.GetChannelRequest(id=restricted.id), metadata=md(ie), timeout=15)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    listed = _messaging(federation, "IE").ListChannels(
        pb.ListChannelsRequest(workspace_id=ws), metadata=md(ie), timeout=15
    )
    assert {c.id for c in listed.channels} >= {ws_channel.id, thread.id}
    assert restricted.id not in {c.id for c in listed.channels}

    # The victim reaches IE's node as every member's node holds her: the pseudonym-level record, NL's.
    seen = eventually(lambda: _victim(federation, "IE", ie, victim.id), timeout=45)
    assert seen.pseudonym == victim.pseudonym and seen.replica.owner_node == "NL"
    assert seen.version == victim.version

    # A message after IE joined reaches IE as every message does.
    later = post(ws_channel.id, f"NL: welcome, IE {uuid.uuid4().hex}")
    eventually(lambda: later.id in {m.id for m in _messages(federation, "IE", ie, ws_channel.id)}, timeout=30)
