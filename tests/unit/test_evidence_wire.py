"""Evidence items' bytes on the wire: chunk messages read and written without a protobuf message in between
(jitlib.wire, services/evidence/wire.py, the CLI's upload and download), the blob store's prefixed segments,
the upload's writeback hints and its one fsync (pure, on a temporary folder)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import fcntl
import hashlib
import io
import itertools
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jit.evidence.v1 import evidence_pb2 as pb
from jitcli import evidence_cmd, files
from jitlib import wire as jitwire
from services.evidence import blobs, domain, wire

KEY = bytes(range(32))
#: Every length where the chunk's varint gains a byte, either side, and the segment size.
LENGTHS = [0, 1, 127, 128, 16_383, 16_384, 2**21 - 1, 2**21, blobs.SEGMENT, blobs.SEGMENT + 1]


@pytest.mark.parametrize("length", LENGTHS)
def test_a_chunk_header_and_its_chunk_are_the_serialized_message(length: int) -> None:
    chunk = os.urandom(length)
    serialized = pb.DownloadItemResponse(chunk=chunk).SerializeToString()
    assert wire.chunk_header(length) + chunk == serialized
    assert pb.UploadItemRequest(chunk=chunk).SerializeToString() == serialized  # the same field in both
    assert len(wire.chunk_header(length)) <= min(wire.HEADER_MAX, blobs.PREFIX_MAX)


@pytest.mark.parametrize("length", LENGTHS)
def test_an_uploaded_chunk_is_read_as_a_view_of_the_received_bytes(length: int) -> None:
    chunk = os.urandom(length)
    raw = pb.UploadItemRequest(chunk=chunk).SerializeToString()
    view = wire.read_upload_message(raw)
    assert isinstance(view, memoryview)
    assert view.obj is raw  # not a copy
    assert view.readonly
    assert view == chunk


def test_any_other_upload_message_is_parsed_as_protobuf_parses_it() -> None:
    meta = pb.UploadItemRequest(metadata=pb.ItemMetadata(sha256="a" * 64, size_bytes=3, filename="x.bin"))
    twice = (
        pb.UploadItemRequest(chunk=b"first").SerializeToString()
        + pb.UploadItemRequest(chunk=b"second").SerializeToString()
    )
    with_unknown_field = pb.UploadItemRequest(chunk=b"abc").SerializeToString() + b"\x18\x01"  # field 3, varint 1
    for raw in (meta.SerializeToString(), twice, with_unknown_field, b""):
        parsed = wire.read_upload_message(raw)
        assert isinstance(parsed, pb.UploadItemRequest)
        assert parsed == pb.UploadItemRequest.FromString(raw)
    assert wire.read_upload_message(twice).chunk == b"second"  # type: ignore[union-attr]


def _put(store: blobs.BlobStore, data: bytes) -> str:
    w = store.writer("jit-demo", KEY)
    digest = hashlib.sha256(data).hexdigest()
    w.declare(digest)
    w.write(data)
    return w.commit(digest, len(data))[0]


@pytest.mark.parametrize("size", [0, 5, blobs.SEGMENT, 2 * blobs.SEGMENT + 3])
def test_a_download_sends_each_segment_as_a_serialized_chunk_message(tmp_path: Path, size: int) -> None:
    store = blobs.BlobStore(tmp_path)
    data = os.urandom(size)
    blob_key = _put(store, data)

    async def run() -> list[bytes]:
        return [m async for m in store.read_ahead(blob_key, KEY, wire.chunk_header)]

    messages = asyncio.run(run())
    chunks = [pb.DownloadItemResponse.FromString(m) for m in messages]
    assert all(c.WhichOneof("part") == "chunk" for c in chunks)
    assert b"".join(c.chunk for c in chunks) == data
    assert [len(c.chunk) for c in chunks] == [len(s) for s in store.read(blob_key, KEY)]


def test_views_of_immutable_bytes_are_held_as_they_are_and_views_of_mutable_buffers_are_copied(
    tmp_path: Path,
) -> None:
    store = blobs.BlobStore(tmp_path)
    received = pb.UploadItemRequest(chunk=os.urandom(blobs.SEGMENT + 9)).SerializeToString()
    view = wire.read_upload_message(received)
    assert isinstance(view, memoryview)
    mutable = bytearray(os.urandom(1000))
    expected = bytes(view) + bytes(mutable)

    async def run() -> str:
        w = store.writer("jit-demo", KEY)
        digest = hashlib.sha256(expected).hexdigest()
        w.declare(digest)
        await w.write_async(view)
        await w.write_async(memoryview(mutable))
        mutable[:] = bytes(1000)  # changed after it was handed over, while it may still be held
        return (await w.commit_async(digest, len(expected)))[0]

    blob_key = asyncio.run(run())
    assert b"".join(store.read(blob_key, KEY)) == expected


def _without_direct_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening with O_DIRECT fails as on a file system that does not take it (tmpfs: EINVAL)."""
    real_open = os.open

    def refusing(path: object, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refusing)


