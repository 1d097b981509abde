"""What an evidence upload or a shred leaves behind when a step fails (review 37, durability): the evidence
service run in process on SQLite, with no NATS (the bus keeps trying in the background; events stay in the
outbox; its "connection refused" lines in the log are expected)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as pb
from jitlib import auth, retention, retention_sweep, sealing, workspaces
from jitlib.config import CommonSettings
from jitlib.errors import FailedPrecondition
from jitlib.principal import Principal
from jitlib.server import ServiceApp
from services.evidence import app as evidence_app
from services.evidence import blobs
from services.evidence.store import ItemRow

WS = "jit-durable"
#: Two hours ago: older than the blob sweep's grace period (``blobs.ORPHAN_GRACE``, one hour).
LONG_AGO = time.time() - 2 * 3600


def who(j: str, role: str) -> Principal:
    return Principal(f"{j.lower()}-{role}", f"{j.lower()}-{role}", j, frozenset({role}), frozenset({WS}))


NL_PROS, DE_LIAISON, DE_PROS = who("NL", "prosecutor"), who("DE", "police_liaison"), who("DE", "prosecutor")


def rid() -> str:
    return str(uuid.uuid4())


class Running:
    """The service started on ``tmp`` with its workspace open and one evidence request being executed."""

    def __init__(self, app: ServiceApp, request: pb.EvidenceRequest) -> None:
        self.app = app
        self.request = request
        self.servicer: Any = app.spec.extra["servicer"]
        self.blobs: blobs.BlobStore = app.spec.extra["blobs"]
        assert app.runtime is not None
        self.rt = app.runtime

    async def upload(self, p: Principal, meta: pb.ItemMetadata, data: bytes, hold: asyncio.Event | None = None) -> Any:
        return await as_user(p, lambda: self.servicer.UploadItem(messages(meta, data, hold), None))

    async def download(self, p: Principal, item_id: str) -> bytes:
        async def body() -> bytes:
            out = bytearray()
            req = pb.DownloadItemRequest(item_id=item_id, purpose="analysis")
            async for part in self.servicer.DownloadItem(req, None):
                if not isinstance(part, pb.DownloadItemResponse):  # a chunk, sent as its serialized message
                    out += pb.DownloadItemResponse.FromString(bytes(part)).chunk
            return bytes(out)

        return await as_user(p, body)

    async def blob_key(self, item_id: str) -> str:
        return str(await self.rt.read(lambda s: s.scalar(select(ItemRow.blob_key).where(ItemRow.id == item_id))))

    def meta(self, data: bytes, request_id: str = "", **over: Any) -> pb.ItemMetadata:
        fields: dict[str, Any] = dict(
            request_id=request_id or rid(),
            evidence_request_id=self.request.id,
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            media_type="image/jpeg",
            filename="a.jpg",
        )
        fields.update(over)
        return pb.ItemMetadata(**fields)

    def on_change(self, hook: Callable[[Principal], Awaitable[None]]) -> None:
        """Run ``hook(principal)`` before each write of the runtime (an upload's row), then the write."""
        real = type(self.rt).change

        async def change(principal: Principal, fn: Any, **kw: Any) -> Any:
            await hook(principal)
            return await real(self.rt, principal, fn, **kw)

        self.rt.change = change  # type: ignore[method-assign]

    def plain_changes(self) -> None:
        del self.rt.change


async def start(tmp: Path) -> Running:
    common = CommonSettings(state_dir=tmp, nats_servers="nats://127.0.0.1:1", oidc_issuer="http://127.0.0.1:1/realms/x")
    settings = evidence_app.EvidenceSettings(
        listen="127.0.0.1:0", database_url=f"sqlite:///{tmp / 'evidence.db'}", blob_dir=str(tmp / "blobs")
    )
    app = ServiceApp(evidence_app.spec(settings), settings, common)
    await app.start()
    rt = app.runtime
    assert rt is not None
    ws = common_pb2.Workspace(
        id=WS,
        name="durable",
        lead="NL",
        members=["NL", "DE"],
        legal_basis="JIT agreement",
        starts_on="2020-01-01",
        ends_on="2099-12-31",
        status=common_pb2.WORKSPACE_STATUS_OPEN,
        version=1,
    )
    env = workspaces.envelope_for(ws, common_pb2.Actor(user_id="admin", username="admin", jurisdiction="NL"))
    await rt.db.write(lambda s: workspaces.apply_workspace_event(s, rt.tables, env))
    info = await rt.read(lambda s: workspaces.get_workspace(s, rt.tables, WS))
    rt.workspaces._cache[WS] = info  # type: ignore[attr-defined]
    return Running(app, await executing(app.spec.extra["servicer"]))


async def as_user(p: Principal, coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    token = auth.bind(p)
    try:
        return await coro_fn()
    finally:
        auth.unbind(token)


async def executing(servicer: Any) -> pb.EvidenceRequest:
    req = pb.CreateRequestRequest(
        request_id=rid(),
        workspace_id=WS,
        legal_basis=pb.LEGAL_BASIS_EIO,
        issuing_authority="OM Amsterdam",
        addressee_kind=pb.ADDRESSEE_KIND_MEMBER_STATE,
        addressee_jurisdiction="DE",
        data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
        targets=[pb.TargetIdentifier(type=pb.TARGET_TYPE_ACCOUNT_HANDLE, value="@x", platform="instagram")],
        offence_category=pb.OFFENCE_CATEGORY_CYBERSTALKING,
        urgency=pb.URGENCY_NORMAL,
        title="t",
    )
    r = (await as_user(NL_PROS, lambda: servicer.CreateRequest(req, None))).request
    await as_user(NL_PROS, lambda: servicer.IssueRequest(pb.IssueRequestRequest(id=r.id), None))
    await as_user(DE_LIAISON, lambda: servicer.AcknowledgeRequest(pb.AcknowledgeRequestRequest(id=r.id), None))
    return (await as_user(DE_PROS, lambda: servicer.StartExecution(pb.StartExecutionRequest(id=r.id), None))).request


async def messages(meta: pb.ItemMetadata, data: bytes, hold: asyncio.Event | None = None) -> AsyncIterator[Any]:
    yield pb.UploadItemRequest(metadata=meta)
    yield pb.UploadItemRequest(chunk=data)
    if hold is not None:  # the stream ends (and the blob is committed) only once this is set
        await hold.wait()


def run(tmp: Path, body: Callable[[Running], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        svc = await start(tmp)
        try:
            return await body(svc)
        finally:
            await svc.app.stop(grace=0)

    return asyncio.run(main())


async def failing_upload(svc: Running, data: bytes) -> None:
    """An upload of ``data`` whose row's write fails (a transient database error) after its blob's commit."""

    async def fail(principal: Principal) -> None:
        raise RuntimeError("database is locked")

    svc.on_change(fail)
    try:
        with pytest.raises(RuntimeError, match="database is locked"):
            await svc.upload(DE_LIAISON, svc.meta(data), data)
    finally:
        svc.plain_changes()


# -- a failed upload and the blobs ------------------------------------------------------------------


def test_a_failed_upload_never_removes_the_blob_another_upload_of_the_same_content_is_about_to_use(
    tmp_path: Path,
) -> None:
    """Upload A writes the blob; upload B of the same bytes finds it there and drops its own copy; then A's
    row fails to be written. A's clean-up used to remove the blob (no committed row named it yet), and B then
    committed an item whose blob was gone."""

    async def body(svc: Running) -> tuple[bool, bytes]:
        data = os.urandom(5000)
        b_may_end, b_in_change, a_done = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def hook(principal: Principal) -> None:
            if principal is DE_LIAISON:  # upload A: its write fails once B holds the same blob
                b_may_end.set()
                await b_in_change.wait()
                raise RuntimeError("database is locked")
            if principal is NL_PROS and b_may_end.is_set() and not b_in_change.is_set():
                b_in_change.set()  # upload B, about to write its row: A fails (and cleans up) first
                await a_done.wait()

        svc.on_change(hook)

        async def a() -> None:
            try:
                with pytest.raises(RuntimeError):
                    await svc.upload(DE_LIAISON, svc.meta(data), data)
            finally:
                a_done.set()

        _, got = await asyncio.gather(a(), svc.upload(NL_PROS, svc.meta(data), data, hold=b_may_end))
        svc.plain_changes()
        exists = svc.blobs.exists(await svc.blob_key(got.item.id))
        return exists, await svc.download(NL_PROS, got.item.id)

    exists, downloaded = run(tmp_path, body)
    assert exists
    assert downloaded


def test_the_blob_sweep_removes_old_blobs_no_item_names_and_old_temporary_files_only(tmp_path: Path) -> None:
    """A failed upload's blob is left to the sweep, which removes it once older than its grace period (not
    before), with the temporary files of uploads stopped as long ago; a blob an item names stays, however old."""

    async def body(svc: Running) -> None:
        kept_data = os.urandom(3000)
        kept = (await svc.upload(DE_LIAISON, svc.meta(kept_data), kept_data)).item
        await failing_upload(svc, os.urandom(3001))
        await failing_upload(svc, os.urandom(3002))
        files = [p for p in (svc.blobs.root / "blobs").rglob("*") if p.is_file()]
        assert len(files) == 3  # the failed uploads' blobs are left
        kept_blob = svc.blobs.path(await svc.blob_key(kept.id))
        # Either orphan may be the old one; the blob an item names is made as old.
        old_blob, new_blob = sorted(p for p in files if p != kept_blob)
        os.utime(old_blob, (LONG_AGO, LONG_AGO))
        os.utime(kept_blob, (LONG_AGO, LONG_AGO))
        old_part, new_part = svc.blobs.tmp / "old.part", svc.blobs.tmp / "new.part"
        old_part.write_bytes(b"a stopped upload")
        new_part.write_bytes(b"an upload in flight")
        os.utime(old_part, (LONG_AGO, LONG_AGO))

        removed = await svc.app.spec.extra["blob_sweep"].sweep_once()

        assert removed == 2
        assert not old_blob.exists() and not old_part.exists()
        assert new_blob.exists() and new_part.exists() and kept_blob.exists()
        assert await svc.download(NL_PROS, kept.id) == kept_data

    run(tmp_path, body)


def test_the_blob_sweep_leaves_an_old_blob_an_upload_in_flight_has_just_found(tmp_path: Path) -> None:
    """A blob no item names, older than the grace period, is found by an upload of the same content (which
    drops its own copy); the sweep runs before that upload's row is written. The upload touched the blob,
    so the sweep leaves it, and the item's content downloads whole."""

    async def body(svc: Running) -> bytes:
        data = os.urandom(4000)
        await failing_upload(svc, data)
        (orphan,) = [p for p in (svc.blobs.root / "blobs").rglob("*") if p.is_file()]
        os.utime(orphan, (LONG_AGO, LONG_AGO))
        sweep = svc.app.spec.extra["blob_sweep"]

        async def sweep_first(principal: Principal) -> None:
            assert await sweep.sweep_once() == 0  # before the row naming the blob is written

        svc.on_change(sweep_first)
        got = (await svc.upload(NL_PROS, svc.meta(data), data)).item
        svc.plain_changes()
        assert svc.blobs.path(await svc.blob_key(got.id)) == orphan
        return await svc.download(NL_PROS, got.id)

    assert run(tmp_path, body)


# -- an upload retried ------------------------------------------------------------------------------


def test_an_upload_retried_with_the_same_request_id_and_other_metadata_is_request_id_reused(tmp_path: Path) -> None:
    """Every create keys its replay by the digest of the whole request; an upload compared its bytes only, so
    a retry marking the item sensitive, with another description, was answered OK with the first item."""

    async def body(svc: Running) -> tuple[Any, Any, FailedPrecondition]:
        data = os.urandom(1000)
        key = rid()
        first = await svc.upload(DE_LIAISON, svc.meta(data, key), data)
        again = await svc.upload(DE_LIAISON, svc.meta(data, key), data)
        changed = svc.meta(data, key, sensitive=True, description="the victim's images", filename="b.jpg")
        with pytest.raises(FailedPrecondition) as refused:
            await svc.upload(DE_LIAISON, changed, data)
        return first.item, again.item, refused.value

    first, again, refused = run(tmp_path, body)
    assert again.id == first.id and not again.sensitive
    assert refused.reason == "REQUEST_ID_REUSED"
    assert refused.metadata == {"field": "metadata.request_id"}


def test_an_item_uploaded_before_its_metadata_digest_was_kept_is_replayed_by_its_bytes(tmp_path: Path) -> None:
    """Rows written before revision 0019 have no digest (''): a retry with the same bytes and request is
    still answered with the item; other bytes are REQUEST_ID_REUSED."""

    async def body(svc: Running) -> tuple[Any, Any, FailedPrecondition]:
        data, other = os.urandom(1000), os.urandom(1000)
        key = rid()
        first = await svc.upload(DE_LIAISON, svc.meta(data, key), data)
        await svc.rt.db.write(lambda s: s.execute(update(ItemRow).values(request_digest="")))
        again = await svc.upload(DE_LIAISON, svc.meta(data, key, description="not sent the first time"), data)
        with pytest.raises(FailedPrecondition) as refused:
            await svc.upload(DE_LIAISON, svc.meta(other, key), other)
        return first.item, again.item, refused.value

    first, again, refused = run(tmp_path, body)
    assert again.id == first.id
    assert refused.reason == "REQUEST_ID_REUSED"


def test_two_concurrent_uploads_with_one_request_id_are_answered_with_the_one_item_stored(tmp_path: Path) -> None:
    """Both streams pass the replay lookup before either row is written; the second insert meets the unique
    index on (uploader, request_id) and is answered with the first's item, not with the database's error."""

    async def body(svc: Running) -> tuple[Any, Any, int]:
        data = os.urandom(2000)
        meta = svc.meta(data)
        both_writing = asyncio.Barrier(2)

        async def together(principal: Principal) -> None:
            await both_writing.wait()

        svc.on_change(together)
        one, two = await asyncio.gather(svc.upload(DE_LIAISON, meta, data), svc.upload(DE_LIAISON, meta, data))
        svc.plain_changes()
        count = await svc.rt.read(lambda s: len(s.scalars(select(ItemRow.id)).all()))
        return one.item, two.item, count

    one, two, count = run(tmp_path, body)
    assert one.id == two.id
    assert count == 1


# -- a shred stopped after its commit ---------------------------------------------------------------


def test_a_shred_interrupted_after_its_commit_is_finished_at_the_next_sweep(tmp_path: Path) -> None:
    """``RetentionSweep.destroy`` commits the key's destruction with the certificate, then wipes what SQLite
    freed and deletes the blob files. A process stopped in between (here the wipe raises, as a kill would
    stop it) left both undone for good: the next sweep skipped the workspace (it has a certificate), the blob
    stayed though the certificate counts it deleted, and the wrapped key stayed in the write-ahead log."""

    async def body(svc: Running) -> tuple[bool, list[str], list[int]]:
        data = os.urandom(3000)
        item = (await svc.upload(DE_LIAISON, svc.meta(data), data)).item
        blob = svc.blobs.path(await svc.blob_key(item.id))
        orphan_data = os.urandom(3000)
        await failing_upload(svc, orphan_data)  # a blob no item names, in the same folder
        sweep = svc.app.spec.extra["retention_sweep"]
        due = retention.End(retention.Kind.EVIDENCE_ITEM, "R", datetime(2000, 1, 1, tzinfo=UTC), "due")
        sweep._end = lambda info, session: due  # the workspace's time has come

        async def nothing_to_erase() -> int:
            return 0

        sweep._erase_stream_copies = lambda ws: nothing_to_erase()  # no NATS here
        wrapped = await svc.rt.read(
            lambda s: s.execute(text("select wrapped from workspace_keys where workspace_id = :w"), {"w": WS}).scalar()
        )
        real_wipe = sealing.wipe_freed

        def killed(*a: Any, **k: Any) -> None:
            raise SystemExit("process killed just after the shred's commit")

        sealing.wipe_freed = killed  # type: ignore[assignment]
        try:
            with pytest.raises(SystemExit):
                await sweep.destroy(WS)
        finally:
            sealing.wipe_freed = real_wipe  # type: ignore[assignment]
        assert blob.exists()  # the stop left it

        await sweep.sweep_once()  # the next pass (a restarted process's, say)

        files = [tmp_path / "evidence.db", tmp_path / "evidence.db-wal"]
        copies = [f.name for f in files if f.exists() and wrapped in f.read_bytes()]
        certs = await svc.rt.read(lambda s: retention_sweep.certificates(s, svc.rt.tables))
        return (svc.blobs.root / "blobs" / WS).exists(), copies, [c.files_deleted for c, _ in certs]

    folder_left, copies, files_deleted = run(tmp_path, body)
    assert files_deleted == [1]
    assert not folder_left  # the item's blob, and the one no item named
    assert copies == []


def test_a_shred_deletes_the_workspaces_outbox_rows_and_dead_letters_and_no_others(tmp_path: Path) -> None:
    """Every service's shred (``RetentionSweep.destroy``) deletes the workspace's outbox rows (here never
    published: no NATS) and its dead letters (review 37, messaging #1): none is left to open with a key
    that outlives the workspace's; another workspace's dead letter stays."""

    async def body(svc: Running) -> tuple[int, list[str | None], list[str | None]]:
        data = os.urandom(2000)
        await svc.upload(DE_LIAISON, svc.meta(data), data)
        ob, dl = svc.rt.tables.outbox, svc.rt.tables.dead_letters

        def dead_letters(s: Any) -> None:
            for ws in (WS, "jit-other"):
                s.execute(
                    dl.insert().values(
                        consumer="c", event_id=rid(), subject="jit.tasks.NL.created", payload=b"", error="refused",
                        deliveries=1, recorded_at=datetime.now(UTC), workspace_id=ws,
                    )
                )  # fmt: skip

        await svc.rt.db.write(dead_letters)
        before = await svc.rt.read(lambda s: len(s.execute(select(ob.c.id).where(ob.c.workspace_id == WS)).all()))
        sweep = svc.app.spec.extra["retention_sweep"]
        due = retention.End(retention.Kind.EVIDENCE_ITEM, "R", datetime(2000, 1, 1, tzinfo=UTC), "due")
        sweep._end = lambda info, session: due  # the workspace's time has come

        async def nothing_to_erase() -> int:
            return 0

        sweep._erase_stream_copies = lambda ws: nothing_to_erase()  # no NATS here
        assert await sweep.destroy(WS) is not None
        events = await svc.rt.read(lambda s: list(s.execute(select(ob.c.workspace_id)).scalars()))
        dead = await svc.rt.read(lambda s: list(s.execute(select(dl.c.workspace_id)).scalars()))
        return before, events, dead

    before, events, dead = run(tmp_path, body)
    assert before >= 2  # the request's events and the item's
    assert WS not in events
    assert dead == ["jit-other"]
