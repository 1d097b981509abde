"""Messaging's retention shred never erases what a legal hold keeps (SQLite and PostgreSQL, real NATS): the
scan claims a due workspace under its key row's lock before erasing its events from JIT_MESSAGING, a hold
asked meanwhile is refused (CONTENT_BEING_DESTROYED), and a claim a stopped scan left blocks nothing for long."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.messaging.v1 import messaging_pb2 as pb
from jit.messaging.v1 import messaging_pb2_grpc
from jit.retention.v1 import retention_pb2, retention_pb2_grpc
from jitdev.nats import NatsInstance
from jitdev.procs import free_port
from jitlib import retention_sweep, sealing
from jitlib.alerts import SYSTEM
from services.messaging import domain, notices, store
from services.messaging.events import SHREDDED_TYPE
from services.messaging.notices import HeldMeanwhile
from tests.conftest import read_stream, wait_for_workspace
from tests.harness import RunningService, eventually, md, rid
from tests.integration.messaging.conftest import announce_workspace, messaging_db, start_messaging

pytestmark = pytest.mark.integration
WS = "jit-demo"
#: A second workspace of the same members, due with the demo one.
OTHER = "jit-other"


@dataclass
class Due:
    """A messaging service (its own NATS) whose demo workspace is closed and past retention and grace."""

    svc: RunningService
    nats: NatsInstance
    channel_id: str
    tokens: Any

    @property
    def scanner(self) -> Any:
        return self.svc.app.spec.extra["scanner"]

    def call(self, stub: Any, method: str, user: str, request: Any) -> Any:
        return getattr(stub(self.svc.channel), method)(request, metadata=md(self.tokens(user)), timeout=15)

    def stream_copies(self) -> int:
        """How many events of the demo workspace JIT_MESSAGING holds (the shred's own not counted)."""
        events = [Envelope.FromString(m.data) for m in read_stream(self.nats.url, "JIT_MESSAGING", ">")]
        return sum(e.workspace_id == WS and e.type != SHREDDED_TYPE for e in events)

    def shredded(self) -> bool:
        listed = self.call(
            messaging_pb2_grpc.MessagingServiceStub,
            "ListMessages",
            "nl-prosecutor",
            pb.ListMessagesRequest(channel_id=self.channel_id),
        )
        return bool(listed.messages[0].shredded)

    def hold(self) -> Any:
        request = retention_pb2.SetLegalHoldRequest(request_id=rid(), workspace_id=WS, reason="a late appeal")
        return self.call(retention_pb2_grpc.RetentionServiceStub, "SetLegalHold", "nl-prosecutor", request)

    def claimed(self) -> list[str]:
        claims = self.svc.app.spec.extra["claims"]
        return list(self.svc.loop.run(self.svc.rt.read(claims.claimed)))


def post_notice(svc: RunningService, workspace_id: str, text: str) -> None:
    """A system notice in a workspace's channel (made first), as the record events' notices are posted: the
    users of this realm are members of the demo workspace only."""
    channels = svc.app.spec.extra["scanner"].channels
    info = svc.rt.workspaces.get(workspace_id)
    assert info is not None

    def post(uow: Any) -> None:
        now = svc.app.clock.now()
        ch = channels.workspace_channel(uow, workspace_id, lambda _ws: info, now)
        sender = domain.SYSTEM_SENDER
        channels.post(uow, ch.id, sender=sender, text=text, files=[], request_id=rid(), digest="", now=now, system=True)

    svc.loop.run(svc.rt.change(SYSTEM, post))


@contextlib.contextmanager
def due_service(
    keycloak: Any, tokens: Any, db_url: str, tmp_path: Path, request: pytest.FixtureRequest, *, also: str = ""
) -> Iterator[Due]:
    """The ``Due`` service; with ``also``, a second workspace of the same members, with a notice in its
    channel, closed with the demo one (both due together)."""
    own = NatsInstance(free_port(), tmp_path / "nats", tmp_path / "nats.log").start()
    pg = None if db_url.startswith("sqlite") else request.getfixturevalue("postgres")
    url = messaging_db(db_url, tmp_path, pg)
    svc = start_messaging(own.url, keycloak.issuer, url, tmp_path, retention_days=30, retention_scan_seconds=3600)
    try:
        asyncio.run(announce_workspace(own.url, common_pb2.WORKSPACE_STATUS_OPEN, 1))
        wait_for_workspace(svc, WS)
        stub = messaging_pb2_grpc.MessagingServiceStub(svc.channel)
        meta = md(tokens("nl-prosecutor"))
        ch = stub.OpenWorkspaceChannel(pb.OpenWorkspaceChannelRequest(workspace_id=WS), metadata=meta).channel
        post = pb.PostMessageRequest(request_id=rid(), channel_id=ch.id, body="the harasser's second account")
        stub.PostMessage(post, metadata=meta)
        closed = common_pb2.WORKSPACE_STATUS_CLOSED
        if also:
            asyncio.run(announce_workspace(own.url, common_pb2.WORKSPACE_STATUS_OPEN, 1, workspace_id=also))
            wait_for_workspace(svc, also)
            eventually(lambda: svc.rt.workspaces.get(also) is not None)
            post_notice(svc, also, "an order was issued")
            asyncio.run(announce_workspace(own.url, closed, 2, datetime.now(UTC).isoformat(), workspace_id=also))
            eventually(lambda: (w := svc.rt.workspaces.get(also)) is not None and not w.is_open)
        asyncio.run(announce_workspace(own.url, closed, 2, datetime.now(UTC).isoformat()))
        eventually(lambda: (w := svc.rt.workspaces.get(WS)) is not None and not w.is_open)
        found = Due(svc, own, ch.id, tokens)
        svc.loop.run(found.scanner.scan_once())  # this node sees the closure
        svc.app.clock.advance(timedelta(days=38))  # retention (30 days) and grace (7) passed
        eventually(lambda: found.stream_copies() >= 1)
        yield found
    finally:
        svc.stop()
        own.stop()


@pytest.fixture
def due(keycloak: Any, tokens: Any, db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Due]:
    with due_service(keycloak, tokens, db_url, tmp_path, request) as found:
        yield found


@pytest.fixture
def two_due(keycloak: Any, tokens: Any, db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Due]:
    with due_service(keycloak, tokens, db_url, tmp_path, request, also=OTHER) as found:
        yield found


def test_a_hold_asked_while_the_scan_erases_a_due_workspace_is_refused_and_never_answered_ok_over_erased_copies(
    due: Due, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LEGAL_HOLD: a prosecutor's hold asked while the scan erases the workspace's events from JIT_MESSAGING
    (after the scan found it due) is refused, CONTENT_BEING_DESTROYED, and the shred completes; before the
    claim, such a hold was answered OK while its stream copies were erased all the same."""
    before = due.stream_copies()
    erase = retention_sweep.erase_workspace_messages
    outcome: list[Any] = []

    async def hold_then_erase(js: Any, stream: str, workspace_id: str) -> int:
        try:
            outcome.append(await asyncio.to_thread(due.hold))
        except grpc.RpcError as exc:
            outcome.append(exc)
        return await erase(js, stream, workspace_id)

    monkeypatch.setattr(retention_sweep, "erase_workspace_messages", hold_then_erase)
    with contextlib.suppress(Exception):  # a shred stopped by the hold (HeldMeanwhile): checked below
        due.svc.loop.run(due.scanner.scan_once())
    assert len(outcome) == 1
    if not isinstance(outcome[0], grpc.RpcError):  # a hold answered OK keeps everything, its stream copies too
        assert outcome[0].hold.active
        assert due.stream_copies() == before, "a held workspace's events were erased from JIT_MESSAGING"
    refused = outcome[0]
    assert isinstance(refused, grpc.RpcError) and refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "is being destroyed" in (refused.details() or "")
    assert due.shredded() and due.claimed() == []
    certs = due.svc.loop.run(due.svc.rt.read(lambda s: retention_sweep.certificates(s, due.svc.rt.tables)))
    assert len(certs) == 1 and certs[0][0].stream_messages_erased == before


def test_a_hold_set_after_the_scan_found_the_workspace_due_erases_nothing(due: Due) -> None:
    """The claim checks again, under the key row's lock, that the workspace is due: a hold set between the
    scan's finding and its claim keeps the stream copies and the content, and the claim is not taken."""
    scanner = due.scanner
    now = due.svc.app.clock.now()
    assert WS in due.svc.loop.run(due.svc.rt.read(lambda s: scanner.due(s, now)))  # the finding ...
    before = due.stream_copies()
    assert due.hold().hold.active  # ... a hold after it ...
    assert not due.svc.loop.run(scanner.claim_and_erase(WS))  # ... and the claim
    assert due.stream_copies() == before and not due.shredded() and due.claimed() == []
    assert due.svc.loop.run(scanner.scan_once()) == 0
    assert due.stream_copies() == before and not due.shredded()


def test_a_claim_a_stopped_scan_left_is_taken_again_or_let_go_at_the_next_scan(due: Due) -> None:
    """A claim left by a process killed while it erased (no shred after it) refuses holds only until the
    next scan: the workspace still due, that scan shreds it; held meanwhile by the directory (which no claim
    refuses), it lets the claim go and erases nothing, and a prosecutor's hold is then set."""
    scanner, svc = due.scanner, due.svc
    claims = svc.app.spec.extra["claims"]
    now = svc.app.clock.now()
    assert svc.loop.run(svc.rt.db.write(lambda s: retention_sweep.claim(claims, s, WS, lambda: True, now)))
    with pytest.raises(grpc.RpcError) as claimed:
        due.hold()
    assert claimed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert due.claimed() == [WS]
    closed = common_pb2.WORKSPACE_STATUS_CLOSED
    asyncio.run(announce_workspace(due.nats.url, closed, 3, datetime.now(UTC).isoformat(), legal_hold="appeal"))
    eventually(lambda: (w := svc.rt.workspaces.get(WS)) is not None and w.legal_hold == "appeal")
    before = due.stream_copies()
    assert svc.loop.run(scanner.scan_once()) == 0
    assert due.claimed() == [] and due.stream_copies() == before and not due.shredded()
    assert due.hold().hold.active

    # Released everywhere, and a claim left again: the next scan takes it and shreds.
    release = retention_pb2.ReleaseLegalHoldRequest(request_id=rid(), workspace_id=WS)
    due.call(retention_pb2_grpc.RetentionServiceStub, "ReleaseLegalHold", "nl-prosecutor", release)
    asyncio.run(announce_workspace(due.nats.url, closed, 4, datetime.now(UTC).isoformat()))
    eventually(lambda: (w := svc.rt.workspaces.get(WS)) is not None and w.legal_hold == "")
    assert svc.loop.run(svc.rt.db.write(lambda s: retention_sweep.claim(claims, s, WS, lambda: True, now)))
    assert svc.loop.run(scanner.scan_once()) == 1
    assert due.shredded() and due.claimed() == [] and due.stream_copies() == 0


def test_an_erasure_that_fails_lets_the_claim_go_and_the_next_scan_shreds(
    due: Due, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NATS failing during the erasure: the scan fails, its claim is let go (a hold is not refused for a
    shred that is not under way), nothing is shredded; the next scan claims, erases and shreds."""
    erase = retention_sweep.erase_workspace_messages

    async def failing(js: Any, stream: str, workspace_id: str) -> int:
        raise ConnectionError("the stream is unreachable")

    monkeypatch.setattr(retention_sweep, "erase_workspace_messages", failing)
    with pytest.raises(RuntimeError, match="JIT_MESSAGING failed"):
        due.svc.loop.run(due.scanner.scan_once())
    assert due.claimed() == [] and not due.shredded()
    monkeypatch.setattr(retention_sweep, "erase_workspace_messages", erase)
    assert due.svc.loop.run(due.scanner.scan_once()) == 1
    assert due.shredded() and due.claimed() == [] and due.stream_copies() == 0


def test_a_scan_whose_erasure_fails_lets_go_of_no_claim_another_scanner_erases_under(
    due: Due, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two messaging processes scanning one database (two scanners, each with its own id): the first has
    claimed the due workspace and is still erasing; the second's scan claims it too and its erasure fails. Its
    scan fails and it lets go of nothing: the first's claim stays (a hold is still refused) until the first
    lets go of it, and the first's next scan shreds. Before, the second's failure let go of the first's claim."""
    svc, first = due.svc, due.scanner
    second = notices.RetentionScanner(
        svc.rt, first.channels, first._scan_due, first._emit, interval=3600, still_due=first._still_due
    )
    assert second.owner != first.owner
    claims = svc.app.spec.extra["claims"]
    now = svc.rt.clock.now()
    assert svc.loop.run(svc.rt.db.write(lambda s: retention_sweep.claim(claims, s, WS, lambda: True, now, first.owner)))
    erase = retention_sweep.erase_workspace_messages

    async def failing(js: Any, stream: str, workspace_id: str, **kw: Any) -> int:
        raise ConnectionError("the stream is unreachable")

    monkeypatch.setattr(retention_sweep, "erase_workspace_messages", failing)
    with pytest.raises(RuntimeError, match="JIT_MESSAGING failed"):
        svc.loop.run(second.scan_once())
    assert due.claimed() == [WS] and not due.shredded()
    with pytest.raises(grpc.RpcError) as refused:
        due.hold()
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    monkeypatch.setattr(retention_sweep, "erase_workspace_messages", erase)
    svc.loop.run(first._let_go(WS))
    assert due.claimed() == []
    assert svc.loop.run(first.scan_once()) == 1
    assert due.shredded() and due.claimed() == []


def read(svc: RunningService, fn: Any) -> Any:
    return svc.loop.run(svc.rt.read(fn))


def test_a_workspace_a_hold_stops_mid_shred_stops_none_of_the_others_due_in_the_same_pass(
    two_due: Due, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workspaces due in one pass, both claimed and erased; the directory holds the first one to be
    shredded just before its shred (HeldMeanwhile: an administrator's hold, which no claim refuses). The other
    is still shredded in that pass (its certificate written, its key gone); the held one keeps its content
    and key, and is let go. Before, the held one's exception ended the pass: the other waited for the next."""
    svc, scanner = two_due.svc, two_due.scanner
    both = {WS, OTHER}
    before = {ws: read(svc, lambda s, ws=ws: store.retention_counts(s, ws)) for ws in both}
    assert all(counts["messages"] >= 1 for counts in before.values())
    change = svc.rt.change
    held: list[str] = []

    async def hold_before_the_first_shred(principal: Any, fn: Any, **kw: Any) -> Any:
        if not held and isinstance(fn, functools.partial) and fn.func == scanner._send:
            workspace_id = fn.keywords["alerts"][0].payload[0]
            held.append(workspace_id)
            closed = common_pb2.WORKSPACE_STATUS_CLOSED
            at = datetime.now(UTC).isoformat()
            await announce_workspace(two_due.nats.url, closed, 3, at, legal_hold="appeal", workspace_id=workspace_id)
            for _ in range(600):
                if (w := svc.rt.workspaces.get(workspace_id)) is not None and w.legal_hold:
                    break
                await asyncio.sleep(0.05)
        return await change(principal, fn, **kw)

    monkeypatch.setattr(svc.rt, "change", hold_before_the_first_shred)
    assert svc.loop.run(scanner.scan_once()) == 1
    [kept] = held
    [gone] = both - {kept}
    certs = read(svc, lambda s: retention_sweep.certificates(s, svc.rt.tables))
    assert [(c.workspace_id, ok) for c, ok in certs] == [(gone, True)]
    assert read(svc, lambda s: store.workspace_shredded(s, gone))
    assert read(svc, lambda s: store.load_workspace_key(s, gone)) is None
    assert not read(svc, lambda s: store.workspace_shredded(s, kept))
    assert read(svc, lambda s: store.retention_counts(s, kept)) == before[kept]
    assert read(svc, lambda s: store.load_workspace_key(s, kept)) is not None
    assert two_due.claimed() == []


def test_a_shred_that_fails_after_one_a_hold_stopped_fails_the_pass(
    two_due: Due, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workspaces due in one pass: the directory holds the first one to be shredded just before its shred
    (HeldMeanwhile, no failure), and the second one's shred fails. The pass fails with that failure (before,
    the hold, raised first, hid it: the pass ended as if nothing had failed); both are kept and let go."""
    svc, scanner = two_due.svc, two_due.scanner
    change = svc.rt.change
    seen: list[str] = []

    async def hold_the_first_fail_the_second(principal: Any, fn: Any, **kw: Any) -> Any:
        if isinstance(fn, functools.partial) and fn.func == scanner._send:
            workspace_id = fn.keywords["alerts"][0].payload[0]
            seen.append(workspace_id)
            if len(seen) == 1:
                raise HeldMeanwhile(f"workspace {workspace_id} held meanwhile")
            raise OSError("the shred's transaction failed")
        return await change(principal, fn, **kw)

    monkeypatch.setattr(svc.rt, "change", hold_the_first_fail_the_second)
    with pytest.raises(OSError, match="shred's transaction failed"):
        svc.loop.run(scanner.scan_once())
    assert sorted(seen) == sorted({WS, OTHER})
    assert not any(read(svc, lambda s, ws=ws: store.workspace_shredded(s, ws)) for ws in seen)
    assert two_due.claimed() == []


def test_a_workspace_whose_erasure_fails_stops_none_of_the_others_due_in_the_same_pass(
    two_due: Due, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workspaces due in one pass; erasing the first one's events fails. Its claim is let go and it is
    not shredded; the other is claimed, erased and shredded in that pass, which then fails with the
    erasure's error; the next pass shreds the first. Before, the failure ended the pass before the other's
    claim."""
    svc, scanner = two_due.svc, two_due.scanner
    erase = retention_sweep.erase_workspace_messages
    failed: list[str] = []

    async def fail_the_first(js: Any, stream: str, workspace_id: str) -> int:
        if not failed or failed == [workspace_id]:
            failed[:] = [workspace_id]
            raise ConnectionError("the stream is unreachable")
        return await erase(js, stream, workspace_id)

    monkeypatch.setattr(retention_sweep, "erase_workspace_messages", fail_the_first)
    with pytest.raises(RuntimeError, match="JIT_MESSAGING failed"):
        svc.loop.run(scanner.scan_once())
    [first] = failed
    [other] = {WS, OTHER} - {first}
    assert read(svc, lambda s: store.workspace_shredded(s, other))
    assert not read(svc, lambda s: store.workspace_shredded(s, first))
    assert two_due.claimed() == []
    monkeypatch.setattr(retention_sweep, "erase_workspace_messages", erase)
    assert svc.loop.run(scanner.scan_once()) == 1
    assert read(svc, lambda s: store.workspace_shredded(s, first)) and two_due.claimed() == []
    certs = read(svc, lambda s: retention_sweep.certificates(s, svc.rt.tables))
    assert sorted(c.workspace_id for c, _ in certs) == sorted({WS, OTHER})


def announce_other(due: Due, status: int, version: int) -> None:
    closed_at = datetime.now(UTC).isoformat() if status == common_pb2.WORKSPACE_STATUS_CLOSED else ""
    asyncio.run(announce_workspace(due.nats.url, status, version, closed_at, workspace_id=OTHER))
    eventually(lambda: (w := due.svc.rt.workspaces.get(OTHER)) is not None and w.version == version)


def test_a_claim_on_a_workspace_without_a_key_makes_no_key(due: Due) -> None:
    """A workspace with no key yet (no message): the claim's row carries the claim and no key material, and
    goes when the claim is let go. A notice posted while it is claimed puts the key in that row (the claim
    stays); let go then, the key stays and the claim goes. Before, the claim made a key, which stayed."""
    svc = due.svc
    claims = svc.app.spec.extra["claims"]
    now = svc.app.clock.now()
    announce_other(due, common_pb2.WORKSPACE_STATUS_OPEN, 1)
    assert read(svc, lambda s: store.load_workspace_key(s, OTHER)) is None

    def claim(s: Any) -> bool:
        return retention_sweep.claim(claims, s, OTHER, lambda: True, now)

    def let_go(s: Any) -> None:
        retention_sweep.let_go(claims, s, OTHER)

    assert svc.loop.run(svc.rt.db.write(claim))
    assert due.claimed() == [OTHER]
    row = read(svc, lambda s: store.load_workspace_key(s, OTHER))
    assert row is not None and row.wrapped is None
    svc.loop.run(svc.rt.db.write(let_go))
    assert read(svc, lambda s: store.load_workspace_key(s, OTHER)) is None and due.claimed() == []

    assert svc.loop.run(svc.rt.db.write(claim))
    post_notice(svc, OTHER, "an order was issued")
    row = read(svc, lambda s: store.load_workspace_key(s, OTHER))
    assert row is not None and row.wrapped is not None and due.claimed() == [OTHER]
    svc.loop.run(svc.rt.db.write(let_go))
    assert read(svc, lambda s: store.load_workspace_key(s, OTHER)) == row and due.claimed() == []
    assert read(svc, lambda s: store.retention_counts(s, OTHER))["messages"] == 1


def test_the_certificate_of_a_workspace_that_never_had_a_key_names_no_key(due: Due) -> None:
    """A closed workspace without any message, shredded: its claim made no key, and its certificate names
    none; the demo workspace's names the keys that sealed its content (its workspace key, its channel's)."""
    svc = due.svc
    announce_other(due, common_pb2.WORKSPACE_STATUS_OPEN, 1)
    announce_other(due, common_pb2.WORKSPACE_STATUS_CLOSED, 2)
    assert svc.loop.run(due.scanner.scan_once()) == 1  # the demo workspace shredded, the other seen closed
    svc.app.clock.advance(timedelta(days=38))
    assert svc.loop.run(due.scanner.scan_once()) == 1
    certs = {c.workspace_id: c for c, ok in read(svc, lambda s: retention_sweep.certificates(s, svc.rt.tables))}
    assert certs[OTHER].key_ids == () and certs[OTHER].counts["messages"] == 0
    assert len(certs[WS].key_ids) == 2
    assert read(svc, lambda s: store.load_workspace_key(s, OTHER)) is None and due.claimed() == []


def test_a_prosecutors_hold_on_a_workspace_without_a_key_is_set_and_makes_no_key(
    keycloak: Any, tokens: Any, db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """LEGAL_HOLD: a workspace no message was posted in yet has no key. A hold's lock makes a row without a
    key there, which is no destroyed key: the hold is set (before, it was refused CONTENT_DESTROYED, as if
    the workspace had been shredded); the workspace's first message then puts the key in that row."""
    own = NatsInstance(free_port(), tmp_path / "nats", tmp_path / "nats.log").start()
    pg = None if db_url.startswith("sqlite") else request.getfixturevalue("postgres")
    url = messaging_db(db_url, tmp_path, pg)
    svc = start_messaging(own.url, keycloak.issuer, url, tmp_path, retention_days=30, retention_scan_seconds=3600)
    try:
        asyncio.run(announce_workspace(own.url, common_pb2.WORKSPACE_STATUS_OPEN, 1))
        wait_for_workspace(svc, WS)
        assert read(svc, lambda s: store.load_workspace_key(s, WS)) is None
        fresh = Due(svc, own, "", tokens)
        assert fresh.hold().hold.active
        row = read(svc, lambda s: store.load_workspace_key(s, WS))
        assert row is not None and row.wrapped is None and fresh.claimed() == []
        stub = messaging_pb2_grpc.MessagingServiceStub(svc.channel)
        meta = md(tokens("nl-prosecutor"))
        ch = stub.OpenWorkspaceChannel(pb.OpenWorkspaceChannelRequest(workspace_id=WS), metadata=meta).channel
        stub.PostMessage(pb.PostMessageRequest(request_id=rid(), channel_id=ch.id, body="held"), metadata=meta)
        row = read(svc, lambda s: store.load_workspace_key(s, WS))
        assert row is not None and row.wrapped is not None
    finally:
        svc.stop()
        own.stop()


def test_a_shred_that_rolls_back_deletes_no_file_and_its_certificate_counts_the_erasure_before_it(
    due: Due, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shred whose transaction fails after the shredder did its work in it (as a failing commit would) rolls
    back whole: the channel's attachment files stay and open (before, the steps meant for after the commit
    ran all the same and deleted them, the messages kept), and the certificate of the next pass's shred
    counts the stream copies the failed pass erased (before: 0, that count was dropped with the rollback)."""
    svc = due.svc
    channels = due.scanner.channels
    before = due.stream_copies()

    def post(uow: Any) -> str:
        now = svc.app.clock.now()
        files = [domain.NewAttachment("note.txt", "text/plain", b"the account's log")]
        sender, request_id = domain.SYSTEM_SENDER, rid()
        kw = {"request_id": request_id, "digest": "", "now": now, "system": True}
        posted = channels.post(uow, due.channel_id, sender=sender, text="a file", files=files, **kw)
        return posted.message.id

    message_id = svc.loop.run(svc.rt.change(SYSTEM, post))
    eventually(lambda: due.stream_copies() == before + 1)
    copies = due.stream_copies()
    shred = due.scanner._emit

    def failing(uow: Any, alert: Any) -> None:
        shred(uow, alert)
        raise RuntimeError("the shred's transaction could not commit")

    monkeypatch.setattr(due.scanner, "_emit", failing)
    with pytest.raises(RuntimeError, match="could not commit"):
        svc.loop.run(due.scanner.scan_once())
    svc.loop.run(asyncio.sleep(0))  # whatever the shred left to run on the loop has run
    assert not due.shredded() and due.claimed() == [] and due.stream_copies() == 0
    assert due.channel_id in channels.content.channels_with_files()
    got = due.call(
        messaging_pb2_grpc.MessagingServiceStub,
        "GetAttachment",
        "nl-prosecutor",
        pb.GetAttachmentRequest(message_id=message_id, index=0),
    )
    assert got.attachment.content == b"the account's log"

    monkeypatch.setattr(due.scanner, "_emit", shred)
    assert svc.loop.run(due.scanner.scan_once()) == 1
    assert due.shredded() and due.channel_id not in channels.content.channels_with_files()
    assert due.scanner.erased == {}  # the count went with the shred's commit
    certs = read(svc, lambda s: retention_sweep.certificates(s, svc.rt.tables))
    assert [c.stream_messages_erased for c, _ in certs] == [copies]


def test_a_shred_stopped_before_its_wipe_is_wiped_at_the_next_scan(due: Due, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shred committed, then its process stopped before what the shred freed was pushed out of the
    database files (here the wipe fails, as a kill would leave it): the next scan wipes (before, only a scan
    that shredded wiped, so the destroyed keys' old copies stayed in the files until another shred); a scan
    after it, with nothing new, does not wipe again."""
    wipe = sealing.wipe_freed
    wipes: list[Any] = []

    def stopped_once(*args: Any) -> None:
        wipes.append(args)
        if len(wipes) == 1:
            raise RuntimeError("stopped before the wipe")
        wipe(*args)

    monkeypatch.setattr(sealing, "wipe_freed", stopped_once)
    with pytest.raises(RuntimeError, match="before the wipe"):
        due.svc.loop.run(due.scanner.scan_once())
    assert due.shredded() and len(wipes) == 1
    assert due.svc.loop.run(due.scanner.scan_once()) == 0
    assert len(wipes) == 2
    assert due.svc.loop.run(due.scanner.scan_once()) == 0
    assert len(wipes) == 2
