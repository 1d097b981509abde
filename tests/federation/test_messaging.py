"""A record's thread across nodes: held by the record's owner node, which writes every message (a post
made on another node is forwarded to it) and sends each, with its text, to the nodes of the countries
entitled to it, where it is sealed under that node's own keys. Nothing of it is readable on any node's
disk, and IE, not a party, receives nothing."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from jit.common.v1 import common_pb2
from jit.messaging.v1 import messaging_pb2 as pb
from jit.messaging.v1 import messaging_pb2_grpc
from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jitdev.nodes import LocalFederation
from tests.federation.conftest import nl_task
from tests.federation.test_residency import _files_containing
from tests.harness import eventually, md, rid

pytestmark = pytest.mark.integration


class Threads:
    def __init__(self, federation: LocalFederation, tokens: Any) -> None:
        self.federation = federation
        self.tokens = tokens

    def stub(self, country: str) -> messaging_pb2_grpc.MessagingServiceStub:
        return messaging_pb2_grpc.MessagingServiceStub(
            grpc.insecure_channel(self.federation.nodes[country].address("messaging"))
        )

    def thread(self, country: str, user: str, task_id: str) -> pb.Channel:
        ref = common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_TASK, id=task_id)
        return (
            self.stub(country)
            .OpenRecordThread(pb.OpenRecordThreadRequest(record=ref), metadata=md(self.tokens(user)), timeout=15)
            .channel
        )

    def opened(self, country: str, user: str, task_id: str) -> pb.Channel | None:
        """The thread, or None while the node has not heard of the task yet."""
        try:
            return self.thread(country, user, task_id)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def post(self, country: str, user: str, channel_id: str, body: str) -> pb.Message:
        req = pb.PostMessageRequest(request_id=rid(), channel_id=channel_id, body=body)
        return self.stub(country).PostMessage(req, metadata=md(self.tokens(user)), timeout=15).message

    def bodies(self, country: str, user: str, channel_id: str) -> list[str]:
        try:
            resp = self.stub(country).ListMessages(
                pb.ListMessagesRequest(channel_id=channel_id, page_size=500), metadata=md(self.tokens(user)), timeout=15
            )
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return []
            raise
        return [m.body for m in resp.messages]


def test_a_tasks_thread_is_written_by_its_owner_and_read_on_each_entitled_node(
    federation: LocalFederation, country_tokens: Any
) -> None:
    threads = Threads(federation, country_tokens)
    task = nl_task(federation, country_tokens, "Thread across nodes")
    from_nl = f"NL asks: check the login IPs {uuid.uuid4().hex}"
    from_de = f"DE answers: requested from the ISP {uuid.uuid4().hex}"
    # Messaging learns of a task from its event: the thread opens once that arrived, on NL's node too.
    thread = eventually(lambda: threads.opened("NL", "nl-prosecutor", task.id), timeout=30)
    threads.post("NL", "nl-prosecutor", thread.id, from_nl)

    # DE reads NL's message on its own node, where the thread is held sealed under DE's keys.
    eventually(lambda: from_nl in threads.bodies("DE", "de-liaison", thread.id), timeout=30)
    assert threads.thread("DE", "de-liaison", task.id).id == thread.id
    # DE writes from its own node: the post goes to NL's node, which writes it and sends it back.
    posted = threads.post("DE", "de-liaison", thread.id, from_de)
    assert posted.sender.jurisdiction == "DE"
    assert from_de in threads.bodies("NL", "nl-prosecutor", thread.id)
    eventually(lambda: from_de in threads.bodies("DE", "de-liaison", thread.id), timeout=30)
    nl, de = threads.bodies("NL", "nl-prosecutor", thread.id), threads.bodies("DE", "de-liaison", thread.id)
    assert [b for b in nl if b in (from_nl, from_de)] == [b for b in de if b in (from_nl, from_de)]

    # IE is not a party: nothing of the thread on its node.
    assert threads.bodies("IE", "ie-liaison", thread.id) == []
    # No node keeps the text readable on disk: sealed in the databases, encrypted in the JetStream stores.
    for country in ("NL", "DE", "IE"):
        folder = federation.nats.node_dir(country)
        assert _files_containing(folder, from_nl.encode()) == [], country
        assert _files_containing(folder, from_de.encode()) == [], country


def test_des_first_post_in_a_new_thread_of_an_nl_record_works_from_des_node(
    federation: LocalFederation, country_tokens: Any
) -> None:
    """Opening the thread of NL's record from DE's node opens it on NL's node; DE holds it from the answer
    on, so its first post (forwarded) finds it."""
    threads = Threads(federation, country_tokens)
    task = nl_task(federation, country_tokens, "New thread from DE")

    thread = eventually(lambda: threads.opened("DE", "de-liaison", task.id), timeout=30)
    assert thread.origin_jurisdiction == "NL"
    text = f"DE opens the discussion {uuid.uuid4().hex}"
    threads.post("DE", "de-liaison", thread.id, text)
    assert text in threads.bodies("NL", "nl-prosecutor", thread.id)


def test_the_workspace_channel_is_the_leads_and_reaches_every_member_node(
    federation: LocalFederation, country_tokens: Any
) -> None:
    """jit-demo is led by NL: its channel is NL's node's; DE and IE open it from their own nodes, post
    from there, and each reads every member's messages on its own node."""
    threads = Threads(federation, country_tokens)

    def workspace_channel(country: str, user: str) -> pb.Channel:
        req = pb.OpenWorkspaceChannelRequest(workspace_id="jit-demo")

        def opened() -> pb.Channel | None:
            try:
                stub = threads.stub(country)
                return stub.OpenWorkspaceChannel(req, metadata=md(country_tokens(user)), timeout=15).channel
            except grpc.RpcError as e:
                # WORKSPACE_UNKNOWN: the session's workspace announcement is still on its way to this node.
                if e.code() is grpc.StatusCode.FAILED_PRECONDITION and "not known to this node" in str(e.details()):
                    return None
                raise

        return eventually(opened, timeout=30)

    on_de = workspace_channel("DE", "de-liaison")
    on_ie = workspace_channel("IE", "ie-liaison")
    on_nl = workspace_channel("NL", "nl-prosecutor")
    assert on_de.id == on_ie.id == on_nl.id and on_nl.origin_jurisdiction == "NL"
    said = {c: f"{c} to the whole JIT {uuid.uuid4().hex}" for c in ("NL", "DE", "IE")}
    for country, user in (("NL", "nl-prosecutor"), ("DE", "de-liaison"), ("IE", "ie-liaison")):
        threads.post(country, user, on_nl.id, said[country])
    for country, user in (("NL", "nl-prosecutor"), ("DE", "de-liaison"), ("IE", "ie-liaison")):
        eventually(lambda c=country, u=user: set(said.values()) <= set(threads.bodies(c, u, on_nl.id)), timeout=30)


