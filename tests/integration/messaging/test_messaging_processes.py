"""Messaging run as 2 processes sharing one port (``JIT_MESSAGING_PROCESSES=2``, ``jitlib.processes``) on
PostgreSQL, started by its real entry point (``python -m services.messaging``): every copy runs its own
live listener, so a subscriber on one copy gets the messages posted through the other, once and in
order, and writes the receipts of its deliveries; a post replayed (its request_id again) is answered alike
by either copy and stored once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import httpx
import pytest

from jit.messaging.v1 import messaging_pb2 as pb
from jit.messaging.v1 import messaging_pb2_grpc
from services.messaging import events
from tests.harness import eventually, md, rid
from tests.processes import ServiceProcesses, connection, service_processes, tcp_connections

pytestmark = pytest.mark.integration
WS = "jit-demo"
#: Connections opened, one at a time, to find one on each copy: the chance that 40 all went to one copy
#: is 2 in 2^40.
TRIES = 40
T = TypeVar("T")


@pytest.fixture(scope="module")
def two(
    postgres: Any, keycloak: Any, nats_server: Any, demo_workspace_synced: str, tmp_path_factory: Any
) -> Iterator[ServiceProcesses]:
    state = tmp_path_factory.mktemp("messaging-processes")
    settings = {
        "JIT_NATS_URL": nats_server.url,
        "JIT_OIDC_ISSUER": keycloak.issuer,
        "JIT_MESSAGING_DATABASE_URL": str(postgres.create_database(f"messaging_{uuid.uuid4().hex[:12]}")),
        "JIT_MESSAGING_CONSUMER_GROUP": f"msg-{uuid.uuid4().hex[:8]}",
    }
    with service_processes("messaging", 2, state, settings) as service:
        yield service


def _retried(call: Callable[[], T], timeout: float = 30) -> T:
    """A call tried again while the copy that got it has not learnt the workspace yet (each copy follows
    the workspace directory itself)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@dataclass
class Copies:
    """A stub on each copy (``posting`` on copy 0, ``following`` on copy 1, which runs no background
    workers), the workspace's channel, the poster's token and a reader's."""

    posting: Any
    following: Any
    channel: pb.Channel
    token: list[tuple[str, str]]
    reader: list[tuple[str, str]]


def _index(pid: int) -> str:
    """A copy's index among the service's processes (``JIT_PROCESS_INDEX``, from ``/proc``)."""
    env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    (index,) = [v.split(b"=", 1)[1].decode() for v in env if v.startswith(b"JIT_PROCESS_INDEX=")]
    return index


@pytest.fixture(scope="module")
def copies(two: ServiceProcesses, tokens: Any) -> Iterator[Copies]:
    token = md(tokens("nl-prosecutor"))
    pids = two.copies()
    stubs: dict[int, Any] = {}
    opened: list[grpc.Channel] = []
    channel = None
    request = pb.OpenWorkspaceChannelRequest(workspace_id=WS)
    try:
        for _ in range(TRIES):
            before = {pid: two.established(pid) for pid in pids}
            opened.append(ch := connection(two.port))
            stub = messaging_pb2_grpc.MessagingServiceStub(ch)
            channel = _retried(lambda s=stub: s.OpenWorkspaceChannel(request, metadata=token, timeout=15)).channel
            # The connection is on the copy whose count of connections grew.
            (grown,) = [pid for pid in pids if two.established(pid) > before[pid]]
            stubs.setdefault(grown, stub)
            if len(stubs) == len(pids):
                break
        assert len(stubs) == 2, "every connection went to one copy"
        assert channel is not None
        by_index = {_index(pid): stub for pid, stub in stubs.items()}
        yield Copies(by_index["0"], by_index["1"], channel, token, md(tokens("de-liaison")))
    finally:
        for ch in opened:
            ch.close()


def test_every_copy_listens_for_the_posts_of_every_process(two: ServiceProcesses, nats_server: Any) -> None:
    def listening() -> list[int] | None:
        connz = httpx.get(f"http://127.0.0.1:{nats_server.monitor_port}/connz", params={"subs": 1}, timeout=10)
        subs_by_port = {c["port"]: c.get("subscriptions_list", []) for c in connz.json()["connections"]}
        found = [
            pid
            for pid in two.copies()
            if any(events.LIVE in subs_by_port.get(local, []) for local, _ in tcp_connections(pid))
        ]
        return found if len(found) == 2 else None

    assert eventually(listening)


def _post(stub: Any, c: Copies, body: str, request_id: str | None = None) -> pb.Message:
    request = pb.PostMessageRequest(request_id=request_id or rid(), channel_id=c.channel.id, body=body)
    return stub.PostMessage(request, metadata=c.token, timeout=15).message


def test_a_subscriber_on_one_copy_gets_what_the_other_posts_once_and_in_order_with_its_receipts(
    copies: Copies,
) -> None:
    c = copies
    start = _post(c.following, c, "posted on the subscriber's copy")
    call = c.following.Subscribe(
        pb.SubscribeRequest(channel_id=c.channel.id, after_seq=start.seq - 1), metadata=c.reader, timeout=60
    )
    try:
        stream = iter(call)
        assert next(stream).message.id == start.id
        posted = [_post(c.posting, c, f"posted on the other copy {i}") for i in range(5)]
        got = [next(stream).message for _ in posted]
        assert [m.id for m in got] == [m.id for m in posted]
        assert [m.seq for m in got] == list(range(start.seq + 1, start.seq + 6))
        assert [m.body for m in got] == [f"posted on the other copy {i}" for i in range(5)]
        # Once: what the stream sends next is the next post, not a second copy of one of those.
        last = _post(c.following, c, "posted on the subscriber's copy again")
        assert next(stream).message.id == last.id
    finally:
        call.cancel()

    # The subscriber's copy (1, no background workers) writes the receipts of its own deliveries.
    def delivered() -> bool:
        request = pb.ListReceiptsRequest(message_id=last.id)
        receipts = c.posting.ListReceipts(request, metadata=c.token, timeout=15).receipts
        return any(r.reader.username == "de-liaison" and r.HasField("delivered_at") for r in receipts)

    assert eventually(delivered)


def test_a_replayed_post_is_answered_alike_by_either_copy_and_stored_once(copies: Copies) -> None:
    c = copies
    request_id = rid()
    answers = [_post(stub, c, "sent four times", request_id) for stub in (c.posting, c.following) * 2]
    assert all(a == answers[0] for a in answers)
    listed = c.posting.ListMessages(
        pb.ListMessagesRequest(channel_id=c.channel.id, after_seq=answers[0].seq - 1, page_size=10),
        metadata=c.token,
        timeout=15,
    ).messages
    assert [m.id for m in listed if m.body == "sent four times"] == [answers[0].id]
