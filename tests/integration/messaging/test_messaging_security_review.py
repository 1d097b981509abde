"""The messaging findings of the security review (issue 10), each shown on the running service with real
tokens, a real NATS and both database backends:

- #2 event payloads are not trusted: a forged closure dated 2000 shreds nothing, retention counts from
  when this node's directory saw the workspace closed, plus a grace period, and a reopened workspace is
  never shredded; a forged ``audience`` opens no restricted record thread, and an event whose state
  cannot be read is set aside;
- #3 a live stream ends when its reader loses the channel (NOT_FOUND) or the token expires
  (UNAUTHENTICATED, TOKEN_EXPIRED);
- #4 a closed workspace takes no posts, edits, deletions, key rotations or new channels;
- #7 shredding destroys the workspace key for good, seals attachment metadata, deletes the blobs, and
  makes other replicas drop their cached keys;
- low: only the issuing side rotates a key, refusals of the domain are audited, a deleted message's
  history shows only its tombstone.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest
from google.protobuf import any_pb2
from sqlalchemy import create_engine, select, text

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.messaging.v1 import messaging_pb2 as pb
from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jitdev.nats import NatsInstance
from jitdev.procs import free_port
from jitlib.db import sync_url
from tests.conftest import wait_for_workspace
from tests.harness import RunningService, error_reason, eventually, field_violations, md, rid
from tests.integration.messaging.conftest import announce_workspace, create_task, messaging_db, start_messaging
from tests.integration.messaging.test_messaging import Client

pytestmark = pytest.mark.integration
WS = "jit-demo"
OPEN, CLOSED = common_pb2.WORKSPACE_STATUS_OPEN, common_pb2.WORKSPACE_STATUS_CLOSED


# -- helpers --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(messaging_svc: Any, tokens: Any) -> Client:
    return Client(messaging_svc, tokens)


class Own:
    """A messaging service on its own NATS (closing the demo workspace there closes it for no other
    test), driven by hand: its retention scan runs when the test says so."""

    def __init__(self, svc: RunningService, nats_url: str, url: str, state: Path) -> None:
        self.svc, self.nats_url, self.url, self.state = svc, nats_url, url, state

    def announce(self, status: int, version: int, closed_at: str = "") -> None:
        asyncio.run(announce_workspace(self.nats_url, status, version, closed_at))
        want = "closed" if status == CLOSED else "open"
        eventually(lambda: (w := self.svc.rt.workspaces.get(WS)) is not None and w.status == want)

    def scan(self) -> None:
        self.svc.loop.run(self.svc.app.spec.extra["scanner"].scan_once())

    def advance(self, delta: timedelta) -> None:
        self.svc.app.clock.advance(delta)

    @property
    def blob_dir(self) -> Path:
        return self.state / "messaging-blobs"


@pytest.fixture
def own(keycloak: Any, db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Own]:
    broker = NatsInstance(free_port(), tmp_path / "nats", tmp_path / "nats.log").start()
    pg = None if db_url.startswith("sqlite") else request.getfixturevalue("postgres")
    url = messaging_db(db_url, tmp_path, pg)
    svc = start_messaging(broker.url, keycloak.issuer, url, tmp_path, retention_days=30, retention_scan_seconds=3600)
    try:
        asyncio.run(announce_workspace(broker.url, OPEN, 1))
        wait_for_workspace(svc, WS)
        yield Own(svc, broker.url, url, tmp_path)
    finally:
        svc.stop()
        broker.stop()


def _shredded(client: Client, channel_id: str) -> bool:
    return bool(client.call("nl-prosecutor", "GetChannel", pb.GetChannelRequest(id=channel_id)).channel.shredded)


def _refusal(client: Client, user: str, method: str, request: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        client.call(user, method, request)
    return info.value.code(), error_reason(info.value)


def _restricted(client: Client, title: str, members: list[str], user: str = "nl-prosecutor") -> pb.Channel:
    req = pb.CreateChannelRequest(request_id=rid(), workspace_id=WS, title=title, members=members)
    return client.call(user, "CreateChannel", req).channel


class Stream:
    """A Subscribe stream read in a background thread: what it delivered, and how it ended."""

    def __init__(self, client: Client, user: str, channel_id: str, after: int = 0) -> None:
        self.got: list[pb.Message] = []
        self.error: grpc.RpcError | None = None
        self.ended = threading.Event()
        self.call = client.stub.Subscribe(
            pb.SubscribeRequest(channel_id=channel_id, after_seq=after), metadata=md(client.tokens(user))
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for resp in self.call:
                self.got.append(resp.message)
        except grpc.RpcError as err:
            self.error = err
        finally:
            self.ended.set()

    def cancel(self) -> None:
        self.call.cancel()


# -- #2 (a): a closure shreds only on the directory's confirmed state, after retention and grace ----------


def test_a_forged_closure_dated_2000_shreds_nothing_retention_counts_from_when_this_node_saw_it(
    own: Own, tokens: Any
) -> None:
    """Finding #2: a WorkspaceUpdated with status CLOSED and closed_at 2000-01-01 made messaging shred every
    channel of the workspace within minutes. The period now runs from when this service's directory first
    saw the workspace closed, plus a grace period; the payload's closed_at counts for nothing."""
    client = Client(own.svc, tokens)
    ch = client.workspace_channel()
    client.post("nl-prosecutor", ch.id, "still needed")
    own.announce(CLOSED, 2, closed_at="2000-01-01T00:00:00+00:00")
    for _ in range(10):  # a few scans, time for the (old) closure consumer to act
        own.scan()
        assert not _shredded(client, ch.id)
        threading.Event().wait(0.2)
    own.advance(timedelta(days=31))  # retention (30 days) passed since this node saw it closed, grace not
    own.scan()
    assert not _shredded(client, ch.id)
    own.advance(timedelta(days=7))  # and the grace period (7 days by default)
    own.scan()
    assert _shredded(client, ch.id)


