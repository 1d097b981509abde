"""Encrypted, content-addressed blob store for evidence items.

Blob names reveal nothing about the content: a blob is named by a keyed hash of its digest
(``blob_name``: HMAC-SHA-256 under a naming key derived from the workspace's data key), so identical
content under one data key still lands in one blob (deduplication), and the item row keeps the blob key,
but whoever lists the blob folder cannot test a guess of the content against a file name.

Envelope encryption: each workspace has a 256-bit data key, stored in the database only wrapped (AES key
wrap, RFC 3394) by the node's key-encryption key (KEK); ``keys.WorkspaceKeys`` creates and opens them with
``jitlib.crypto``. The KEK never enters the database: it is read from ``JIT_EVIDENCE_KEK`` (base64) or the
file ``JIT_EVIDENCE_KEK_FILE``; for local runs it is generated into the state dir, with a warning.

Blob format: ``MAGIC`` then segments, each ``nonce (12) | length (4, big endian) | ciphertext+tag``, the
plaintext of a segment at most ``SEGMENT`` bytes. Each segment is sealed with AES-256-GCM under the
workspace's data key, with associated data binding the blob's key (workspace and digest), the segment's
index and whether it is the last one: reordering, dropping, truncating or moving segments between blobs
fails authentication. Memory stays bounded by two segments whatever the item's size.

An upload is written to ``tmp/`` and renamed into place only once the computed SHA-256 and size match the
declared ones, so a failed or cut upload leaves no blob behind (``abort`` removes the temporary file); the
rename is made durable with its folder (fsynced) before the item's row is written.

A blob is never removed on a call's path: a failed write of the item's row (or a cancelled call, whose write
may still commit on PostgreSQL) leaves its blob, which another upload of the same content may be about to
use. ``BlobSweep`` removes, in the background, the blobs no item names once their file is older than a grace
period (an upload that finds its blob there already touches it, so the period starts again), and the
temporary files of uploads that stopped long ago.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import ctypes
import errno
import fcntl
import hashlib
import hmac
import io
import logging
import mmap
import os
import secrets
import shutil
import struct
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jitlib.periodic import Periodic

log = logging.getLogger(__name__)
_T = TypeVar("_T")

MAGIC = b"JITEVB1\n"
SEGMENT = 1024 * 1024
_NONCE = 12
_TAG = 16
_HEADER = struct.Struct(">I")
#: The longest prefix ``BlobStore.read`` puts in front of a segment (a protobuf field's tag and length).
PREFIX_MAX = 16
#: Where the file system does not take O_DIRECT (``_BlobFile``), an upload's written bytes are handed to the
#: kernel's writeback every this many bytes (a hint, not a sync: ``commit``'s one fsync is what makes the blob
#: durable; it then waits only for the last few MiB).
WRITEBACK_EVERY = 8 * SEGMENT
#: O_DIRECT transfers start and end on the file system's block boundaries, from memory aligned the same way;
#: 4 KiB is a multiple of the usual logical block sizes (512 and 4096 bytes).
_ALIGN = 4096
#: A download reads the blob this many bytes at a time (block-aligned) when it reads around the page cache,
_READ_BLOCK = 2 * SEGMENT
#: and keeps this many such reads going ahead of the block it is opening (``_DirectReader``).
_READS_AHEAD = 2
#: A blob no item names, and an upload's temporary file, are removed once untouched for this long
#: (``BlobSweep``): far longer than an upload takes from its blob's commit to its row's.
ORPHAN_GRACE = 3600.0
#: The suffix of a blob ``BlobStore.remove_if_stale`` has moved aside while it decides.
_SWEPT = ".swept"
#: The threads that seal and write uploads off the event loop.
_WORKERS = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="evidence-blobs")
#: The threads that hash an upload's chunk while a worker seals and writes the same chunk (their own pool: a
#: worker waits for its hash, and a hash never waits for anything, so neither pool can starve the other).
_HASHERS = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="evidence-sha256")
#: The threads that read a download's blocks from the disk ahead of the segment being opened (``_DirectReader``;
#: a read never waits for anything, so these can never starve each other).
_READERS = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="evidence-reads")


#: glibc's ``mallopt`` parameters (malloc.h): the size from which an allocation is a mapping of its own,
_M_MMAP_THRESHOLD = -3
#: and how much free memory at the top of the heap is kept rather than handed back to the system.
_M_TRIM_THRESHOLD = -1
#: What ``keep_freed_memory`` sets them to: above the largest message (an upload's chunk is at most 1 MiB, a
#: download's segment 1 MiB, the receive limit 8 MiB: 4 MiB covers the chunks and segments, and a larger
#: message is rare enough to map), and room for the few MiB a transfer frees and allocates again.
MMAP_THRESHOLD = 4 * 1024 * 1024
TRIM_THRESHOLD = 32 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Have the C library's allocator (glibc) keep the memory a transfer frees, for the next message, instead
    of handing it back to the system at once: every message of an upload arrives in a new MiB buffer, and by
    default freeing a few of them shrank the heap, so the next ones were fresh pages, each zeroed at its first
    touch (and on this virtual machine, given back to the host and fetched again): 160-250 page faults per MiB
    received, a fifth of the service's CPU per MiB (bench/README.md). Process-wide; False where the C library
    has no ``mallopt`` or refuses (not glibc), which changes nothing else."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


class BlobCorrupt(Exception):
    """A stored blob does not decrypt: it was changed, truncated or belongs elsewhere."""


class DigestMismatch(Exception):
    """The uploaded bytes are not the declared ones."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _aad(blob_key: str, index: int, last: bool) -> bytes:
    return b"jit-evidence:" + blob_key.encode() + struct.pack(">QB", index, 1 if last else 0)


