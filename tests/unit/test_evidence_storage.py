"""Encrypted blob store and custody chain (pure, on a temporary folder)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jitlib import crypto
from services.evidence import blobs, custody

KEY = bytes(range(32))


def put(store: blobs.BlobStore, data: bytes, ws: str = "jit-demo", key: bytes = KEY) -> str:
    w = store.writer(ws, key)
    digest = hashlib.sha256(data).hexdigest()
    w.declare(digest)
    for i in range(0, len(data), 300_000):
        w.write(data[i : i + 300_000])
    blob_key, _ = w.commit(digest, len(data))
    return blob_key


@pytest.mark.parametrize("size", [0, 1, blobs.SEGMENT, blobs.SEGMENT + 1, 3 * blobs.SEGMENT + 17])
def test_a_blob_round_trips_and_is_not_plaintext_on_disk(tmp_path: Path, size: int) -> None:
    store = blobs.BlobStore(tmp_path)
    data = os.urandom(size)
    key = put(store, data)
    assert b"".join(store.read(key, KEY)) == data
    if size >= 64:
        assert data[:64] not in store.path(key).read_bytes()
    assert store.temp_files() == []


def test_a_wrong_digest_or_size_leaves_nothing(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)
    for declared_sha, declared_size, field in [
        ("0" * 64, 10, "metadata.sha256"),
        (hashlib.sha256(b"0123456789").hexdigest(), 11, "metadata.size_bytes"),
    ]:
        w = store.writer("jit-demo", KEY)
        w.declare(declared_sha)
        w.write(b"0123456789")
        with pytest.raises(blobs.DigestMismatch) as info:
            w.commit(declared_sha, declared_size)
        assert info.value.field == field
    assert store.temp_files() == []
    assert not (tmp_path / "blobs").exists() or not any((tmp_path / "blobs").rglob("*"))


def test_aborting_removes_the_temporary_file(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)
    w = store.writer("jit-demo", KEY)
    w.declare("a" * 64)
    w.write(b"x" * 3_000_000)
    assert store.temp_files()
    w.abort()
    w.abort()
    assert store.temp_files() == []


@pytest.mark.parametrize("where", ["first segment", "last byte", "truncated"])
def test_a_changed_blob_fails_authentication(tmp_path: Path, where: str) -> None:
    store = blobs.BlobStore(tmp_path)
    key = put(store, os.urandom(2 * blobs.SEGMENT + 5))
    path = store.path(key)
    raw = bytearray(path.read_bytes())
    if where == "first segment":
        raw[len(blobs.MAGIC) + 40] ^= 0x01
    elif where == "last byte":
        raw[-1] ^= 0x80
    else:
        raw = raw[: -(5 + 16 + 16)]  # drop the last segment's body
    path.write_bytes(bytes(raw))
    with pytest.raises(blobs.BlobCorrupt):
        store.digest(key, KEY)


def test_a_blob_does_not_decrypt_under_another_workspace_key(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)
    key = put(store, b"evidence")
    with pytest.raises(blobs.BlobCorrupt):
        list(store.read(key, bytes(32)))


def test_data_keys_are_wrapped_by_the_kek(tmp_path: Path) -> None:
    kek = crypto.load_kek("", None, tmp_path / "evidence-kek.b64")
    assert (tmp_path / "evidence-kek.b64").stat().st_mode & 0o777 == 0o600
    assert crypto.load_kek("", None, tmp_path / "evidence-kek.b64") == kek  # generated once, then reused
    dk = crypto.new_data_key()
    wrapped = crypto.wrap(kek, dk)
    assert dk not in wrapped and crypto.unwrap(kek, wrapped) == dk
    with pytest.raises(crypto.KeyError_):
        crypto.unwrap(bytes(32), wrapped)
    assert kek.key.hex() not in repr(kek)


def _chain(n: int) -> list[custody.Entry]:
    out, prev = [], custody.GENESIS
    for i in range(1, n + 1):
        e = custody.sealed(
            custody.Entry(
                "item",
                i,
                custody.Action.DOWNLOADED,
                "u",
                "nl-prosecutor",
                "NL",
                datetime(2026, 1, 1, tzinfo=UTC),
                f"purpose {i}",
                "",
                "ab" * 32,
                prev,
            )
        )
        out.append(e)
        prev = e.entry_hash
    return out


def test_an_intact_custody_chain_verifies() -> None:
    entries = _chain(4)
    assert custody.verify_chain(entries, 4, entries[-1].entry_hash).intact


def test_retention_evidence_an_erased_custody_chain_still_checks_its_links_sequence_and_head() -> None:
    """RETENTION_EVIDENCE: once a workspace is shredded its custody text is erased; the chain's links,
    sequence and head still verify, and a removed entry is still found."""
    entries = _chain(3)
    head = entries[-1].entry_hash
    erased = [replace(e, purpose="", recipient="") for e in entries]
    assert not custody.verify_chain(erased, 3, head).intact
    assert custody.verify_chain(erased, 3, head, erased=True).intact
    assert not custody.verify_chain([erased[0], erased[2]], 3, head, erased=True).intact
    assert not custody.verify_chain(erased[:2], 3, head, erased=True).intact


def test_a_changed_removed_or_truncated_custody_entry_is_found() -> None:
    entries = _chain(4)
    head = entries[-1].entry_hash
    changed = [*entries[:2], replace(entries[2], purpose="something else"), entries[3]]
    assert custody.verify_chain(changed, 4, head).first_bad_seq == 3
    removed = [*entries[:1], *entries[2:]]
    assert not custody.verify_chain(removed, 4, head).intact
    assert not custody.verify_chain(entries[:3], 4, head).intact


def test_identical_content_is_shared_only_under_the_same_data_key(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)
    other = bytes(reversed(KEY))
    a, b, c = put(store, b"same bytes"), put(store, b"same bytes", key=other), put(store, b"same bytes")
    assert a == c and a != b
    assert b"".join(store.read(a, KEY)) == b"".join(store.read(b, other)) == b"same bytes"


# -- clean-up: the blob sweep's steps ----------------------------------------------------------------


def _aged(store: blobs.BlobStore, *blob_keys: str) -> float:
    """Make the blobs two hours old; the sweep's cutoff (its grace period ago)."""
    old = time.time() - 2 * 3600
    for k in blob_keys:
        os.utime(store.path(k), (old, old))
    return time.time() - blobs.ORPHAN_GRACE