def _takes_direct_io(folder: Path) -> OSError | None:
    try:
        os.close(os.open(folder / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT))
    except OSError as exc:
        return exc
    os.unlink(folder / "probe")
    return None


@pytest.fixture
def direct_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder on a file system that takes O_DIRECT: pytest's own when it does, else one in the checkout's
    ``var/`` (a disk, where pytest's is a tmpfs), removed afterwards. Only where neither does (no disk here
    takes O_DIRECT at all) is the test skipped; the page-cache path it would cover is tested either way."""
    if _takes_direct_io(tmp_path) is None:
        yield tmp_path
        return
    var = Path(__file__).resolve().parents[2] / "var"
    var.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=var, prefix="direct-io-") as folder:
        refused = _takes_direct_io(Path(folder))
        if refused is not None:
            pytest.skip(f"neither pytest's folder nor var/ is on a file system that takes O_DIRECT ({refused})")
        yield Path(folder)


def _upload_counting_syncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> tuple[bytes, list[tuple[int, int]], list[str], blobs.BlobWriter]:
    """Write ``size`` random bytes segment by segment (not committed); the writeback hints and fsyncs made."""
    hints: list[tuple[int, int]] = []
    fsyncs: list[str] = []  # "file" or "folder", in order
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        fsyncs.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "posix_fadvise", lambda fd, offset, length, advice: hints.append((offset, length)))
    monkeypatch.setattr(os, "fsync", fsync)
    data = os.urandom(size)
    w = blobs.BlobStore(tmp_path).writer("jit-demo", KEY)
    w.declare(hashlib.sha256(data).hexdigest())
    for at in range(0, len(data), blobs.SEGMENT):
        w.write(data[at : at + blobs.SEGMENT])
    return data, hints, fsyncs, w


@pytest.mark.parametrize(
    "size", [0, 1, blobs.SEGMENT - 1, blobs.SEGMENT, blobs.SEGMENT + 1, 3 * blobs.SEGMENT + 4095, 9 * blobs.SEGMENT]
)
def test_an_upload_is_written_around_the_page_cache_and_fsynced_once(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """Where the file system takes O_DIRECT, every write of the blob is whole blocks from the staging buffer
    (a misaligned one would fail with EINVAL), the last piece padded and cut back off: the blob is fsynced
    once, with no writeback hint (nothing in the page cache), has its exact length, and reads back whole
    around the page cache too (across the reader's refills: the larger sizes span several)."""
    data, hints, fsyncs, w = _upload_counting_syncs(direct_dir, monkeypatch, size)
    assert w._file.direct
    assert fsyncs == []
    blob_key, _ = w.commit(hashlib.sha256(data).hexdigest(), len(data))
    assert fsyncs.count("file") == 1 and fsyncs[0] == "file"  # the blob, once, then the folders it is renamed into
    assert hints == []
    store = blobs.BlobStore(direct_dir)
    with blobs._open_blob(store.path(blob_key)) as reader:  # and read back around the page cache too
        assert isinstance(reader, blobs._DirectReader)
    assert b"".join(store.read(blob_key, KEY)) == data
    segments = max(1, -(-size // blobs.SEGMENT))
    assert store.path(blob_key).stat().st_size == len(blobs.MAGIC) + size + segments * (12 + 4 + 16)


def test_without_direct_io_an_upload_hands_its_bytes_to_writeback_as_it_goes_and_fsyncs_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where O_DIRECT is refused, the blob is written through the page cache: every WRITEBACK_EVERY bytes
    written, the range since the last hint (contiguous from the start of the file) is handed to the kernel's
    writeback; the blob is made durable by one fsync, in commit, and reads back through the page cache."""
    _without_direct_io(monkeypatch)
    data, hints, fsyncs, w = _upload_counting_syncs(tmp_path, monkeypatch, 20 * blobs.SEGMENT + 1)
    assert not w._file.direct
    assert fsyncs == []
    assert hints[0][0] == 0
    assert all(offset + length == nxt for (offset, length), (nxt, _) in itertools.pairwise(hints))
    assert all(length >= blobs.WRITEBACK_EVERY for _, length in hints)
    assert sum(length for _, length in hints) > len(data) - 2 * blobs.WRITEBACK_EVERY
    blob_key, _ = w.commit(hashlib.sha256(data).hexdigest(), len(data))
    assert fsyncs.count("file") == 1
    assert b"".join(blobs.BlobStore(tmp_path).read(blob_key, KEY)) == data


def test_a_blob_renamed_into_place_is_made_durable_with_the_folders_it_lands_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the rename out of tmp/, the folder the blob lands in is fsynced, and so is the parent of each
    folder made for it: a crash after the item's row commits never finds the blob missing from its place."""
    synced: list[int] = []  # inodes
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.fstat(fd).st_ino), real_fsync(fd)))
    store = blobs.BlobStore(tmp_path)
    first = _put(store, b"the first blob of a workspace")
    folders = [store.path(first).parents[n] for n in range(4)]  # <name[:2]>, <key id>, <workspace>, blobs/
    for folder in [*folders, store.root]:  # blobs/ itself was made too: its parent holds it
        assert folder.stat().st_ino in synced
    synced.clear()
    second = _put(store, b"another blob")
    assert store.path(second).parent.stat().st_ino in synced
    synced.clear()
    assert _put(store, b"another blob") == second  # found there: touched, nothing renamed
    assert len(synced) == 1  # the dropped copy's own fsync only