def data_key_id(data_key: bytes) -> str:
    """A fingerprint of a data key (not the key): blobs are addressed per key, so identical content is only
    shared between items sealed under the same key (a rotated or re-created key never meets old blobs)."""
    return hashlib.sha256(b"jit-evidence-data-key:" + data_key).hexdigest()[:16]


def blob_name(data_key: bytes, sha256_hex: str) -> str:
    """The file name of the blob holding the content with digest ``sha256_hex`` under ``data_key``: a keyed
    hash (HMAC-SHA-256 under a naming key derived from the data key, never the data key itself), so the
    name says nothing about the content to whoever does not hold the workspace's data key."""
    naming_key = hmac.new(data_key, b"jit-evidence-blob-names", hashlib.sha256).digest()
    return hmac.new(naming_key, b"sha256:" + sha256_hex.encode(), hashlib.sha256).hexdigest()


def blob_key_for(workspace_id: str, data_key: bytes, sha256_hex: str) -> str:
    name = blob_name(data_key, sha256_hex)
    return f"{workspace_id}/{data_key_id(data_key)}/{name[:2]}/{name}"


def _refused_direct(exc: OSError) -> bool:
    """Whether a transfer failed because the file system refuses O_DIRECT for it (it took the flag at open:
    a block larger than ``_ALIGN``, or a file system that only checks when it transfers)."""
    return exc.errno == errno.EINVAL


def _through_the_cache(fd: int) -> None:
    """Turn O_DIRECT off on an open file (Linux allows it with F_SETFL): its next transfers go through the
    page cache."""
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)


class _Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


class _Buffers:
    """Page-aligned buffers of ``_READ_BLOCK`` bytes, kept for the next download when one is done (at most
    ``kept`` of them): memory given back is soon handed on to the virtual machine's host, and fresh memory
    costs its first touch again (a download's three fresh buffers cost about 0.1 ms of CPU per MiB of a
    100 MiB item here: bench/README.md)."""

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._free: list[memoryview] = []
        self._lock = threading.Lock()

    def take(self) -> memoryview:
        with self._lock:
            if self._free:
                return self._free.pop()
        return memoryview(mmap.mmap(-1, _READ_BLOCK))  # anonymous memory: page-aligned

    def give_back(self, buffer: memoryview) -> None:
        with self._lock:
            if len(self._free) < self._kept:
                self._free.append(buffer)


#: Enough for four downloads at once (12 blocks, 24 MiB), however many have run before.
_BUFFERS = _Buffers(4 * (_READS_AHEAD + 1))


