"""Secure messaging end to end: real tokens, real NATS, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry import propagate, trace
from sqlalchemy import create_engine, select, text

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.messaging.v1 import messaging_pb2 as pb
from jit.messaging.v1 import messaging_pb2_grpc
from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jitdev.nats import NatsInstance
from jitdev.procs import free_port
from jitlib.db import sync_url
from tests.conftest import read_stream, wait_for_workspace
from tests.harness import eventually, field_violations, md, rid
from tests.integration.messaging.conftest import announce_workspace, create_task, messaging_db, start_messaging

pytestmark = pytest.mark.integration
WS = "jit-demo"


class Client:
    def __init__(self, svc: Any, tokens: Any) -> None:
        self.stub = messaging_pb2_grpc.MessagingServiceStub(svc.channel)
        self.tokens = tokens

    def call(self, user: str, method: str, request: Any) -> Any:
        return getattr(self.stub, method)(request, metadata=md(self.tokens(user)), timeout=15)

    def code(self, user: str, method: str, request: Any) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as info:
            self.call(user, method, request)
        return info.value.code()

    def workspace_channel(self, user: str = "nl-prosecutor") -> pb.Channel:
        return self.call(user, "OpenWorkspaceChannel", pb.OpenWorkspaceChannelRequest(workspace_id=WS)).channel

    def post(self, user: str, channel_id: str, body: str, **kw: Any) -> pb.Message:
        req = pb.PostMessageRequest(request_id=rid(), channel_id=channel_id, body=body, **kw)
        return self.call(user, "PostMessage", req).message

    def messages(self, user: str, channel_id: str, after: int = 0) -> list[pb.Message]:
        return list(
            self.call(user, "ListMessages", pb.ListMessagesRequest(channel_id=channel_id, after_seq=after)).messages
        )


@pytest.fixture(scope="module")
def client(messaging_svc: Any, tokens: Any) -> Client:
    return Client(messaging_svc, tokens)


def test_workspace_channel_is_for_members_only(client: Client) -> None:
    ch = client.workspace_channel()
    assert ch.kind == pb.CHANNEL_KIND_WORKSPACE
    assert client.workspace_channel("ie-liaison").id == ch.id  # one per workspace
    sent = client.post("nl-prosecutor", ch.id, "Kick-off call at 10:00 CET")
    assert sent.seq >= 1 and sent.sender.jurisdiction == "NL"
    assert any(m.id == sent.id and m.body == "Kick-off call at 10:00 CET" for m in client.messages("ie-liaison", ch.id))
    assert (
        client.code("fr-prosecutor", "ListMessages", pb.ListMessagesRequest(channel_id=ch.id))
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        client.code("nl-operator", "ListMessages", pb.ListMessagesRequest(channel_id=ch.id))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert client.code("nl-auditor", "GetChannel", pb.GetChannelRequest(id=ch.id)) == grpc.StatusCode.PERMISSION_DENIED


def test_restricted_channel_is_for_its_parties_only(client: Client) -> None:
    ch = client.call(
        "nl-prosecutor",
        "CreateChannel",
        pb.CreateChannelRequest(
            request_id=rid(), workspace_id=WS, title="NL-DE: suspect identification", members=["DE"]
        ),
    ).channel
    assert ch.kind == pb.CHANNEL_KIND_RESTRICTED and list(ch.members) == ["DE"]
    client.post("nl-prosecutor", ch.id, "The account was created from a DE address.")
    assert len(client.messages("de-liaison", ch.id)) == 1
    for user in ("ie-liaison", "fr-prosecutor"):
        assert client.code(user, "ListMessages", pb.ListMessagesRequest(channel_id=ch.id)) == grpc.StatusCode.NOT_FOUND
    listed = {c.id for c in client.call("ie-liaison", "ListChannels", pb.ListChannelsRequest(workspace_id=WS)).channels}
    assert ch.id not in listed
    with pytest.raises(grpc.RpcError) as info:
        client.call(
            "nl-prosecutor",
            "CreateChannel",
            pb.CreateChannelRequest(request_id=rid(), workspace_id=WS, title="with a non-member", members=["FR"]),
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "members[0]" in field_violations(info.value)


def test_nothing_is_stored_in_plaintext(client: Client, messaging_svc: Any) -> None:
    """Neither a message's body, its attachments, nor a restricted channel's title (what its opener wrote,
    review 37 #2) is anywhere in the database in clear; the parties read all three back."""
    marker = f"VICTIM-ADDRESS-{uuid.uuid4().hex}"
    ch = client.workspace_channel()
    client.post(
        "nl-prosecutor",
        ch.id,
        f"Her address is {marker}",
        attachments=[
            pb.Attachment(filename="note.txt", media_type="text/plain", content=f"attachment {marker}".encode())
        ],
    )
    title = f"NL-DE: the second phone of {marker}"
    create = pb.CreateChannelRequest(request_id=rid(), workspace_id=WS, title=title, members=["DE"])
    restricted = client.call("nl-prosecutor", "CreateChannel", create).channel
    assert restricted.title == title
    url = messaging_svc.database_url
    if url.startswith("sqlite"):
        engine = create_engine(sync_url(url))
        with engine.begin() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        engine.dispose()
        raw = Path(url.removeprefix("sqlite:///")).read_bytes()
        assert marker.encode() not in raw
    else:
        engine = create_engine(sync_url(url))
        with engine.connect() as conn:
            for table in ("messages", "message_revisions", "outbox", "channels"):
                dump = conn.execute(text(f"SELECT CAST(t AS text) FROM {table} t")).scalars().all()
                assert not any(marker in row for row in dump), table
            bodies = conn.execute(text("SELECT body FROM messages")).scalars().all()
            assert all(marker.encode() not in bytes(b) for b in bodies)
        engine.dispose()
    blobs = list((messaging_svc.state_dir / "messaging-blobs").rglob("*.bin"))
    assert blobs and all(marker.encode() not in p.read_bytes() for p in blobs)
    # ... and the parties read it back.
    got = [m for m in client.messages("de-liaison", ch.id) if marker in m.body]
    assert got and got[0].attachments[0].filename == "note.txt"
    att = client.call("de-liaison", "GetAttachment", pb.GetAttachmentRequest(message_id=got[0].id, index=0))
    assert att.attachment.content == f"attachment {marker}".encode()
    assert client.call("de-liaison", "GetChannel", pb.GetChannelRequest(id=restricted.id)).channel.title == title
    listed = client.call("de-liaison", "ListChannels", pb.ListChannelsRequest(workspace_id=WS)).channels
    assert [c.title for c in listed if c.id == restricted.id] == [title]
    assert client.call("nl-prosecutor", "CreateChannel", create).channel.title == title  # a replay


def test_edits_and_deletions_are_revisions(client: Client) -> None:
    ch = client.workspace_channel()
    m = client.post("de-liaison", ch.id, "Meeting on Tuesday")
    edited = client.call(
        "de-liaison", "EditMessage", pb.EditMessageRequest(id=m.id, body="Meeting on Wednesday", expected_revision=1)
    ).message
    assert edited.revision == 2 and edited.body == "Meeting on Wednesday"
    assert (
        client.code("nl-prosecutor", "EditMessage", pb.EditMessageRequest(id=m.id, body="x"))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert (
        client.code("de-liaison", "EditMessage", pb.EditMessageRequest(id=m.id, body="y", expected_revision=1))
        == grpc.StatusCode.ABORTED
    )
    history = client.call("ie-liaison", "GetMessageHistory", pb.GetMessageHistoryRequest(id=m.id)).revisions
    assert [(h.revision, h.body, h.deleted) for h in history] == [
        (1, "Meeting on Tuesday", False),
        (2, "Meeting on Wednesday", False),
    ]
    deleted = client.call("de-liaison", "DeleteMessage", pb.DeleteMessageRequest(id=m.id)).message
    assert deleted.deleted and not deleted.body
    # Deleting takes back every revision: the history shows the tombstone only.
    history = client.call("ie-liaison", "GetMessageHistory", pb.GetMessageHistoryRequest(id=m.id)).revisions
    assert [(h.revision, h.body, h.deleted) for h in history] == [(3, "", True)]


def test_a_retried_edit_or_delete_answers_as_its_first_call_and_makes_no_revision(client: Client) -> None:
    """An edit whose answer was lost, sent again (same body, same expected revision), is answered with the
    message as the first call left it, not ABORTED; a delete sent again answers the tombstone, not
    MESSAGE_DELETED. Neither makes a revision; another body from the same stale revision is still ABORTED."""
    ch = client.workspace_channel()
    m = client.post("de-liaison", ch.id, "Meeting on Tuesday")
    edit = pb.EditMessageRequest(id=m.id, body="Meeting on Thursday", expected_revision=1)
    first = client.call("de-liaison", "EditMessage", edit).message
    again = client.call("de-liaison", "EditMessage", edit).message
    assert (again.revision, again.body) == (first.revision, first.body) == (2, "Meeting on Thursday")
    whatever = client.call("de-liaison", "EditMessage", pb.EditMessageRequest(id=m.id, body=edit.body)).message
    assert whatever.revision == 2  # from 0, the same text: the same retry
    other = pb.EditMessageRequest(id=m.id, body="Meeting on Friday", expected_revision=1)
    assert client.code("de-liaison", "EditMessage", other) == grpc.StatusCode.ABORTED
    deleted = client.call("de-liaison", "DeleteMessage", pb.DeleteMessageRequest(id=m.id)).message
    again = client.call("de-liaison", "DeleteMessage", pb.DeleteMessageRequest(id=m.id)).message
    assert again.deleted and (again.revision, deleted.revision) == (3, 3)
    assert client.code("de-liaison", "EditMessage", edit) == grpc.StatusCode.FAILED_PRECONDITION  # deleted
    history = client.call("ie-liaison", "GetMessageHistory", pb.GetMessageHistoryRequest(id=m.id)).revisions
    assert [(h.revision, h.deleted) for h in history] == [(3, True)]


def _subscribe(client: Client, user: str, channel_id: str, after: int, want: int) -> list[pb.Message]:
    got: list[pb.Message] = []
    call = client.stub.Subscribe(
        pb.SubscribeRequest(channel_id=channel_id, after_seq=after), metadata=md(client.tokens(user))
    )

    def read() -> None:
        try:
            for resp in call:
                got.append(resp.message)
                if len(got) >= want:
                    call.cancel()
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.CANCELLED:
                raise

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return got  # filled in the background; callers wait with eventually()


def test_reconnecting_subscriber_gets_every_missed_message_in_order_once(client: Client) -> None:
    ch = client.call(
        "nl-prosecutor",
        "CreateChannel",
        pb.CreateChannelRequest(request_id=rid(), workspace_id=WS, title="live", members=["DE"]),
    ).channel
    live = _subscribe(client, "de-liaison", ch.id, 0, 2)
    first = [client.post("nl-prosecutor", ch.id, f"live {i}") for i in range(2)]
    eventually(lambda: len(live) >= 2)
    assert [m.id for m in live] == [m.id for m in first]
    cursor = live[-1].seq
    missed = [client.post("nl-prosecutor", ch.id, f"while away {i}") for i in range(3)]
    again = _subscribe(client, "de-liaison", ch.id, cursor, 4)
    eventually(lambda: len(again) >= 3)
    later = client.post("nl-prosecutor", ch.id, "back online")
    eventually(lambda: len(again) >= 4)
    assert [m.id for m in again] == [m.id for m in missed] + [later.id]
    assert [m.seq for m in again] == sorted({m.seq for m in again})

    # Delivery and read receipts, visible to the sender only.
    def delivered() -> bool:
        r = client.call("nl-prosecutor", "ListReceipts", pb.ListReceiptsRequest(message_id=later.id)).receipts
        return any(x.reader.username == "de-liaison" and x.HasField("delivered_at") for x in r)

    eventually(delivered)
    client.call("de-liaison", "MarkRead", pb.MarkReadRequest(channel_id=ch.id, up_to_seq=later.seq))
    receipts = client.call("nl-prosecutor", "ListReceipts", pb.ListReceiptsRequest(message_id=later.id)).receipts
    assert any(r.reader.username == "de-liaison" and r.HasField("read_at") for r in receipts)
    assert (
        client.code("de-liaison", "ListReceipts", pb.ListReceiptsRequest(message_id=later.id))
        == grpc.StatusCode.PERMISSION_DENIED
    )


def test_a_reader_who_leaves_right_after_a_message_still_gives_its_delivery_receipt(client: Client) -> None:
    """A reader's stream that ends as soon as the message it waited for arrives (the client cancels it):
    the message was handed to that reader, so its sender sees it delivered, every time."""
    ch = client.call(
        "nl-prosecutor",
        "CreateChannel",
        pb.CreateChannelRequest(request_id=rid(), workspace_id=WS, title="brief visits", members=["DE"]),
    ).channel
    posted = []
    for i in range(30):
        message = client.post("nl-prosecutor", ch.id, f"brief {i}")
        got = _subscribe(client, "de-liaison", ch.id, message.seq - 1, 1)  # cancelled once it has the one
        eventually(lambda got=got: len(got) >= 1)
        posted.append(message)

    def undelivered() -> list[int]:
        def delivered(message_id: str) -> bool:
            r = client.call("nl-prosecutor", "ListReceipts", pb.ListReceiptsRequest(message_id=message_id)).receipts
            return any(x.reader.username == "de-liaison" and x.HasField("delivered_at") for x in r)

        return [m.seq for m in posted if not delivered(m.id)]

    eventually(lambda: not undelivered())  # the receipts are written in batches, a tenth of a second apart


def test_task_events_become_notices_in_the_task_thread_once(
    client: Client, tasks_svc: Any, tokens: Any, spans: Any
) -> None:
    from opentelemetry import propagate, trace

    tasks = tasks_pb2_grpc.TaskServiceStub(tasks_svc.channel)
    with trace.get_tracer("test").start_as_current_span("client") as root:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        traced = tasks.CreateTask(
            tasks_pb2.CreateTaskRequest(
                request_id=rid(),
                workspace_id=WS,
                title="Traced across NATS",
                kind=tasks_pb2.TASK_KIND_OTHER,
                assignee_jurisdiction="DE",
            ),
            metadata=md(tokens("nl-prosecutor")) + list(carrier.items()),
            timeout=15,
        ).task
    trace_id = root.get_span_context().trace_id

    def consumer_span() -> Any:
        return next(
            (
                s
                for s in spans.get_finished_spans()
                if s.name == "jit.tasks.NL.created process" and s.context.trace_id == trace_id
            ),
            None,
        )

    # One trace: the client, the tasks service, its outbox publish, and the messaging service consuming it.
    span = eventually(consumer_span)
    chain = {s.context.span_id: s for s in spans.get_finished_spans() if s.context.trace_id == trace_id}
    names = []
    while span is not None:
        names.append(span.name)
        span = chain.get(span.parent.span_id) if span.parent else None
    assert names[0] == "jit.tasks.NL.created process" and names[-1] == "client"
    assert "jit.tasks.NL.created publish" in names and "/jit.tasks.v1.TaskService/CreateTask" in names
    assert traced.id
    task = create_task(tasks_svc, tokens, "Identify the holder")
    tasks.AcceptTask(tasks_pb2.AcceptTaskRequest(id=task.id), metadata=md(tokens("de-liaison")), timeout=15)
    ref = common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_TASK, id=task.id)

    def thread_notices() -> list[str]:
        try:
            ch = client.call("de-liaison", "OpenRecordThread", pb.OpenRecordThreadRequest(record=ref)).channel
        except grpc.RpcError:
            return []
        return [m.body for m in client.messages("de-liaison", ch.id) if m.system]

    notices = eventually(lambda: (n := thread_notices()) and len(n) >= 2 and n)
    assert notices == ["NL created the task", "DE accepted the task"]
    # The thread has the task's visibility: IE is no party of this restricted task.
    assert (
        client.code("ie-liaison", "OpenRecordThread", pb.OpenRecordThreadRequest(record=ref))
        == grpc.StatusCode.NOT_FOUND
    )
    # Parties talk in the record's thread.
    ch = client.call("nl-prosecutor", "OpenRecordThread", pb.OpenRecordThreadRequest(record=ref)).channel
    client.post("nl-prosecutor", ch.id, "Please check the login IPs too.")
    assert len(thread_notices()) == 2  # still once per event


def test_rotating_the_key_keeps_old_messages_readable(client: Client) -> None:
    ch = client.call(
        "nl-prosecutor",
        "CreateChannel",
        pb.CreateChannelRequest(request_id=rid(), workspace_id=WS, title="rotation", members=["DE"]),
    ).channel
    before = client.post("nl-prosecutor", ch.id, "sealed with key 1")
    rotated = client.call("nl-prosecutor", "RotateChannelKey", pb.RotateChannelKeyRequest(channel_id=ch.id)).channel
    assert rotated.key_version == 2
    after = client.post("de-liaison", ch.id, "sealed with key 2")
    bodies = {m.id: m.body for m in client.messages("de-liaison", ch.id)}
    assert bodies == {before.id: "sealed with key 1", after.id: "sealed with key 2"}


@pytest.mark.parametrize(
    ("req", "field"),
    [
        (pb.PostMessageRequest(request_id="x", channel_id="y", body=""), "request_id"),
        (pb.PostMessageRequest(request_id=str(uuid.uuid4()), channel_id=str(uuid.uuid4()), body=""), "body"),
        (pb.PostMessageRequest(request_id=str(uuid.uuid4()), channel_id=str(uuid.uuid4()), body="x" * 20_001), "body"),
        (
            pb.PostMessageRequest(
                request_id=str(uuid.uuid4()),
                channel_id=str(uuid.uuid4()),
                body="ok",
                attachments=[pb.Attachment(filename="../../etc/passwd", media_type="text/plain", content=b"x")],
            ),
            "attachments[0].filename",
        ),
    ],
)
def test_bad_messages_name_the_field(client: Client, req: Any, field: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-prosecutor", "PostMessage", req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(info.value)


def test_page_size_of_a_million_is_refused(client: Client) -> None:
    ch = client.workspace_channel()
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-prosecutor", "ListMessages", pb.ListMessagesRequest(channel_id=ch.id, page_size=1_000_000))
    assert "page_size" in field_violations(info.value)


def test_legal_hold_stops_messagings_retention_clock_and_its_shred_leaves_a_deletion_certificate(
    keycloak: Any, tokens: Any, db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """LEGAL_HOLD, DELETION_CERTIFICATE, RETENTION_MESSAGES: a closed workspace under a hold is not shredded
    after its retention and grace; released, it is, and the certificate counts the channels and messages,
    names the audit head before it, and its digest is the next audit entry."""
    from jitlib import retention_sweep

    own = NatsInstance(free_port(), tmp_path / "nats", tmp_path / "nats.log").start()
    pg = None if db_url.startswith("sqlite") else request.getfixturevalue("postgres")
    url = messaging_db(db_url, tmp_path, pg)
    svc = start_messaging(own.url, keycloak.issuer, url, tmp_path, retention_days=30, retention_scan_seconds=3600)
    scanner = svc.app.spec.extra["scanner"]
    try:
        asyncio.run(announce_workspace(own.url, common_pb2.WORKSPACE_STATUS_OPEN, 1))
        wait_for_workspace(svc, WS)
        client = Client(svc, tokens)
        ch = client.workspace_channel()
        client.post("nl-prosecutor", ch.id, "held for the appeal")
        closed = common_pb2.WORKSPACE_STATUS_CLOSED
        asyncio.run(announce_workspace(own.url, closed, 2, datetime.now(UTC).isoformat(), legal_hold="appeal"))
        eventually(lambda: (w := svc.rt.workspaces.get(WS)) is not None and w.legal_hold == "appeal")
        svc.loop.run(scanner.scan_once())  # this node sees the closure
        svc.app.clock.advance(timedelta(days=38))  # retention (30) and grace (7) passed
        assert svc.loop.run(scanner.scan_once()) == 0
        assert not client.messages("nl-prosecutor", ch.id)[0].shredded

        asyncio.run(announce_workspace(own.url, closed, 3, datetime.now(UTC).isoformat()))
        eventually(lambda: (w := svc.rt.workspaces.get(WS)) is not None and w.legal_hold == "")
        assert svc.loop.run(scanner.scan_once()) == 1
        assert client.messages("nl-prosecutor", ch.id)[0].shredded
        certs = svc.loop.run(svc.rt.read(lambda s: retention_sweep.certificates(s, svc.rt.tables)))
        assert len(certs) == 1 and certs[0][1]
        cert = certs[0][0]
        assert cert.service == "messaging" and cert.by == "system" and cert.counts["messages"] >= 1
        assert cert.counts["channels"] >= 1 and cert.key_ids and cert.stream_messages_erased >= 1
        from services.messaging.events import SHREDDED_TYPE

        left = [Envelope.FromString(m.data) for m in read_stream(own.url, "JIT_MESSAGING", ">")]
        # Its events were erased from the stream before its keys were destroyed; only the shred's own is left.
        assert [e.type for e in left if e.workspace_id == WS] == [SHREDDED_TYPE]
        svc.audit_linked()
        log = svc.rt.tables.audit_log
        after = svc.loop.run(
            svc.rt.read(lambda s: s.execute(select(log).where(log.c.seq == cert.audit_head.seq + 1)).mappings().one())
        )
        assert after["record_id"] == cert.digest() and after["prev_hash"] == cert.audit_head.hash
        held = svc.loop.run(
            svc.rt.read(lambda s: s.execute(select(log.c.operation).where(log.c.workspace_id == WS)).scalars().all())
        )
        assert "jit.workspaces/SetLegalHold" in held and "jit.workspaces/ReleaseLegalHold" in held
    finally:
        svc.stop()
        own.stop()


def test_when_retention_ends_the_content_is_shredded_and_unreadable(
    keycloak: Any, tokens: Any, db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Its own NATS: closing the demo workspace here must not close it for the other tests.
    own = NatsInstance(free_port(), tmp_path / "nats", tmp_path / "nats.log").start()
    pg = None if db_url.startswith("sqlite") else request.getfixturevalue("postgres")
    url = messaging_db(db_url, tmp_path, pg)
    svc = start_messaging(own.url, keycloak.issuer, url, tmp_path, retention_days=30, retention_scan_seconds=0.5)
    try:
        asyncio.run(announce_workspace(own.url, common_pb2.WORKSPACE_STATUS_OPEN, 1))
        wait_for_workspace(svc, WS)
        client = Client(svc, tokens)
        ch = client.workspace_channel()
        sent = client.post("nl-prosecutor", ch.id, "the suspect's handle is @x")
        closed_at = datetime.now(UTC).isoformat()
        asyncio.run(announce_workspace(own.url, common_pb2.WORKSPACE_STATUS_CLOSED, 2, closed_at))
        eventually(lambda: (w := svc.rt.workspaces.get(WS)) is not None and not w.is_open)
        svc.loop.run(svc.app.spec.extra["scanner"].scan_once())  # this node sees the closure
        svc.app.clock.advance(timedelta(days=38))  # the retention period (30 days) and the grace (7) pass
        eventually(lambda: client.messages("nl-prosecutor", ch.id)[0].shredded, timeout=20)
        msg = client.messages("de-liaison", ch.id)[0]
        assert msg.id == sent.id and msg.shredded and msg.body == ""
        engine = create_engine(sync_url(url))
        with engine.connect() as conn:
            body = conn.execute(text("SELECT body FROM messages WHERE id = :i"), {"i": sent.id}).scalar_one()
            wrapped = (
                conn.execute(text("SELECT wrapped FROM channel_keys WHERE channel_id = :c"), {"c": ch.id})
                .scalars()
                .all()
            )
        engine.dispose()
        assert len(bytes(body)) > 16  # the ciphertext is still there ...
        assert wrapped and all(w is None for w in wrapped)  # ... and no key to open it exists any more
        assert (
            client.code(
                "nl-prosecutor",
                "PostMessage",
                pb.PostMessageRequest(request_id=rid(), channel_id=ch.id, body="too late"),
            )
            == grpc.StatusCode.FAILED_PRECONDITION
        )
    finally:
        svc.stop()
        own.stop()


def test_a_post_is_one_transaction_of_four_statements_traced_as_one_span(
    client: Client, messaging_svc: Any, spans: Any
) -> None:
    """PostMessage reads no channel before its write: the statement that takes the channel's next seq
    (UPDATE ... RETURNING, which locks the row) reads it for the policy's check, then the message, the
    outbox event and its audit entry (recorded unlinked, the chainer links it after the commit); one span
    for the transaction, none for a read. On PostgreSQL the three INSERTs are one statement
    (``jitlib.sqlexec.deferring``)."""
    ch = client.workspace_channel()
    client.post("nl-prosecutor", ch.id, "warm: the channel's key and the chain head are known now")
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("cli post") as span:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        trace_id = span.get_span_context().trace_id
        req = pb.PostMessageRequest(request_id=rid(), channel_id=ch.id, body="count me")
        client.stub.PostMessage(req, metadata=md(client.tokens("nl-prosecutor")) + list(carrier.items()), timeout=15)

    def traced() -> list[Any]:
        mine = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
        return mine if any(s.name.endswith(" publish") for s in mine) else []

    found = eventually(traced)
    db = [s for s in found if s.name.startswith("db ")]
    assert [s.name for s in db] == ["db write"]
    assert db[0].attributes["db.statement_count"] == (4 if messaging_svc.rt.db.sqlite else 2)


def test_a_post_to_a_channel_the_caller_may_not_see_is_not_found_audited_and_takes_no_seq(
    client: Client, messaging_svc: Any
) -> None:
    """The channel is checked inside the post's transaction: a refusal rolls it back (the channel's next
    seq is not taken), says NOT_FOUND as for a channel that does not exist, and is in the audit log."""
    ch = client.call(
        "nl-prosecutor",
        "CreateChannel",
        pb.CreateChannelRequest(request_id=rid(), workspace_id=WS, title="NL-DE only", members=["DE"]),
    ).channel
    first = client.post("nl-prosecutor", ch.id, "one")
    for user, channel_id in (("ie-liaison", ch.id), ("fr-prosecutor", ch.id), ("nl-prosecutor", str(uuid.uuid4()))):
        req = pb.PostMessageRequest(request_id=rid(), channel_id=channel_id, body="let me in")
        assert client.code(user, "PostMessage", req) == grpc.StatusCode.NOT_FOUND
    assert client.post("de-liaison", ch.id, "two").seq == first.seq + 1
    assert [m.body for m in client.messages("nl-prosecutor", ch.id)] == ["one", "two"]
    messaging_svc.audit_linked()
    engine = create_engine(sync_url(messaging_svc.database_url))
    try:
        with engine.connect() as conn:
            refused = conn.execute(
                text("SELECT username FROM audit_log WHERE record_id = :id AND outcome = 'not_found'"), {"id": ch.id}
            ).scalars()
            assert {"ie-liaison", "fr-prosecutor"} <= set(refused)
    finally:
        engine.dispose()


def test_a_posts_answer_is_the_message_as_its_readers_read_it(client: Client) -> None:
    """The answer (and what the live streams get) is built from the body as sent, not opened back from
    what was just sealed: it must equal, field for field, the stored message as a reader opens it."""
    ch = client.workspace_channel()
    sent = client.post("nl-prosecutor", ch.id, "Zoë's statement: 12 € — see §3")
    (read,) = [m for m in client.messages("de-liaison", ch.id, after=sent.seq - 1) if m.id == sent.id]
    assert read == sent