@pytest.mark.parametrize("size", [0, 1, evidence_cmd.CHUNK, evidence_cmd.CHUNK + 1, 2 * evidence_cmd.CHUNK])
def test_the_cli_uploads_the_messages_protobuf_would_serialize(size: int) -> None:
    data = os.urandom(size)
    meta = pb.ItemMetadata(sha256=hashlib.sha256(data).hexdigest(), size_bytes=size, filename="x.bin")
    sent = list(evidence_cmd.upload_messages(meta, io.BytesIO(data)))
    step = evidence_cmd.CHUNK
    expected = [pb.UploadItemRequest(metadata=meta)] + [
        pb.UploadItemRequest(chunk=data[at : at + step]) for at in range(0, size, step)
    ]
    assert sent == [m.SerializeToString() for m in expected]
    assert all(len(wire.read_upload_message(m)) <= domain.CHUNK_MAX for m in sent[1:])  # type: ignore[arg-type]


def test_the_cli_reads_a_downloaded_chunk_as_a_view_and_the_item_as_a_message() -> None:
    chunk = os.urandom(1000)
    raw = pb.DownloadItemResponse(chunk=chunk).SerializeToString()
    view = evidence_cmd._download_message(raw)
    assert isinstance(view, memoryview)
    assert view.obj is raw
    assert view == chunk
    item = pb.DownloadItemResponse(item=pb.EvidenceItem(id="i", sha256="a" * 64))
    assert evidence_cmd._download_message(item.SerializeToString()) == item


@pytest.mark.parametrize("size", [0, 1, 2**18 - 1, 2**18, 2**18 + 1, 3 * evidence_cmd.CHUNK + 5])
def test_the_cli_declares_the_sha256_of_the_whole_file(size: int, tmp_path: Path) -> None:
    data = os.urandom(size)
    path = tmp_path / "item.bin"
    path.write_bytes(data)
    assert files.file_sha256(path) == hashlib.sha256(data).hexdigest()