class ThreadOfTask:
    """NL's restricted task for DE, its thread holding one message (``earlier``) that DE's node has, and the
    task's changes on NL's node, its owner."""

    def __init__(self, federation: LocalFederation, tokens: Any, threads: Threads, title: str, said: str) -> None:
        self.tokens = tokens
        self.task = nl_task(federation, tokens, title)
        self.thread = eventually(lambda: threads.opened("NL", "nl-prosecutor", self.task.id), timeout=30)
        self.earlier = f"{said} {uuid.uuid4().hex[:6]}"
        threads.post("NL", "nl-prosecutor", self.thread.id, self.earlier)
        eventually(lambda: self.earlier in threads.bodies("DE", "de-liaison", self.thread.id), timeout=30)
        self._tasks = tasks_pb2_grpc.TaskServiceStub(grpc.insecure_channel(federation.nodes["NL"].address("tasks")))

    def decline(self, user: str, version: int) -> tasks_pb2.Task:
        request = tasks_pb2.DeclineTaskRequest(id=self.task.id, expected_version=version, reason="no capacity")
        return self._tasks.DeclineTask(request, metadata=md(self.tokens(user)), timeout=15).task

    def assign(self, to: str, version: int) -> tasks_pb2.Task:
        request = tasks_pb2.AssignTaskRequest(id=self.task.id, expected_version=version, assignee_jurisdiction=to)
        return self._tasks.AssignTask(request, metadata=md(self.tokens("nl-prosecutor")), timeout=15).task


def test_a_restricted_task_reassigned_to_ie_brings_its_threads_earlier_messages_to_ies_node(
    federation: LocalFederation, country_tokens: Any
) -> None:
    """NL's restricted task for DE, its thread with a message, declined by DE and reassigned to IE: IE's
    node gets the thread's earlier message (NL's node sends it, as to a country that joins the workspace),
    and IE's liaison reads it there; DE's node no longer shows it."""
    threads = Threads(federation, country_tokens)
    t = ThreadOfTask(federation, country_tokens, threads, "Reassigned with its thread", "Before the reassignment")
    t.assign("IE", t.decline("de-liaison", t.task.version).version)
    eventually(lambda: t.earlier in threads.bodies("IE", "ie-liaison", t.thread.id), timeout=45)
    eventually(lambda: t.earlier not in threads.bodies("DE", "de-liaison", t.thread.id), timeout=30)


def test_a_restricted_task_given_back_to_de_brings_its_thread_back_to_des_node(
    federation: LocalFederation, country_tokens: Any
) -> None:
    """NL's restricted task for DE, with a message in its thread; reassigned to IE (DE's node drops the
    thread: its keys destroyed there), then given back to DE: DE's node holds the thread again, the message
    posted before and one posted after, readable by DE's liaison."""
    threads = Threads(federation, country_tokens)
    t = ThreadOfTask(federation, country_tokens, threads, "Given back with its thread", "Before it left DE")
    to_ie = t.assign("IE", t.decline("de-liaison", t.task.version).version)
    eventually(lambda: t.earlier in threads.bodies("IE", "ie-liaison", t.thread.id), timeout=45)
    eventually(lambda: t.earlier not in threads.bodies("DE", "de-liaison", t.thread.id), timeout=30)
    t.assign("DE", t.decline("ie-liaison", to_ie.version).version)
    # At the first pass or, when its copy overtook the task's event at DE's node, at the second (a minute on).
    eventually(lambda: t.earlier in threads.bodies("DE", "de-liaison", t.thread.id), timeout=120)
    later = f"After it came back {uuid.uuid4().hex[:6]}"
    threads.post("NL", "nl-prosecutor", t.thread.id, later)
    eventually(lambda: later in threads.bodies("DE", "de-liaison", t.thread.id), timeout=30)