def test_a_reopened_workspace_is_never_shredded(own: Own, tokens: Any) -> None:
    """Finding #2: an erroneous closure can be undone; the shredder requires the directory to still say
    closed."""
    client = Client(own.svc, tokens)
    ch = client.workspace_channel()
    client.post("nl-prosecutor", ch.id, "the closure was a mistake")
    own.announce(CLOSED, 2, closed_at=datetime.now(UTC).isoformat())
    own.scan()
    own.announce(OPEN, 3)
    own.scan()
    own.advance(timedelta(days=400))
    own.scan()
    assert not _shredded(client, ch.id)
    assert client.messages("de-liaison", ch.id)[0].body == "the closure was a mistake"
    # Closed again: the clock starts again from this closure.
    own.announce(CLOSED, 4)
    own.scan()
    own.advance(timedelta(days=36))
    own.scan()
    assert not _shredded(client, ch.id)
    own.advance(timedelta(days=2))
    own.scan()
    assert _shredded(client, ch.id)


# -- #2 (b): access comes from the record's state, never from an event's audience -----------------------


async def _publish(url: str, subject: str, env: Envelope) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().publish(subject, env.SerializeToString(), headers={"Nats-Msg-Id": env.id})
    finally:
        await nc.close()


def _task_event(task: tasks_pb2.Task, *, audience: list[str], state: Any, event: str = "Accepted") -> Envelope:
    packed = any_pb2.Any()
    packed.Pack(state)
    env = Envelope(
        id=rid(),
        type=f"jit.tasks.v1.Task{event}",
        workspace_id=task.workspace_id,
        origin_jurisdiction=task.origin_jurisdiction,
        audience=audience,
        aggregate_type="task",
        aggregate_id=task.id,
        aggregate_version=task.version,
        actor=common_pb2.Actor(user_id="x", username="forger", jurisdiction="DE"),
        state=packed,
    )
    env.occurred_at.FromDatetime(datetime.now(UTC))
    return env


