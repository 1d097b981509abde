"""One node's link cut (its leafnode remote disabled and reloaded, as an operator would): the other nodes
go on, the cut node keeps serving its replicas, and when the link returns it receives everything it
missed, once, at the owner's versions. The owner checks every forwarded token itself."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import grpc
import nats
import pytest

from jit.events.v1.envelope_pb2 import Envelope
from jit.tasks.v1 import tasks_pb2 as pb
from jit.tasks.v1 import tasks_pb2_grpc
from jitdev.nodes import LocalFederation
from jitlib.federation import INBOUND_STREAM
from jitlib.forwarding import AUTHORIZATION, FORWARDED_BY, METHOD, STATUS, command_subject
from jitlib.natsauth import Credentials
from tests.federation.conftest import nl_task
from tests.harness import eventually, md

pytestmark = pytest.mark.integration


def _stub(federation: LocalFederation, country: str) -> tasks_pb2_grpc.TaskServiceStub:
    return tasks_pb2_grpc.TaskServiceStub(grpc.insecure_channel(federation.nodes[country].address("tasks")))


def _get(federation: LocalFederation, tokens: Any, country: str, user: str, task_id: str) -> pb.Task | None:
    try:
        return (
            _stub(federation, country)
            .GetTask(pb.GetTaskRequest(id=task_id), metadata=md(tokens(user)), timeout=15)
            .task
        )
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise


async def _inbound_events(url: str, ids: set[str], credentials: Credentials, service: str = "tasks") -> list[str]:
    """The aggregate ids of ``service``'s events DE's node stored from NL, one entry per stored message (read
    as DE's service of that name may)."""
    nc = await nats.connect(url, **credentials.connect_options())
    seen: list[str] = []
    try:
        subject = f"jit.in.nl.{service}.>"
        sub = await nc.jetstream().subscribe(subject, stream=INBOUND_STREAM, ordered_consumer=True)
        while True:
            try:
                msg = await sub.next_msg(timeout=1.0)
            except nats.errors.TimeoutError:
                break
            env = Envelope.FromString(msg.data)
            if env.aggregate_id in ids:
                seen.append(f"{env.aggregate_id}@{env.aggregate_version}")
        await sub.unsubscribe()
    finally:
        await nc.close()
    return seen


def test_records_made_while_des_link_is_down_arrive_once_each_at_the_owners_version(
    federation: LocalFederation, country_tokens: Any
) -> None:
    n = 12
    federation.nats.set_link("DE", up=False)
    try:
        made = [
            nl_task(federation, country_tokens, f"While DE is cut off {i} {uuid.uuid4().hex[:6]}") for i in range(n)
        ]
        cancelled = (
            _stub(federation, "NL")
            .CancelTask(
                pb.CancelTaskRequest(id=made[0].id, expected_version=made[0].version, reason="made in error"),
                metadata=md(country_tokens("nl-prosecutor")),
                timeout=15,
            )
            .task
        )
        # NL works on; DE has none of it yet.
        assert _get(federation, country_tokens, "DE", "de-liaison", made[-1].id) is None
    finally:
        federation.nats.set_link("DE", up=True)
    want = {t.id: t.version for t in made} | {cancelled.id: cancelled.version}
    for task_id, version in want.items():
        replica = eventually(
            lambda i=task_id, v=version: (
                (t := _get(federation, country_tokens, "DE", "de-liaison", i)) is not None and t.version == v and t
            ),
            timeout=60,
        )
        assert replica.replica.owner_node == "NL"
    stored = asyncio.run(
        _inbound_events(federation.nats.nodes["DE"].url, set(want), federation.nats.users["DE"].credentials("tasks"))
    )
    # n creations and one cancellation, each stored once on DE's node.
    assert len(stored) == n + 1 and len(set(stored)) == n + 1


async def _forward_directly(url: str, credentials: Credentials, token: str, task_id: str) -> dict[str, str]:
    """What a node would send the owner, sent by hand on DE's NATS (as DE's tasks service may): the owner
    must check the token."""
    nc = await nats.connect(url, **credentials.connect_options())
    try:
        request = pb.AcceptTaskRequest(id=task_id).SerializeToString()
        headers = {METHOD: "/jit.tasks.v1.TaskService/AcceptTask", AUTHORIZATION: f"Bearer {token}", FORWARDED_BY: "DE"}
        reply = await nc.request(command_subject("NL", "tasks"), request, timeout=10, headers=headers)
        return dict(reply.headers or {})
    finally:
        await nc.close()


def _tamper(token: str) -> str:
    """The same token with its expiry pushed a day later: the signature no longer matches."""
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["exp"] = int(claims["exp"]) + 86400
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


@pytest.mark.parametrize("kind", ["tampered", "garbage"])
def test_the_owner_refuses_a_forwarded_command_with_a_forged_token(
    federation: LocalFederation, country_tokens: Any, kind: str
) -> None:
    task = nl_task(federation, country_tokens, "Forged")
    real = country_tokens("de-liaison")
    token = _tamper(real) if kind == "tampered" else "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
    as_tasks = federation.nats.users["DE"].credentials("tasks")
    answer = asyncio.run(_forward_directly(federation.nats.nodes["DE"].url, as_tasks, token, task.id))
    assert answer[STATUS] == str(grpc.StatusCode.UNAUTHENTICATED.value[0]), answer
    owner = _get(federation, country_tokens, "NL", "nl-prosecutor", task.id)
    assert owner is not None and owner.state == pb.TASK_STATE_ASSIGNED and owner.version == task.version