def test_a_blob_found_by_an_upload_after_the_sweep_listed_it_is_kept_and_an_untouched_one_removed(
    tmp_path: Path,
) -> None:
    """An upload of content already stored touches its blob (``commit``: existed), so the sweep, which saw the
    blob stale and unnamed a moment before, leaves it to the row about to name it."""
    store = blobs.BlobStore(tmp_path)
    found, untouched = put(store, b"found again"), put(store, b"nobody's")
    cutoff = _aged(store, found, untouched)
    assert store.stale(cutoff) == sorted([found, untouched])
    assert put(store, b"found again") == found  # the same content uploaded again: its copy dropped
    assert not store.remove_if_stale(found, cutoff)
    assert store.remove_if_stale(untouched, cutoff)
    assert store.exists(found) and not store.exists(untouched)
    assert b"".join(store.read(found, KEY)) == b"found again"
    assert list(tmp_path.rglob("*.swept")) == []


def test_an_upload_committing_while_the_sweep_has_moved_its_blob_aside_keeps_its_own_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep moves a stale blob aside before it removes it; an upload of the same content committing just
    then no longer finds it, so it puts its own copy in place, which the sweep leaves."""
    store = blobs.BlobStore(tmp_path)
    blob_key = put(store, b"twice")
    cutoff = _aged(store, blob_key)
    real_replace = os.replace
    uploads = []

    def replace_then_upload(src: object, dst: object) -> None:
        real_replace(src, dst)  # type: ignore[arg-type]
        if str(dst).endswith(".swept") and not uploads:
            uploads.append(put(store, b"twice"))

    monkeypatch.setattr(os, "replace", replace_then_upload)
    assert store.remove_if_stale(blob_key, cutoff)  # the stale copy, moved aside
    assert uploads == [blob_key]
    assert b"".join(store.read(blob_key, KEY)) == b"twice"


def test_a_blob_a_stopped_sweep_left_aside_is_put_back(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)
    blob_key = put(store, b"aside")
    path = store.path(blob_key)
    os.replace(path, path.with_name(path.name + ".swept"))
    assert store.stale(time.time() + 1) == []  # not a blob while aside
    assert store.put_back_swept() == 1
    assert b"".join(store.read(blob_key, KEY)) == b"aside"


def test_only_temporary_files_untouched_since_the_cutoff_are_removed(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)
    stopped, writing = store.writer("jit-demo", KEY), store.writer("jit-demo", KEY)
    old = time.time() - 2 * 3600
    os.utime(stopped.tmp_path, (old, old))
    assert store.remove_stale_parts(time.time() - blobs.ORPHAN_GRACE) == 1
    assert store.temp_files() == [writing.tmp_path]
    writing.abort()
    stopped.abort()  # its file is gone already: nothing to do


def test_a_destroyed_workspace_s_blob_folder_is_removed_whole_and_no_other(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)
    gone, kept = put(store, b"a", ws="jit-gone"), put(store, b"b", ws="jit-kept")
    (store.path(gone).parent / "no-item-names-this").write_bytes(b"x")
    assert store.remove_workspace("jit-gone") == 2
    assert not store.exists(gone) and store.exists(kept)
    assert store.remove_workspace("jit-gone") == 0
    for bad in ("", ".", "..", "jit-kept/.."):
        with pytest.raises(ValueError):
            store.remove_workspace(bad)


# -- streaming: hashed, sealed and written off the event loop; read one segment ahead --------------------


def _segments_by_hand(blob_key: str, key: bytes, data: bytes) -> bytes:
    """A blob in the stored format, sealed segment by segment as the format says (not by BlobWriter)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    pieces = [data[i : i + blobs.SEGMENT] for i in range(0, len(data), blobs.SEGMENT)] or [b""]
    out = bytearray(blobs.MAGIC)
    for index, piece in enumerate(pieces):
        nonce = os.urandom(12)
        ct = AESGCM(key).encrypt(nonce, piece, blobs._aad(blob_key, index, index == len(pieces) - 1))
        out += nonce + len(ct).to_bytes(4, "big") + ct
    return bytes(out)