def _notices(client: Client, ref: common_pb2.RecordRef, user: str = "nl-prosecutor") -> list[str]:
    try:
        ch = client.call(user, "OpenRecordThread", pb.OpenRecordThreadRequest(record=ref)).channel
    except grpc.RpcError:
        return []
    return [m.body for m in client.messages(user, ch.id) if m.system]


def test_a_forged_audience_opens_no_restricted_thread_and_an_unreadable_state_is_set_aside(
    client: Client, messaging_svc: Any, tasks_svc: Any, tokens: Any, nats_server: Any
) -> None:
    """Finding #2: a record event's ``audience`` gave access to its thread. The parties now come from the
    record's own state in the event (origin, assignee, shared_with, restricted), as the tasks service's
    policy computes them; an event whose state cannot be read is dead-lettered and changes nothing."""
    task = create_task(tasks_svc, tokens, "Restricted: NL and DE only")
    ref = common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_TASK, id=task.id)
    eventually(lambda: _notices(client, ref) == ["NL created the task"], timeout=20)
    everyone = ["NL", "DE", "IE", "EUROJUST"]

    forged_state = tasks_pb2.Task()
    forged_state.CopyFrom(task)
    forged_state.version = task.version + 1
    forged = _task_event(forged_state, audience=everyone, state=forged_state)
    asyncio.run(_publish(nats_server.url, "jit.tasks.NL.accepted", forged))
    eventually(lambda: len(_notices(client, ref)) == 2, timeout=20)  # the event was processed
    assert client.code("ie-liaison", "OpenRecordThread", pb.OpenRecordThreadRequest(record=ref)) == (
        grpc.StatusCode.NOT_FOUND
    )
    listed = client.call("ie-liaison", "ListChannels", pb.ListChannelsRequest(workspace_id=WS)).channels
    assert not any(c.record.id == task.id for c in listed)

    # A state that is no task: set aside, nothing changes.
    unreadable = _task_event(forged_state, audience=everyone, state=common_pb2.Workspace(id=WS))
    unreadable.aggregate_version = task.version + 2
    asyncio.run(_publish(nats_server.url, "jit.tasks.NL.accepted", unreadable))
    dead = messaging_svc.rt.tables.dead_letters

    def set_aside() -> bool:
        return bool(
            messaging_svc.loop.run(
                messaging_svc.rt.read(
                    lambda s: s.execute(select(dead.c.event_id).where(dead.c.event_id == unreadable.id)).first()
                )
            )
        )

    eventually(set_aside, timeout=20)
    assert len(_notices(client, ref)) == 2
    assert client.code("ie-liaison", "OpenRecordThread", pb.OpenRecordThreadRequest(record=ref)) == (
        grpc.StatusCode.NOT_FOUND
    )


# -- #3: live streams end when access ends ---------------------------------------------------------------


def test_a_stream_ends_not_found_when_its_task_goes_to_another_jurisdiction(
    client: Client, tasks_svc: Any, tokens: Any
) -> None:
    """Finding #3: DE kept following a task's thread after the task was reassigned to IE."""
    tasks = tasks_pb2_grpc.TaskServiceStub(tasks_svc.channel)
    task = create_task(tasks_svc, tokens, "Follow me, then lose me")
    ref = common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_TASK, id=task.id)
    eventually(lambda: _notices(client, ref, "de-liaison") == ["NL created the task"], timeout=20)
    thread = client.call("de-liaison", "OpenRecordThread", pb.OpenRecordThreadRequest(record=ref)).channel
    stream = Stream(client, "de-liaison", thread.id)
    try:
        eventually(lambda: len(stream.got) >= 1)
        tasks.DeclineTask(
            tasks_pb2.DeclineTaskRequest(id=task.id, reason="not ours"), metadata=md(tokens("de-liaison")), timeout=15
        )
        tasks.AssignTask(
            tasks_pb2.AssignTaskRequest(id=task.id, assignee_jurisdiction="IE"),
            metadata=md(tokens("nl-prosecutor")),
            timeout=15,
        )
        assert stream.ended.wait(20), "the stream outlived DE's access to the thread"
        assert stream.error is not None and stream.error.code() == grpc.StatusCode.NOT_FOUND
        # What DE was sent while a party: nothing posted after the reassignment.
        assert all("IE" not in m.body for m in stream.got)
    finally:
        stream.cancel()