def test_the_cli_writes_a_download_as_it_arrives_and_hashes_what_it_wrote() -> None:
    chunks = [os.urandom(n) for n in (1000, 1, 4096, 777, 5000, 3, 2048)]
    whole = b"".join(chunks)
    item = pb.EvidenceItem(id="i", size_bytes=len(whole), sha256=hashlib.sha256(whole).hexdigest())

    def stream() -> Iterator[pb.DownloadItemResponse | memoryview]:
        yield pb.DownloadItemResponse(item=item)
        for i, chunk in enumerate(chunks):
            raw = pb.DownloadItemResponse(chunk=chunk).SerializeToString()
            # every other chunk as the CLI's deserializer gives it (a view), the others as a message
            yield evidence_cmd._download_message(raw) if i % 2 else pb.DownloadItemResponse(chunk=chunk)

    out = io.BytesIO()
    seen_items: list[pb.EvidenceItem] = []
    sizes: list[int] = []
    found, sha256 = evidence_cmd.receive_item(stream(), out, on_item=seen_items.append, on_chunk=sizes.append)
    assert found == item and seen_items == [item]
    assert out.getvalue() == whole
    assert sha256 == item.sha256
    assert sizes == [len(c) for c in chunks]
    # a stream without its item: the bytes are still written and hashed, and no item is claimed
    found, sha256 = evidence_cmd.receive_item(iter([memoryview(whole)]), io.BytesIO())
    assert found is None and sha256 == item.sha256


def test_the_shared_form_refuses_a_field_without_a_one_byte_tag() -> None:
    with pytest.raises(ValueError, match="one-byte tag"):
        jitwire.bytes_field_header(16, 3)


def test_a_failed_write_of_a_staged_block_fails_the_upload_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write of the staged blocks that fails (a disk error) fails the upload, and its temporary file is
    removed."""
    store = blobs.BlobStore(tmp_path)
    data = os.urandom(4 * blobs.SEGMENT)
    w = store.writer("jit-demo", KEY)
    digest = hashlib.sha256(data).hexdigest()
    w.declare(digest)

    def failing(fd: int, data: object) -> int:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "write", failing)
    with pytest.raises(OSError, match="Input/output error"):
        for at in range(0, len(data), blobs.SEGMENT):
            w.write(data[at : at + blobs.SEGMENT])
        w.commit(digest, len(data))
    w.abort()
    assert store.temp_files() == []


def test_a_file_system_that_takes_o_direct_at_open_but_refuses_a_transfer_gets_the_blob_through_the_cache(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write or read refused with EINVAL while the file is open with O_DIRECT turns the flag off on that
    file and is done again through the page cache: the upload and the download still succeed, whole."""
    real_write, real_preadv = os.write, os.preadv
    refused: list[str] = []

    def direct(fd: int) -> bool:
        return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)

    def write(fd: int, data: object) -> int:
        if direct(fd):
            refused.append("write")
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)  # type: ignore[arg-type]

    def preadv(fd: int, buffers: list[memoryview], offset: int) -> int:
        if direct(fd):
            refused.append("read")
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_preadv(fd, buffers, offset)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "preadv", preadv)
    store = blobs.BlobStore(direct_dir)
    data = os.urandom(3 * blobs.SEGMENT + 5)
    w = store.writer("jit-demo", KEY)
    digest = hashlib.sha256(data).hexdigest()
    w.declare(digest)
    for at in range(0, len(data), blobs.SEGMENT):
        w.write(data[at : at + blobs.SEGMENT])
    blob_key, _ = w.commit(digest, len(data))
    assert b"".join(store.read(blob_key, KEY)) == data
    # The write refused once, then through the cache; each read already under way (they run side by side,
    # ahead of the one opened) may be refused once before the first turns the flag off, none after.
    assert refused[0] == "write" and refused.count("write") == 1
    assert 1 <= refused.count("read") <= blobs._READS_AHEAD + 1
    assert store.temp_files() == []


def _put(store: blobs.BlobStore, data: bytes) -> str:
    w = store.writer("jit-demo", KEY)
    digest = hashlib.sha256(data).hexdigest()
    w.declare(digest)
    for at in range(0, len(data), blobs.SEGMENT):
        w.write(data[at : at + blobs.SEGMENT])
    return w.commit(digest, len(data))[0]