@pytest.mark.parametrize("size", [0, 5, blobs.SEGMENT, 2 * blobs.SEGMENT + 3])
def test_the_blob_format_is_unchanged_both_ways(tmp_path: Path, size: int) -> None:
    """Blobs stored before the streaming writer open, and the writer's blobs are segments of the same format."""
    store = blobs.BlobStore(tmp_path)
    data = os.urandom(size)
    digest = hashlib.sha256(data).hexdigest()
    blob_key = blobs.blob_key_for("jit-demo", KEY, digest)
    store.path(blob_key).parent.mkdir(parents=True)
    store.path(blob_key).write_bytes(_segments_by_hand(blob_key, KEY, data))
    assert b"".join(store.read(blob_key, KEY)) == data
    store.remove(blob_key)
    assert put(store, data) == blob_key
    raw = store.path(blob_key).read_bytes()
    lengths = []
    at = len(blobs.MAGIC)
    while at < len(raw):
        n = int.from_bytes(raw[at + 12 : at + 16], "big")
        lengths.append(n - 16)
        at += 16 + n
    assert lengths == [len(p) for p in ([data[i : i + blobs.SEGMENT] for i in range(0, size, blobs.SEGMENT)] or [b""])]


async def _upload(store: blobs.BlobStore, chunks: list[bytes]) -> str:
    data = b"".join(chunks)
    digest = hashlib.sha256(data).hexdigest()
    w = store.writer("jit-demo", KEY)
    w.declare(digest)
    for chunk in chunks:
        await w.write_async(chunk)
    assert w.received == len(data)
    blob_key, _ = await w.commit_async(digest, len(data))
    return blob_key