class _DirectReader:
    """A blob read around the page cache (O_DIRECT), as a raw file: ``readinto`` copies out of page-aligned
    blocks of ``_READ_BLOCK`` bytes that the disk fills in ``_READERS`` threads, up to ``_READS_AHEAD`` blocks
    ahead of the one being read out, so that the disk works while the caller opens and sends what it read
    (each read waited for in turn left the disk idle meanwhile, and the disk alone reads about as fast as the
    rest of a download goes: bench/README.md). A blob is written around the cache (``_BlobFile``), so reading
    it through the cache would take and fill new pages for it on every download, the cost the upload no longer
    pays."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._size = os.fstat(fd).st_size
        self._next = 0  # the offset of the next block to ask for
        # Each block is read into one of these (anonymous memory: page-aligned), in turn.
        self._reads: collections.deque[tuple[memoryview, concurrent.futures.Future[int]]] = collections.deque()
        for _ in range(_READS_AHEAD + 1):
            self._ask(_BUFFERS.take())
        self._block: memoryview | None = None  # the block being read out
        self._rest = memoryview(b"")  # the bytes of that block not read out yet

    def _ask(self, buffer: memoryview) -> None:
        """Have the next block of the file read into ``buffer``, unless the file ends before it."""
        if self._next >= self._size:
            _BUFFERS.give_back(buffer)
            return
        self._reads.append((buffer, _READERS.submit(self._read_block, buffer, self._next)))
        self._next += len(buffer)

    def _read_block(self, buffer: memoryview, offset: int) -> int:
        try:
            return os.preadv(self._fd, [buffer], offset)
        except OSError as exc:
            if not _refused_direct(exc):
                raise
            _through_the_cache(self._fd)  # and read the same block again, through the cache
            return os.preadv(self._fd, [buffer], offset)

    def reading(self, n: int) -> concurrent.futures.Future[int] | None:
        """The read still under way that reading the next ``n`` bytes (at most a block) would wait for; None
        when they are here (or the file ends before them)."""
        if len(self._rest) >= n or not self._reads:
            return None
        job = self._reads[0][1]
        return None if job.done() else job

    def readinto(self, buffer: memoryview, /) -> int:
        if not self._rest:
            if self._block is not None:
                self._ask(self._block)  # read out: it takes the block after those asked for already
                self._block = None
            if not self._reads:
                return 0
            self._block, job = self._reads.popleft()
            self._rest = self._block[: job.result()]
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n

    def __enter__(self) -> _DirectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the file and give the buffers back once no read is filling one or reading the file: at once,
        or when the last read still under way ends (never waited for here: the event loop may be closing)."""
        buffers = [buffer for buffer, _ in self._reads] + ([self._block] if self._block is not None else [])
        jobs = [job for _, job in self._reads if not job.cancel() and not job.done()]  # the ones running
        self._reads.clear()
        self._block = None
        left = [len(jobs)]
        lock = threading.Lock()

        def release(_job: object = None) -> None:
            with lock:
                left[0] -= 1
                if left[0] > 0:
                    return
            os.close(self._fd)
            for buffer in buffers:
                _BUFFERS.give_back(buffer)

        if not jobs:
            left[0] = 1
            release()
        for job in jobs:
            job.add_done_callback(release)


def _open_blob(path: Path) -> _DirectReader | io.FileIO:
    """The blob at ``path``, read around the page cache where the file system allows it, else through it."""
    direct = getattr(os, "O_DIRECT", 0)
    if direct:
        try:
            return _DirectReader(os.open(path, os.O_RDONLY | direct | getattr(os, "O_CLOEXEC", 0)))
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
    return io.FileIO(path, "rb")


def _reading(fh: _Readable, n: int) -> concurrent.futures.Future[int] | None:
    """What reading the next ``n`` bytes of ``fh`` would wait for (``_DirectReader.reading``); a file read
    through the page cache has nothing to wait for in advance."""
    return fh.reading(n) if isinstance(fh, _DirectReader) else None