def _gated_reads(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The disk's reads of every block after the first wait until the returned event is set (10 s at most,
    so that a test whose reader blocks on them fails instead of hanging)."""
    gate = threading.Event()
    real_preadv = os.preadv

    def preadv(fd: int, buffers: list[memoryview], offset: int) -> int:
        if offset >= blobs._READ_BLOCK:
            gate.wait(10)
        return real_preadv(fd, buffers, offset)

    monkeypatch.setattr(os, "preadv", preadv)
    return gate


def test_a_download_waits_for_the_disk_on_the_event_loop_without_blocking_it(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second segment's bytes are in a block the disk has not read yet: the loop runs other work while
    the read is under way (here, the work that lets the read finish), then gets the segment; every byte
    arrives, in order. A reader blocking the loop would get the segment first, after the gate's timeout."""
    store = blobs.BlobStore(direct_dir)
    data = os.urandom(5 * blobs.SEGMENT + 7)
    blob_key = _put(store, data)
    gate = _gated_reads(monkeypatch)
    order: list[str] = []

    async def open_gate() -> None:
        await asyncio.sleep(0)
        order.append("the loop ran")
        gate.set()

    async def run() -> list[bytes]:
        segments = store.read_ahead(blob_key, KEY)
        got = [await anext(segments)]
        opener = asyncio.ensure_future(open_gate())
        got.append(await anext(segments))
        order.append("second segment")
        await opener
        return got + [s async for s in segments]

    assert b"".join(asyncio.run(run())) == data
    assert order == ["the loop ran", "second segment"]


def test_a_read_of_a_block_not_here_yet_is_handed_out_to_wait_for(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The segments' generator never waits for the disk itself: before a segment whose bytes are still
    being read it hands out that read; ``read`` waits for it and goes on."""
    store = blobs.BlobStore(direct_dir)
    data = os.urandom(3 * blobs.SEGMENT)
    blob_key = _put(store, data)
    gate = _gated_reads(monkeypatch)
    parts = store._segments(blob_key, KEY, None)
    first = next(part for part in parts if isinstance(part, bytes))
    assert first == data[: blobs.SEGMENT]
    pending = next(parts)
    assert isinstance(pending, concurrent.futures.Future) and not pending.done()
    gate.set()
    parts.close()
    assert b"".join(store.read(blob_key, KEY)) == data


def test_a_download_stopped_while_the_disk_reads_closes_the_blob_when_the_read_ends(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client gone while blocks are still being read ahead: the file stays open (a read is using it) until
    those reads end, then it is closed and the blocks' buffers are kept for the next download."""
    store = blobs.BlobStore(direct_dir)
    blob_key = _put(store, os.urandom(5 * blobs.SEGMENT))
    kept = blobs._Buffers(blobs._READS_AHEAD + 1)
    monkeypatch.setattr(blobs, "_BUFFERS", kept)
    fds = len(os.listdir("/proc/self/fd"))
    gate = _gated_reads(monkeypatch)

    async def run() -> None:
        segments = store.read_ahead(blob_key, KEY)
        await anext(segments)
        await segments.aclose()

    asyncio.run(run())
    assert len(os.listdir("/proc/self/fd")) == fds + 1  # the reads of the next blocks still hold it
    gate.set()
    for _ in range(1000):  # the last read ends in its thread, then the file is closed (waited for, not timed)
        if len(os.listdir("/proc/self/fd")) == fds:
            break
        time.sleep(0.01)
    assert len(os.listdir("/proc/self/fd")) == fds
    assert len(kept._free) == blobs._READS_AHEAD + 1


_CHURN = """
import resource, sys
from services.evidence import blobs
if sys.argv[1] == "keep":
    assert blobs.keep_freed_memory()
faults = 0
for turn in range(30):  # as a transfer does: a few MiB buffers alive at once, then all freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    held = [bytes(bytearray(1024 * 1024)) for _ in range(6)]
    del held
    if turn:
        faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(faults)
"""


def test_memory_a_transfer_frees_is_kept_for_the_next_buffers_not_handed_back() -> None:
    """Buffers of a MiB allocated and freed a few at a time: by default the freed memory goes back to the
    system and the next buffers are fresh pages, faulted in again (256 per MiB); once the evidence service has
    asked the allocator to keep it, they reuse it. Each run in a process of its own (the setting is the
    process's)."""
    if not blobs.keep_freed_memory():
        pytest.skip("the C library has no mallopt (not glibc)")

    def faults(mode: str) -> int:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        out = subprocess.run([sys.executable, "-c", _CHURN, mode], env=env, capture_output=True, check=True, text=True)
        return int(out.stdout)

    default, kept = faults("default"), faults("keep")
    pages = 29 * 6 * 256  # every page of every buffer after the first turn
    assert default > pages // 2
    assert kept < pages // 20