def test_a_stream_ends_unauthenticated_when_its_token_expires(own: Own, tokens: Any) -> None:
    """Finding #3: a stream survived its token's expiry (and so the removal of its reader from the
    workspace, which the token carries)."""
    client = Client(own.svc, tokens)
    ch = client.workspace_channel()
    client.post("nl-prosecutor", ch.id, "before the expiry")
    stream = Stream(client, "de-liaison", ch.id)
    try:
        eventually(lambda: len(stream.got) >= 1)
        assert not stream.ended.is_set()
        own.advance(timedelta(hours=12))  # far past any access token's lifetime
        assert stream.ended.wait(20), "the stream outlived its token"
        assert stream.error is not None and stream.error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_reason(stream.error) == "TOKEN_EXPIRED"
    finally:
        stream.cancel()


# -- #4: a closed workspace takes no change -------------------------------------------------------------


def test_a_closed_workspace_takes_no_posts_edits_deletions_rotations_or_new_channels(own: Own, tokens: Any) -> None:
    """Finding #4: posting, editing, deleting and key rotation went on in a closed workspace. Reads still
    work until the content is shredded, and system notices of other services' events are still written."""
    client = Client(own.svc, tokens)
    ch = client.workspace_channel()
    nl_de = _restricted(client, "NL-DE before closing", ["DE"])
    sent = client.post("nl-prosecutor", ch.id, "written while open")
    own.announce(CLOSED, 2)
    closed = (grpc.StatusCode.FAILED_PRECONDITION, "WORKSPACE_CLOSED")
    refused = {
        "PostMessage": _refusal(
            client, "nl-prosecutor", "PostMessage", pb.PostMessageRequest(request_id=rid(), channel_id=ch.id, body="x")
        ),
        "EditMessage": _refusal(client, "nl-prosecutor", "EditMessage", pb.EditMessageRequest(id=sent.id, body="y")),
        "DeleteMessage": _refusal(client, "nl-prosecutor", "DeleteMessage", pb.DeleteMessageRequest(id=sent.id)),
        "RotateChannelKey": _refusal(
            client, "nl-prosecutor", "RotateChannelKey", pb.RotateChannelKeyRequest(channel_id=nl_de.id)
        ),
        "CreateChannel": _refusal(
            client,
            "nl-prosecutor",
            "CreateChannel",
            pb.CreateChannelRequest(request_id=rid(), workspace_id=WS, title="after closing", members=["DE"]),
        ),
    }
    assert refused == dict.fromkeys(refused, closed)
    # Reads go on.
    assert [m.body for m in client.messages("de-liaison", ch.id)] == ["written while open"]
    assert client.workspace_channel("de-liaison").id == ch.id
    history = client.call("de-liaison", "GetMessageHistory", pb.GetMessageHistoryRequest(id=sent.id)).revisions
    assert [h.body for h in history] == ["written while open"]

    # The tasks service's events still become notices: they record what happened.
    task = tasks_pb2.Task(
        id=str(uuid.uuid4()),
        workspace_id=WS,
        title="cancelled at closing",
        origin_jurisdiction="NL",
        assignee_jurisdiction="DE",
        visibility=common_pb2.VISIBILITY_RESTRICTED,
        state=tasks_pb2.TASK_STATE_CANCELLED,
        version=1,
    )
    asyncio.run(
        _publish(own.nats_url, "jit.tasks.NL.cancelled", _task_event(task, audience=[], state=task, event="Cancelled"))
    )
    ref = common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_TASK, id=task.id)
    assert eventually(lambda: _notices(client, ref, "de-liaison"), timeout=20) == ["DE cancelled the task"]