def _read_into(fh: _Readable, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``fh``; the number of bytes read (fewer only at the end of the file)."""
    filled = 0
    while filled < len(buffer):
        n = fh.readinto(buffer[filled:])
        if not n:
            break
        filled += n
    return filled


def _read_exactly(fh: _Readable, size: int) -> bytes:
    buffer = bytearray(size)
    return bytes(buffer[: _read_into(fh, memoryview(buffer))])


def _immutable(data: bytes | memoryview) -> bytes | memoryview:
    """``data`` as it is when its bytes cannot change (bytes, or a view of bytes: a chunk as received), else
    a copy."""
    if isinstance(data, bytes) or (isinstance(data, memoryview) and isinstance(data.obj, bytes)):
        return data
    return bytes(data)


async def _outcome(job: concurrent.futures.Future[_T]) -> _T:
    """A worker's result: taken at once when the job is already done (as it mostly is: a chunk is hashed,
    sealed and written before the next one arrives), else awaited. Wrapping a done job would still cost the
    loop a wake-up through its self-pipe."""
    if job.done():
        return job.result()
    return await asyncio.wrap_future(job)


def _fsync_dir(path: Path) -> None:
    """Make the entries of the folder ``path`` durable (a file renamed or created in it)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the folders whose entries changed (to fsync): ``folder``
    itself first (the caller is about to add a file to it), then the parent of each one created."""
    created = []
    d = folder
    while not d.exists():
        created.append(d)
        d = d.parent
    folder.mkdir(parents=True, exist_ok=True)
    return [folder, *(c.parent for c in created)]


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, blob_key: str) -> Path:
        return self.root / "blobs" / blob_key

    def exists(self, blob_key: str) -> bool:
        return self.path(blob_key).exists()

    def writer(self, workspace_id: str, data_key: bytes) -> BlobWriter:
        return BlobWriter(self, workspace_id, data_key)

    def read(
        self, blob_key: str, data_key: bytes, prefix: Callable[[int], bytes] | None = None
    ) -> Generator[bytes, None, None]:
        """Decrypt segment by segment; raises BlobCorrupt on any change. With ``prefix``, each segment comes
        with ``prefix(len(segment))`` (at most ``PREFIX_MAX`` bytes) in front of it, in the same bytes: the
        segment is opened into a reused buffer behind its prefix, and copied out once, with it."""
        for part in self._segments(blob_key, data_key, prefix):
            if isinstance(part, bytes):
                yield part
            else:
                concurrent.futures.wait([part])

    async def read_ahead(
        self, blob_key: str, data_key: bytes, prefix: Callable[[int], bytes] | None = None
    ) -> AsyncGenerator[bytes, None]:
        """``read`` for the event loop: the disk's reads run in threads ahead of the segment being opened
        (``_DirectReader``), and the loop waits for one, without blocking, only when the next segment's bytes
        have not arrived yet; it opens each segment itself (AES-GCM lets go of the GIL, a fraction of a
        millisecond per segment), which costs less than handing every segment to a thread and back. Raises
        BlobCorrupt as ``read`` does."""
        parts = self._segments(blob_key, data_key, prefix)
        try:
            for part in parts:
                if isinstance(part, bytes):
                    yield part
                else:
                    await asyncio.wait([asyncio.wrap_future(part)])  # its failure is raised by the next part
        finally:
            parts.close()

    def _segments(
        self, blob_key: str, data_key: bytes, prefix: Callable[[int], bytes] | None
    ) -> Generator[bytes | concurrent.futures.Future[int], None, None]:
        """The opened segments of ``read``, with, before any whose bytes are still being read from the disk,
        that read (to wait for before the next part is asked for)."""
        path = self.path(blob_key)
        aead = AESGCM(data_key)
        try:
            fh = _open_blob(path)
        except FileNotFoundError as exc:
            raise BlobCorrupt(f"blob {blob_key} is missing") from exc
        sealed = bytearray(SEGMENT + _TAG)  # each segment's ciphertext is read into this one buffer
        opened = bytearray(PREFIX_MAX + SEGMENT)  # and opened into this one, behind its prefix
        with fh:
            while (reading := _reading(fh, len(MAGIC) + _NONCE + _HEADER.size)) is not None:
                yield reading
            if _read_exactly(fh, len(MAGIC)) != MAGIC:
                raise BlobCorrupt("not an evidence blob (bad header)")
            index = 0
            header = _read_exactly(fh, _NONCE + _HEADER.size)
            while header:
                if len(header) != _NONCE + _HEADER.size:
                    raise BlobCorrupt(f"segment {index} is truncated")
                nonce, (length,) = header[:_NONCE], _HEADER.unpack(header[_NONCE:])
                if not _TAG <= length <= SEGMENT + _TAG:
                    raise BlobCorrupt(f"segment {index} has an impossible length")
                while (reading := _reading(fh, length + _NONCE + _HEADER.size)) is not None:
                    yield reading
                ct = memoryview(sealed)[:length]
                if _read_into(fh, ct) != length:
                    raise BlobCorrupt(f"segment {index} is truncated")
                header = _read_exactly(fh, _NONCE + _HEADER.size)
                last = not header
                size = length - _TAG
                try:
                    aead.decrypt_into(
                        nonce, ct, _aad(blob_key, index, last), memoryview(opened)[PREFIX_MAX : PREFIX_MAX + size]
                    )
                except InvalidTag as exc:
                    raise BlobCorrupt(f"segment {index} fails authentication (changed, moved or truncated)") from exc
                front = prefix(size) if prefix is not None else b""
                start = PREFIX_MAX - len(front)
                opened[start:PREFIX_MAX] = front
                yield bytes(memoryview(opened)[start : PREFIX_MAX + size])
                index += 1
            if index == 0:
                raise BlobCorrupt("blob has no segment")

    def digest(self, blob_key: str, data_key: bytes) -> tuple[str, int]:
        """Decrypt the whole blob and return (sha256 hex, size) of the plaintext."""
        h = hashlib.sha256()
        size = 0
        for chunk in self.read(blob_key, data_key):
            h.update(chunk)
            size += len(chunk)
        return h.hexdigest(), size

    def remove(self, blob_key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(blob_key).unlink()

    def temp_files(self) -> list[Path]:
        return sorted(self.tmp.glob("*.part"))

    # -- clean-up (``BlobSweep``, retention) ----------------------------------------------------------

    def stale(self, cutoff: float) -> list[str]:
        """The keys of the blobs whose file was last written or touched (``BlobWriter.commit``) before
        ``cutoff`` (seconds since the epoch)."""
        top = self.root / "blobs"
        out = []
        for folder, _subfolders, names in os.walk(top):
            for name in names:
                if name.endswith(_SWEPT):
                    continue
                path = Path(folder, name)
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < cutoff:
                        out.append(path.relative_to(top).as_posix())
        return sorted(out)

    def remove_if_stale(self, blob_key: str, cutoff: float) -> bool:
        """Remove the blob ``blob_key`` if its file is still untouched since before ``cutoff``; whether it was.
        The caller found no item naming it. The file is first moved aside (atomically): an upload of the same
        content that touched it meanwhile (it was about to name it) is seen on the moved file, which is then put
        back; an upload that looks for it after the move writes its own copy."""
        final = self.path(blob_key)
        aside = final.with_name(final.name + _SWEPT)
        try:
            os.replace(final, aside)
        except FileNotFoundError:
            return False
        if aside.stat().st_mtime < cutoff:
            aside.unlink()
            return True
        self._put_back(aside, final)
        return False

    @staticmethod
    def _put_back(aside: Path, final: Path) -> None:
        with contextlib.suppress(FileExistsError):  # a new copy of the same content is there already
            os.link(aside, final)
        aside.unlink()

    def put_back_swept(self) -> int:
        """Put back the blobs a stopped sweep left moved aside (``remove_if_stale``), for the next sweep to
        judge again; how many."""
        n = 0
        for aside in (self.root / "blobs").rglob("*" + _SWEPT):
            self._put_back(aside, aside.with_name(aside.name.removesuffix(_SWEPT)))
            n += 1
        return n

    def remove_stale_parts(self, cutoff: float) -> int:
        """Remove the temporary files of uploads that wrote nothing since before ``cutoff`` (a process that
        stopped mid-upload left them); how many."""
        n = 0
        for part in self.temp_files():
            with contextlib.suppress(FileNotFoundError):
                if part.stat().st_mtime < cutoff:
                    part.unlink()
                    n += 1
        return n

    def remove_workspace(self, workspace_id: str) -> int:
        """Remove every blob file of a workspace whose key is destroyed (retention), those no item names
        included; how many were there."""
        top = self.root / "blobs"
        folder = top / workspace_id
        if not workspace_id or folder.parent != top or workspace_id in (".", ".."):
            raise ValueError("not a workspace id")
        if not folder.is_dir():
            return 0
        n = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return n


class BlobSweep(Periodic):
    """The evidence service's background job, at start and every ``interval`` seconds: removes the blobs no
    item names (``in_use``: of the keys given, those an item row names, asked of the database) whose file was
    last written or touched more than ``grace`` seconds ago, and the temporary files of uploads untouched as
    long. An upload in flight is safe: its temporary file is written as the bytes arrive; the blob it
    committed (or found, and touched) is younger than ``grace`` until its row is written."""

    def __init__(
        self,
        blob_store: BlobStore,
        in_use: Callable[[Sequence[str]], Awaitable[set[str]]],
        *,
        grace: float = ORPHAN_GRACE,
        interval: float = ORPHAN_GRACE,
        batch: int = 500,
    ) -> None:
        super().__init__(interval, "evidence-blob-sweep")
        self.store = blob_store
        self.in_use = in_use
        self.grace = grace
        self.batch = batch

    async def run_pass(self) -> int:
        return await self.sweep_once()

    async def sweep_once(self) -> int:
        """One pass; how many files it removed."""
        cutoff = time.time() - self.grace
        removed = await asyncio.to_thread(self.store.remove_stale_parts, cutoff)
        await asyncio.to_thread(self.store.put_back_swept)
        candidates = await asyncio.to_thread(self.store.stale, cutoff)
        for at in range(0, len(candidates), self.batch):
            keys = candidates[at : at + self.batch]
            used = await self.in_use(keys)
            unused = [k for k in keys if k not in used]
            if unused:
                removed += await asyncio.to_thread(self._remove_if_stale, unused, cutoff)
        if removed:
            log.info("evidence blob sweep: %d files no item needs removed", removed)
        return removed

    def _remove_if_stale(self, blob_keys: Sequence[str], cutoff: float) -> int:
        return sum(self.store.remove_if_stale(k, cutoff) for k in blob_keys)


class _BlobFile:
    """The temporary file an upload writes, written around the page cache where the file system allows it
    (O_DIRECT): the disk reads each sealed segment from the writer's own buffer, so no page of the cache is
    taken and filled for a blob that is written once and read seldom (filling new pages cost 2.4-2.9 ms of CPU
    per MiB on the shared virtual machine, more than all the upload's other steps together: bench/README.md),
    and ``close_durable``'s fsync has no data left to wait for. Elsewhere (EINVAL: tmpfs, some network file
    systems) it writes through the page cache, as before; so does a file whose file system took O_DIRECT at
    open but refuses a write (``_through_the_cache``), from that write on.

    Bytes are staged in one page-aligned buffer: ``reserve`` hands out its next bytes to fill (a segment is
    sealed straight into them), ``flush`` writes the whole blocks staged and keeps the rest (less than a block)
    at the front, and ``close_durable`` writes that last piece padded to a block, cuts the file back to its
    length and fsyncs it."""

    def __init__(self, path: Path, capacity: int) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        direct = getattr(os, "O_DIRECT", 0)
        self.direct = False
        self.fd = -1
        if direct:
            try:
                self.fd = os.open(path, flags | direct, 0o666)
                self.direct = True
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
        if self.fd < 0:
            self.fd = os.open(path, flags, 0o666)
        self._stage = memoryview(mmap.mmap(-1, capacity + _ALIGN))  # anonymous memory: page-aligned
        self._staged = 0  # bytes staged, not written yet
        self.size = 0  # bytes of the file: written and staged
        self.written = 0  # bytes written to the file

    def reserve(self, n: int) -> memoryview:
        """The next ``n`` bytes of the file, to fill before the next ``flush``."""
        view = self._stage[self._staged : self._staged + n]
        self._staged += n
        self.size += n
        return view

    def flush(self) -> None:
        """Write what is staged: the whole blocks of it when direct, the rest stays staged."""
        whole = self._staged - self._staged % _ALIGN if self.direct else self._staged
        if not whole:
            return
        self._write(self._stage[:whole])
        rest = self._staged - whole  # less than a block, so never overlapping what it is moved onto
        self._stage[:rest] = self._stage[whole : self._staged]
        self._staged = rest

    def _write(self, data: memoryview) -> None:
        while data:
            try:
                n = os.write(self.fd, data)
            except OSError as exc:
                if not (self.direct and _refused_direct(exc)):
                    raise
                _through_the_cache(self.fd)  # nothing was written: write it again, and the rest, through the cache
                self.direct = False
                continue
            self.written += n
            data = data[n:]

    def close_durable(self) -> None:
        """Write the rest (padded to a block when direct, then cut back off the file), fsync, close."""
        if self.direct and self._staged:
            padded = self._staged + (-self._staged) % _ALIGN
            self._stage[self._staged : padded] = bytes(padded - self._staged)
            self._write(self._stage[:padded])
            os.ftruncate(self.fd, self.size)
        else:
            self._write(self._stage[: self._staged])
        self._staged = 0
        os.fsync(self.fd)
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


class BlobWriter:
    """Streams plaintext in, writes encrypted segments to a temporary file, hashes as it goes.

    Segments are bound to the blob key named by the *declared* digest (checked against the computed one in
    ``commit``); the last segment is held back until ``commit`` so it can be sealed with the last flag.

    Each byte is touched once on its way in: hashed, then sealed from the chunk it arrived in (a segment is
    only joined from pieces when the chunks do not fall on its boundary) into the file's reused staging
    buffer, from which the disk takes it (``_BlobFile``); no growing buffer, no copy per segment.
    ``write_async`` does this off the event loop while the caller receives the next chunk, one chunk at a
    time, so memory stays bounded by a few segments: a worker thread seals and writes the chunk while
    another hashes it (SHA-256 and AES-GCM release the GIL, so the two run at once on two cores). The file is
    fsynced once, in ``commit``; where it is written through the page cache, every ``WRITEBACK_EVERY`` bytes
    the kernel is asked to start writing them out meanwhile.
    """

    def __init__(self, store: BlobStore, workspace_id: str, data_key: bytes) -> None:
        self._store = store
        self._workspace = workspace_id
        self._data_key = data_key
        self._aead = AESGCM(data_key)
        self._hash = hashlib.sha256()
        self.size = 0
        #: Bytes handed to ``write_async``, counted as they arrive (``size`` counts what was hashed).
        self.received = 0
        self._held: list[memoryview] = []  # plaintext not sealed yet: at most one segment
        self._held_size = 0
        self._index = 0
        self._blob_key = ""
        self._job: concurrent.futures.Future[None] | None = None
        self.tmp_path = store.tmp / f"{uuid.uuid4().hex}.part"
        self._file = _BlobFile(self.tmp_path, _NONCE + _HEADER.size + SEGMENT + _TAG)
        self._file.reserve(len(MAGIC))[:] = MAGIC
        self._hinted = 0  # the first byte not yet handed to the kernel's writeback (not direct)
        self._done = False

    def declare(self, sha256_hex: str) -> None:
        """The digest the client declared; segments are bound to the blob key it names."""
        self._blob_key = blob_key_for(self._workspace, self._data_key, sha256_hex)

    def write(self, data: bytes | memoryview) -> None:
        if not self._blob_key:
            raise RuntimeError("declare() the digest first")
        data = _immutable(data)  # held below until sealed: never a buffer its owner may change meanwhile
        self._hash_chunk(data)
        self._segment_chunk(data)

    def _hash_chunk(self, data: bytes | memoryview) -> None:
        self._hash.update(data)
        self.size += len(data)

    def _write_hashing_aside(self, data: bytes | memoryview) -> None:
        """``write`` with the hash in a thread of its own, at the same time as the sealing and writing here
        (both only read ``data``); returns once both are done, the first failure raised."""
        hashed = _HASHERS.submit(self._hash_chunk, data)
        try:
            self._segment_chunk(data)
        finally:
            hashed.result()

    def _segment_chunk(self, data: bytes | memoryview) -> None:
        """Cut ``data`` into segments, sealing and writing each one filled (``data`` must not change)."""
        view = memoryview(data)
        while view:
            # Keep at least one byte back: the last segment is only sealed in commit(), flagged as last.
            if self._held_size == SEGMENT:
                self._seal_held(last=False)
            take = min(SEGMENT - self._held_size, len(view))
            self._held.append(view[:take])
            self._held_size += take
            view = view[take:]

    def _seal_held(self, *, last: bool) -> None:
        plaintext = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        nonce = secrets.token_bytes(_NONCE)
        length = self._held_size + _TAG
        header = self._file.reserve(_NONCE + _HEADER.size)
        header[:_NONCE] = nonce
        _HEADER.pack_into(header, _NONCE, length)
        sealed = self._file.reserve(length)
        self._aead.encrypt_into(nonce, plaintext, _aad(self._blob_key, self._index, last), sealed)
        self._held.clear()
        self._held_size = 0
        self._index += 1
        if last:  # commit writes it, with the rest
            return
        self._file.flush()
        if not self._file.direct and self._file.written - self._hinted >= WRITEBACK_EVERY:
            self._start_writeback()

    def _start_writeback(self) -> None:
        """Ask the kernel to start writing what was written since the last time (POSIX_FADV_DONTNEED starts
        the writeback of dirty pages without waiting for it, and drops only pages already clean), so that
        the disk works while the next chunks arrive and ``commit``'s fsync finds little left to write."""
        if not hasattr(os, "posix_fadvise"):
            return
        written = self._file.written
        os.posix_fadvise(self._file.fd, self._hinted, written - self._hinted, os.POSIX_FADV_DONTNEED)
        self._hinted = written

    async def write_async(self, data: bytes | memoryview) -> None:
        """``write`` in a worker thread, overlapped with whatever the caller does until its next call: it
        waits for the previous chunk first, so one chunk at a time is in the worker's hands. A failure of
        a chunk is raised by the next call (or by ``commit_async``)."""
        await self._finish_job()
        if not self._blob_key:
            raise RuntimeError("declare() the digest first")
        self.received += len(data)
        # Copied now if its owner may change it; hashed in one thread while sealed and written in another.
        self._job = _WORKERS.submit(self._write_hashing_aside, _immutable(data))

    async def _finish_job(self) -> None:
        if self._job is not None:
            await _outcome(self._job)
            self._job = None

    async def commit_async(self, declared_sha256: str, declared_size: int) -> tuple[str, bool]:
        """``commit`` once the last chunk is written, in a worker thread (the fsync)."""
        await self._finish_job()
        return await asyncio.wrap_future(_WORKERS.submit(self.commit, declared_sha256, declared_size))

    def commit(self, declared_sha256: str, declared_size: int) -> tuple[str, bool]:
        """Check the digest and size; rename into place. Returns (blob key, whether a blob with the same
        content already existed, in which case the new copy is dropped). Raises DigestMismatch and
        removes the temporary file when the bytes are not the declared ones."""
        try:
            if self.size != declared_size:
                raise DigestMismatch("metadata.size_bytes", f"received {self.size} bytes, declared {declared_size}")
            digest = self._hash.hexdigest()
            if digest != declared_sha256:
                raise DigestMismatch(
                    "metadata.sha256", f"the received bytes have SHA-256 {digest}, not the declared one"
                )
            self._seal_held(last=True)
            self._file.close_durable()
            final = self._store.path(self._blob_key)
            changed = _make_dirs(final.parent)
            try:
                # The same content is there: touched, so that the sweep leaves it to the row about to name it
                # (``BlobSweep``; one that moved it aside meanwhile puts it back when it sees the touch).
                os.utime(final)
                existed = True
            except FileNotFoundError:
                existed = False
            if existed:
                self.tmp_path.unlink()
            else:
                os.replace(self.tmp_path, final)
                for folder in changed:  # the rename (and any new folder) durable before the row names it
                    _fsync_dir(folder)
            self._done = True
            return self._blob_key, existed
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Forget the upload: close and remove the temporary file. Safe to call twice, and while a chunk is
        still in the worker's hands (it waits for that chunk, at most one segment's work)."""
        if self._done:
            return
        self._done = True
        job, self._job = self._job, None
        if job is not None and not job.cancel():
            with contextlib.suppress(BaseException):
                job.result()
        with contextlib.suppress(Exception):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp_path.unlink()