def test_an_upload_streamed_off_the_event_loop_round_trips_whatever_the_chunks(tmp_path: Path) -> None:
    """Chunks on and off the segment boundary, a mutable buffer among them (copied, never held)."""
    store = blobs.BlobStore(tmp_path)
    buffer = bytearray(os.urandom(1000))
    chunks = [os.urandom(blobs.SEGMENT), os.urandom(7), bytes(buffer), os.urandom(blobs.SEGMENT - 1), os.urandom(3)]

    async def run() -> list[bytes]:
        blob_key = await _upload(store, [*chunks[:2], buffer, *chunks[3:]])
        return [segment async for segment in store.read_ahead(blob_key, KEY)]

    segments = asyncio.run(run())
    assert b"".join(segments) == b"".join(chunks)
    assert [len(s) for s in segments] == [blobs.SEGMENT, blobs.SEGMENT, sum(map(len, chunks)) - 2 * blobs.SEGMENT]
    assert store.temp_files() == []


def test_a_wrong_digest_streamed_leaves_nothing(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)

    async def run() -> None:
        w = store.writer("jit-demo", KEY)
        w.declare("0" * 64)
        await w.write_async(os.urandom(blobs.SEGMENT + 1))
        await w.commit_async("0" * 64, blobs.SEGMENT + 1)

    with pytest.raises(blobs.DigestMismatch):
        asyncio.run(run())
    assert store.temp_files() == []
    assert not (tmp_path / "blobs").exists() or not any((tmp_path / "blobs").rglob("*"))


def test_aborting_while_a_chunk_is_being_sealed_removes_the_temporary_file(tmp_path: Path) -> None:
    """An upload cut while the worker still seals its last chunk: abort waits for that chunk, then removes."""
    store = blobs.BlobStore(tmp_path)

    async def run() -> None:
        w = store.writer("jit-demo", KEY)
        w.declare("a" * 64)
        for _ in range(3):
            await w.write_async(os.urandom(blobs.SEGMENT))
        w.abort()  # the third chunk may still be in the worker's hands
        w.abort()

    asyncio.run(run())
    assert store.temp_files() == []