# -- #7: shredding for real --------------------------------------------------------------------------------


def _raw(own: Own) -> bytes:
    """Every byte the database keeps on disk (SQLite: the file and its write-ahead log, as they are)."""
    path = Path(own.url.removeprefix("sqlite:///"))
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _query(own: Own, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(sync_url(own.url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def test_shredding_leaves_no_recoverable_key_no_clear_metadata_and_no_blobs(own: Own, tokens: Any) -> None:
    """Finding #7: wrapped keys were set to NULL but stayed in free pages, under a KEK that never changes;
    attachment names, types, sizes and digests stayed in clear; blobs were never deleted. Now a workspace
    key wraps its channels' keys and is destroyed; the metadata is sealed; the blob files go."""
    client = Client(own.svc, tokens)
    ch = client.workspace_channel()
    nl_de = _restricted(client, "NL-DE: the plan", ["DE"])
    content = f"the plan {uuid.uuid4().hex}".encode()
    digest = hashlib.sha256(content).hexdigest()
    filename = f"operation-nightjar-{uuid.uuid4().hex[:8]}.pdf"
    sent = client.post(
        "nl-prosecutor",
        nl_de.id,
        "see attached",
        attachments=[pb.Attachment(filename=filename, media_type="application/pdf", content=content)],
    )
    client.post("de-liaison", ch.id, "and hello everyone")
    assert client.messages("de-liaison", nl_de.id)[0].attachments[0].filename == filename
    assert sent.attachments[0].sha256 == digest
    blobs = [p for p in own.blob_dir.rglob("*") if p.is_file()]
    assert blobs
    sqlite = own.url.startswith("sqlite")
    # The attachment's metadata is sealed: neither its name nor its digest is in the database.
    if sqlite:
        raw = _raw(own)
        assert filename.encode() not in raw and digest.encode() not in raw and bytes.fromhex(digest) not in raw
    else:
        dump = " ".join(str(r) for r in _query(own, "SELECT CAST(m AS text) FROM messages m"))
        assert filename not in dump and digest not in dump
    workspace_key = _query(own, "SELECT wrapped FROM workspace_keys WHERE workspace_id = :w", w=WS)
    assert len(workspace_key) == 1 and workspace_key[0][0]
    old_workspace_key = bytes(workspace_key[0][0])
    old_channel_keys = [bytes(r[0]) for r in _query(own, "SELECT wrapped FROM channel_keys") if r[0]]
    assert len(old_channel_keys) >= 2

    own.announce(CLOSED, 2)
    own.scan()
    own.advance(timedelta(days=38))  # retention (30) and grace (7)
    own.scan()
    assert _shredded(client, ch.id) and _shredded(client, nl_de.id)
    assert client.messages("de-liaison", nl_de.id)[0].shredded

    # The workspace key is gone, and with it every copy of the channel keys it wrapped.
    assert _query(own, "SELECT wrapped FROM workspace_keys WHERE workspace_id = :w AND wrapped IS NOT NULL", w=WS) == []
    assert all(r[0] is None for r in _query(own, "SELECT wrapped FROM channel_keys"))
    if sqlite:
        pragma = own.svc.loop.run(own.svc.rt.read(lambda s: s.execute(text("PRAGMA secure_delete")).scalar()))
        assert pragma == 1  # the service's connections overwrite what they delete
        raw = _raw(own)
        assert old_workspace_key not in raw
        assert not any(k in raw for k in old_channel_keys)
        assert filename.encode() not in raw and digest.encode() not in raw
    # No blob file is left.
    assert [p for p in own.blob_dir.rglob("*") if p.is_file()] == []


def test_other_replicas_drop_their_cached_keys_when_a_workspace_is_shredded(
    own: Own, keycloak: Any, tokens: Any, tmp_path: Path
) -> None:
    """Finding #7: other replicas kept unwrapped keys cached. A second replica on the same database reads
    (and so caches) the keys; the first shreds; the second's cache is emptied by the shred's event."""
    other = start_messaging(own.nats_url, keycloak.issuer, own.url, own.state, retention_scan_seconds=3600)
    try:
        wait_for_workspace(other, WS)
        client, replica = Client(own.svc, tokens), Client(other, tokens)
        ch = client.workspace_channel()
        client.post("nl-prosecutor", ch.id, "cached over there")
        assert replica.messages("de-liaison", ch.id)[0].body == "cached over there"
        keys = next(iter(other.app.spec.extra["parts"].values())).channels.content.keys
        assert keys.cached(WS)
        own.announce(CLOSED, 2)
        eventually(lambda: (w := other.rt.workspaces.get(WS)) is not None and not w.is_open)
        own.scan()
        own.advance(timedelta(days=38))
        own.scan()
        assert _shredded(client, ch.id)
        eventually(lambda: not keys.cached(WS), timeout=10)
        assert replica.messages("de-liaison", ch.id)[0].shredded
    finally:
        other.stop()


# -- low: who rotates, refusals audited, deleted messages' history ------------------------------------


def test_only_the_channels_issuing_side_rotates_its_key(client: Client) -> None:
    """Low: RotateChannelKey's issuer check was inverted; a prosecutor or liaison of any party rotated."""
    ch = _restricted(client, "NL-DE: rotation", ["DE"])
    assert _refusal(client, "de-liaison", "RotateChannelKey", pb.RotateChannelKeyRequest(channel_id=ch.id))[0] == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert _refusal(client, "ie-liaison", "RotateChannelKey", pb.RotateChannelKeyRequest(channel_id=ch.id))[0] == (
        grpc.StatusCode.NOT_FOUND
    )
    rotated = client.call("nl-prosecutor", "RotateChannelKey", pb.RotateChannelKeyRequest(channel_id=ch.id)).channel
    assert rotated.key_version == 2
    # The workspace channel's issuing side is the workspace's lead (NL).
    everyone = client.workspace_channel()
    assert _refusal(client, "ie-liaison", "RotateChannelKey", pb.RotateChannelKeyRequest(channel_id=everyone.id)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_ALLOWED",
    )


def _audit_outcomes(svc: Any, record_id: str) -> list[str]:
    svc.audit_linked()
    log = svc.rt.tables.audit_log
    return list(
        svc.loop.run(
            svc.rt.read(lambda s: s.execute(select(log.c.outcome).where(log.c.record_id == record_id)).scalars().all())
        )
    )


def test_not_the_sender_refusals_are_audited(client: Client, messaging_svc: Any) -> None:
    """Low: NOT_THE_SENDER refusals were not in the audit log."""
    ch = _restricted(client, "NL-DE: audit", ["DE"])
    m = client.post("nl-prosecutor", ch.id, "mine")
    assert _refusal(client, "de-liaison", "EditMessage", pb.EditMessageRequest(id=m.id, body="his now")) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_THE_SENDER",
    )
    assert _refusal(client, "de-liaison", "DeleteMessage", pb.DeleteMessageRequest(id=m.id))[1] == "NOT_THE_SENDER"
    assert _refusal(client, "de-liaison", "ListReceipts", pb.ListReceiptsRequest(message_id=m.id))[1] == (
        "NOT_THE_SENDER"
    )
    assert _audit_outcomes(messaging_svc, m.id).count("denied") == 3


def test_a_rotation_sent_again_after_a_lost_answer_rotates_once(client: Client, messaging_svc: Any) -> None:
    """RotateChannelKey from the key version the caller saw: the same request again (its answer lost) is
    answered with the channel as it is, key version 2, nothing rotated, audited as a replay; so is a retry
    from 0 ("whatever it is now") of a rotation from 0 while nothing rotated since. Another issuer's rotation
    from 0 still rotates; a retry across it is ABORTED KEY_VERSION_MISMATCH (naming the current version) from
    the old version, and a new rotation from 0. A negative version is INVALID_ARGUMENT naming the field."""
    ch = _restricted(client, "NL-DE: rotate once", ["DE"])
    assert ch.key_version == 1
    request = pb.RotateChannelKeyRequest(channel_id=ch.id, expected_key_version=ch.key_version)
    assert client.call("nl-prosecutor", "RotateChannelKey", request).channel.key_version == 2
    again = client.call("nl-prosecutor", "RotateChannelKey", request).channel
    assert (again.key_version, again.title) == (2, "NL-DE: rotate once")
    assert client.call("nl-prosecutor", "GetChannel", pb.GetChannelRequest(id=ch.id)).channel.key_version == 2
    whatever = pb.RotateChannelKeyRequest(channel_id=ch.id)
    assert client.call("nl-prosecutor", "RotateChannelKey", whatever).channel.key_version == 3
    assert client.call("nl-prosecutor", "RotateChannelKey", whatever).channel.key_version == 3
    assert client.call("nl-liaison", "RotateChannelKey", whatever).channel.key_version == 4
    assert client.call("nl-prosecutor", "RotateChannelKey", whatever).channel.key_version == 5
    with pytest.raises(grpc.RpcError) as stale:
        client.call("nl-prosecutor", "RotateChannelKey", request)
    assert stale.value.code() == grpc.StatusCode.ABORTED and error_reason(stale.value) == "KEY_VERSION_MISMATCH"
    assert "at version 5" in (stale.value.details() or "")
    assert _audit_outcomes(messaging_svc, ch.id).count("replayed") == 2
    bad = pb.RotateChannelKeyRequest(channel_id=ch.id, expected_key_version=-1)
    with pytest.raises(grpc.RpcError) as refused:
        client.call("nl-prosecutor", "RotateChannelKey", bad)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "expected_key_version" in field_violations(refused.value)


def test_listing_a_messages_receipts_is_audited(client: Client, messaging_svc: Any) -> None:
    """Receipts say who read what, and when: every read of them is in the audit log (as ListMessages),
    naming the message, its workspace and the caller."""
    ch = _restricted(client, "NL-DE: who read it", ["DE"])
    m = client.post("nl-prosecutor", ch.id, "read this")
    client.call("nl-prosecutor", "ListReceipts", pb.ListReceiptsRequest(message_id=m.id))
    messaging_svc.audit_linked()
    log = messaging_svc.rt.tables.audit_log
    query = select(log.c.operation, log.c.outcome, log.c.workspace_id, log.c.username).where(log.c.record_id == m.id)
    rows = messaging_svc.loop.run(messaging_svc.rt.read(lambda s: s.execute(query).all()))
    listed = [(r.outcome, r.workspace_id, r.username) for r in rows if r.operation.endswith("Service/ListReceipts")]
    assert listed == [("ok", WS, "nl-prosecutor")]


def test_a_deleted_messages_history_shows_only_its_tombstone(client: Client) -> None:
    """Low: a deleted message stayed readable through GetMessageHistory."""
    ch = _restricted(client, "NL-DE: regrets", ["DE"])
    m = client.post("nl-prosecutor", ch.id, "the informant's name is X")
    client.call("nl-prosecutor", "EditMessage", pb.EditMessageRequest(id=m.id, body="the informant is X"))
    client.call("nl-prosecutor", "DeleteMessage", pb.DeleteMessageRequest(id=m.id))
    for user in ("nl-prosecutor", "de-liaison"):
        history = client.call(user, "GetMessageHistory", pb.GetMessageHistoryRequest(id=m.id)).revisions
        assert [(h.revision, h.deleted, h.body) for h in history] == [(3, True, "")]