class _RecordingHash:
    """A SHA-256 that records the thread of each update."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.threads: list[str] = []

    def update(self, data: bytes | memoryview) -> None:
        self.threads.append(threading.current_thread().name)
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def test_a_streamed_chunk_is_hashed_in_one_thread_while_another_seals_and_writes_it(tmp_path: Path) -> None:
    """The upload's two costs on two threads: SHA-256 on a hasher, sealing and writing on a worker, every
    chunk hashed once and in order (the digest still matches), the loop handing over one job per chunk."""
    store = blobs.BlobStore(tmp_path)
    chunks = [os.urandom(blobs.SEGMENT) for _ in range(3)] + [os.urandom(5)]
    data = b"".join(chunks)
    digest = hashlib.sha256(data).hexdigest()
    sealers: list[str] = []

    async def run() -> str:
        w = store.writer("jit-demo", KEY)
        w.declare(digest)
        recording = _RecordingHash()
        w._hash = recording  # type: ignore[assignment]
        seal = w._seal_held

        def seal_recorded(*, last: bool) -> None:
            sealers.append(threading.current_thread().name)
            seal(last=last)

        w._seal_held = seal_recorded  # type: ignore[method-assign]
        for chunk in chunks:
            await w.write_async(chunk)
        blob_key, _ = await w.commit_async(digest, len(data))
        assert len(recording.threads) == len(chunks)
        assert all(name.startswith("evidence-sha256") for name in recording.threads)
        return blob_key

    blob_key = asyncio.run(run())
    assert sealers[:3] and all(name.startswith("evidence-blobs") for name in sealers)
    assert store.digest(blob_key, KEY) == (digest, len(data))


def test_a_failure_in_the_hash_thread_fails_the_upload_and_leaves_nothing(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)

    class Broken:
        def update(self, data: bytes | memoryview) -> None:
            raise OSError("hash failed")

    async def run() -> None:
        w = store.writer("jit-demo", KEY)
        w.declare("a" * 64)
        w._hash = Broken()  # type: ignore[assignment]
        try:
            await w.write_async(os.urandom(blobs.SEGMENT + 1))
            await w.commit_async("a" * 64, blobs.SEGMENT + 1)
        finally:
            w.abort()

    with pytest.raises(OSError, match="hash failed"):
        asyncio.run(run())
    assert store.temp_files() == []


def test_a_job_already_done_is_taken_without_waking_the_loop_and_one_still_running_is_awaited() -> None:
    """A worker's result one segment ahead is mostly ready: taken at once, no wake-up through the loop's
    self-pipe (``call_soon_threadsafe``); a job still running is awaited; a failure is raised either way."""
    wakeups: list[object] = []

    async def run() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        wake = loop.call_soon_threadsafe

        def counted(*args: object, **kwargs: object) -> object:
            wakeups.append(args[0])
            return wake(*args, **kwargs)  # type: ignore[arg-type]

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        done: concurrent.futures.Future[int] = concurrent.futures.Future()
        done.set_result(1)
        first = await blobs._outcome(done)
        assert wakeups == []
        started = threading.Event()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            running = pool.submit(lambda: started.wait(5) and 2)
            loop.call_later(0.01, started.set)
            second = await blobs._outcome(running)
        assert wakeups  # the loop was woken when the running job finished
        failed: concurrent.futures.Future[int] = concurrent.futures.Future()
        failed.set_exception(OSError("read failed"))
        with pytest.raises(OSError, match="read failed"):
            await blobs._outcome(failed)
        return first, second

    assert asyncio.run(run()) == (1, 2)


def test_a_download_stopped_early_closes_the_blob(tmp_path: Path) -> None:
    """A client that goes away after one segment: the reader one segment ahead is closed, its file too."""
    store = blobs.BlobStore(tmp_path)
    data = os.urandom(3 * blobs.SEGMENT)
    blob_key = put(store, data)

    async def run() -> tuple[bytes, int, int]:
        fds = len(os.listdir("/proc/self/fd"))  # counted once the loop runs: its own descriptors are open
        segments = store.read_ahead(blob_key, KEY)
        first = await anext(segments)
        await segments.aclose()
        # The segment read ahead finishes in its worker, then the file is closed (waited for, not timed).
        for _ in range(1000):
            if len(os.listdir("/proc/self/fd")) == fds:
                break
            await asyncio.sleep(0.01)
        return first, fds, len(os.listdir("/proc/self/fd"))

    first, before, after = asyncio.run(run())
    assert first == data[: blobs.SEGMENT]
    assert after == before


def test_a_changed_blob_fails_authentication_when_read_ahead(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)
    blob_key = put(store, os.urandom(2 * blobs.SEGMENT + 5))
    raw = bytearray(store.path(blob_key).read_bytes())
    raw[-1] ^= 0x80
    store.path(blob_key).write_bytes(bytes(raw))

    async def run() -> int:
        return len([s async for s in store.read_ahead(blob_key, KEY)])

    with pytest.raises(blobs.BlobCorrupt):
        asyncio.run(run())
