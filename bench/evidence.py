"""Evidence benchmark: upload and download throughput of an evidence item next to a plain file copy of the
same bytes, and CreateRequest latency next to the bare grpc.aio echo floor, in interleaved trials (floor,
subject, floor, subject, ...; ``--trials``, 5 by default). Each figure is the median of its trials, printed
with their spread (lowest..highest):

    BENCH evidence_grpc_echo_floor_c1 p50_ms=<x> spread_ms=<a..b> ratio_p50=1.00 trials=<n>
    BENCH create_evidence_request_sqlite_c1 p50_ms=<x> spread_ms=<a..b> p99_ms=<y> ratio_p50=<x / echo p50> trials=<n>
    BENCH evidence_file_copy mb_s=<n> spread_mb_s=<a..b> trials=<n>
    BENCH evidence_file_copy_fsync mb_s=<n> spread_mb_s=<a..b> trials=<n>  (a second floor, not the ratio's)
    BENCH evidence_grpc_stream_floor_up mb_s=<n> spread_mb_s=<a..b> ratio=<n / file copy> trials=<n>
    BENCH evidence_grpc_stream_floor_down mb_s=<n> spread_mb_s=<a..b> ratio=<n / file copy> trials=<n>
    BENCH evidence_grpc_stream_floor_up_<variant> ... (and _down_<variant>): the bare stream with one setting
        changed (``FLOOR_VARIANTS``: msg2m, msg3m, msg4m, msg7m, nobdp, window8m, frame1m, readchunk, sizes,
        sync_server, aio_client, streams2; ``--floors``)
    BENCH evidence_upload_sqlite mb_s=<n> spread_mb_s=<a..b> ratio=<n / file copy> trials=<n>
    BENCH evidence_download_sqlite mb_s=<n> spread_mb_s=<a..b> ratio=<n / file copy> trials=<n>
    BENCH evidence_download_received_sqlite mb_s=<n> spread_mb_s=<a..b> ratio=<n / file copy> trials=<n>
        (the same download, the client dropping each chunk instead of writing the file: the service's part)
    BENCH evidence_upload_as_cli_sqlite ... and evidence_download_as_cli_sqlite ...: what a user of ``jit
        evidence upload|download`` waits for: the upload with the file's digest computed first (the figures
        above start the clock after it), the download with each chunk hashed as it arrives

then ``#`` lines: the same throughputs next to the bare gRPC stream, the CPU time per MiB of the
service and of the bare stream server (Linux ``/proc``), which a busy machine stretches far less than the
wall time, each step the service does to the bytes timed alone on the trial's bytes (``step_costs``), and
the ceilings this run's figures put on an upload (SHA-256 of one stream on one core; the CPU per MiB of the
service and the client on two cores) and a download (the bare stream down) (``ceilings_line``).
``--profile`` samples the service with py-spy during the first upload and download and prints where the
samples fell (the raw stacks stay in the run's folder).

The upload path measured is the real one: token check, policy, the stream of 1 MiB chunks (sent as the CLI
sends them, ``jitcli.evidence_cmd.upload_messages``) each hashed with SHA-256 and sealed with AES-256-GCM
(1 MiB segments) into a temporary file in a worker thread while the next chunk arrives, the digest check,
one fsync, the rename, and one transaction writing the item, its first custody entry, the outbox event and
the audit entry. The download records its custody entry, then opens each segment on the event loop while
threads read the next blocks from the disk; the client reads each chunk as the CLI does. Every trial moves new
bytes (the store keeps one blob per content). The service runs in its own process; so does the bare
stream server (``serve-stream``: the transport alone, same message sizes).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import hashlib
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench.run import ISSUER, announce_workspace, bench_echo, make_key, measure, percentile, start
from jit.evidence.v1 import evidence_pb2 as pb
from jit.evidence.v1 import evidence_pb2_grpc
from jitcli.evidence_cmd import download_call, receive_item, upload_call, upload_messages
from jitcli.files import file_sha256
from jitdev.nats import NatsInstance
from jitdev.procs import free_port, spawn, terminate, wait_until
from jitdev.stack import _grpc_healthy
from services.evidence import blobs

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024
CHUNK = MiB  # the largest chunk UploadItem takes (domain.CHUNK_MAX), as the CLI sends


def _request(i: int) -> pb.CreateRequestRequest:
    return pb.CreateRequestRequest(
        request_id=str(uuid.uuid4()),
        workspace_id="jit-bench",
        legal_basis=pb.LEGAL_BASIS_EPOC,
        epoc_procedure=pb.EPOC_PROCEDURE_STANDARD,
        issuing_authority="Openbaar Ministerie",
        addressee_kind=pb.ADDRESSEE_KIND_SERVICE_PROVIDER,
        addressee_jurisdiction="IE",
        provider_name="SocialNet Ireland Ltd",
        data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
        targets=[pb.TargetIdentifier(type=pb.TARGET_TYPE_ACCOUNT_HANDLE, value=f"@harasser_{i}")],
        offence_category=pb.OFFENCE_CATEGORY_CYBERSTALKING,
        title=f"Subscriber data {i}",
    )


async def bench_create(port: int, token: str, total: int) -> tuple[float, list[float]]:
    md = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = evidence_pb2_grpc.EvidenceServiceStub(ch)

        async def create(i: int) -> object:
            return await stub.CreateRequest(_request(i), metadata=md, timeout=30)

        await measure(create, 100, 1)  # warm-up
        return await measure(create, total, 1)


def new_request_in_execution(stub: evidence_pb2_grpc.EvidenceServiceStub, md: tuple[tuple[str, str], ...]) -> str:
    """A provider request the issuer has issued, acknowledged and started executing: it receives items."""
    r = stub.CreateRequest(_request(0), metadata=md, timeout=30).request
    stub.IssueRequest(pb.IssueRequestRequest(id=r.id), metadata=md, timeout=30)
    stub.AcknowledgeRequest(pb.AcknowledgeRequestRequest(id=r.id), metadata=md, timeout=30)
    stub.StartExecution(pb.StartExecutionRequest(id=r.id), metadata=md, timeout=30)
    return str(r.id)


def upload(
    channel: grpc.Channel, md: tuple[tuple[str, str], ...], request_id: str, path: Path
) -> tuple[str, float, float, float]:
    """Upload ``path`` as a new item, as the CLI does (``jitcli.evidence_cmd``: the file's digest first,
    ``jitcli.files.file_sha256``, then the stream, ``upload_messages``: chunks of 1 MiB, sent serialized); (item id, the
    stream's seconds, the client's CPU seconds for the stream: this process, all its threads, the digest's
    seconds before it)."""
    t0 = time.perf_counter()
    sha256, size = file_sha256(path), path.stat().st_size
    digest_secs = time.perf_counter() - t0
    meta = pb.ItemMetadata(
        request_id=str(uuid.uuid4()),
        evidence_request_id=request_id,
        sha256=sha256,
        size_bytes=size,
        media_type="video/mp4",
        filename=path.name,
    )
    cpu, t0 = own_cpu_seconds(), time.perf_counter()
    with path.open("rb", buffering=0) as fh:
        item = upload_call(channel)(upload_messages(meta, fh), metadata=md, timeout=3600).item
    secs, cpu = time.perf_counter() - t0, own_cpu_seconds() - cpu
    if item.sha256 != sha256 or item.size_bytes != size:
        raise RuntimeError("the item is not the uploaded file")
    return str(item.id), secs, cpu, digest_secs


def download(channel: grpc.Channel, md: tuple[tuple[str, str], ...], item_id: str, out: Path) -> float:
    """Download the item into ``out`` (written as it arrives: ``download_call`` answers each chunk as a view of
    the received bytes), its digest not computed (the bytes are compared after the clock stops); seconds."""
    t0 = time.perf_counter()
    with out.open("wb") as fh:
        for msg in download_call(channel)(
            pb.DownloadItemRequest(item_id=item_id, purpose="benchmark"), metadata=md, timeout=3600
        ):
            if isinstance(msg, memoryview):
                fh.write(msg)
    return time.perf_counter() - t0


def download_as_cli(channel: grpc.Channel, md: tuple[tuple[str, str], ...], item_id: str, out: Path) -> float:
    """The download ``jit evidence download`` does (``receive_item``: each chunk written and hashed as it
    arrives), the digest checked against the item's; seconds."""
    t0 = time.perf_counter()
    with out.open("wb") as fh:
        item, sha256 = receive_item(
            download_call(channel)(
                pb.DownloadItemRequest(item_id=item_id, purpose="benchmark"), metadata=md, timeout=3600
            ),
            fh,
        )
    secs = time.perf_counter() - t0
    if item is None or sha256 != item.sha256:
        raise RuntimeError("the downloaded bytes are not the item's")
    return secs


def download_received(channel: grpc.Channel, md: tuple[tuple[str, str], ...], item_id: str) -> float:
    """The same download, the client dropping each chunk as it arrives (no file written): what the service and
    the transport take, without the client's writes into the page cache (fresh pages on this virtual machine,
    which can cost the client more than the whole download costs the service); seconds."""
    t0 = time.perf_counter()
    for _ in download_call(channel)(
        pb.DownloadItemRequest(item_id=item_id, purpose="benchmark"), metadata=md, timeout=3600
    ):
        pass
    return time.perf_counter() - t0


#: The steps of an upload and of a download that ``step_costs`` times alone, in the order the service does them.
UPLOAD_STEPS = ("sha256", "seal", "write", "fsync")
DOWNLOAD_STEPS = ("read", "open", "copy_out")


def step_costs(src: Path, scratch: Path) -> dict[str, float]:
    """Each step the service does to an item's bytes, alone, in this thread, on the trial's bytes: milliseconds
    of CPU per MiB (``time.thread_time``, user and system), except ``fsync``, the wall time its wait adds per
    MiB. Upload: SHA-256 of each 1 MiB chunk, sealing each segment with AES-256-GCM into one reused buffer,
    writing it behind its header to a new file (the page cache), one fsync. Download: reading each sealed
    segment back into one reused buffer, opening it into another, and copying it out into the bytes sent
    (``services.evidence.blobs``). What the service spends beyond their sum, and the bare stream's, is the
    hand-over between its threads and its event loop's work per message."""
    data = memoryview(src.read_bytes())
    mib = len(data) / MiB
    aead = AESGCM(os.urandom(32))
    aad = b"jit-evidence:" + bytes(80)  # as long as a blob's: workspace, key id, name, index, last flag
    nonce = os.urandom(12)
    segments = [data[at : at + blobs.SEGMENT] for at in range(0, len(data), blobs.SEGMENT)]
    sealed = bytearray(blobs.SEGMENT + 16)
    cost: dict[str, float] = {}

    def timed(step: str, work: Callable[[], object], clock: Callable[[], float] = time.thread_time) -> None:
        start = clock()
        work()
        cost[step] = 1000 * (clock() - start) / mib

    def seal_all() -> None:
        for segment in segments:
            aead.encrypt_into(nonce, segment, aad, memoryview(sealed)[: len(segment) + 16])

    def hash_all() -> None:
        digest = hashlib.sha256()
        for segment in segments:
            digest.update(segment)

    timed("sha256", hash_all)
    timed("seal", seal_all)
    with scratch.open("xb", buffering=0) as fh:

        def write_all() -> None:  # each segment's header, then its ciphertext (the last one sealed: any bytes)
            for segment in segments:
                fh.write(nonce + (len(segment) + 16).to_bytes(4, "big"))
                fh.write(memoryview(sealed)[: len(segment) + 16])

        timed("write", write_all)
        timed("fsync", lambda: os.fsync(fh.fileno()), time.perf_counter)
    opened = bytearray(blobs.PREFIX_MAX + blobs.SEGMENT)
    with scratch.open("rb", buffering=0) as fh:

        def read_all() -> None:  # each header, then the ciphertext behind it
            for segment in segments:
                fh.readinto(memoryview(opened)[:16])
                fh.readinto(memoryview(sealed)[: len(segment) + 16])

        timed("read", read_all)

    first = segments[0]
    aead.encrypt_into(nonce, first, aad, memoryview(sealed)[: len(first) + 16])

    def open_all() -> None:  # the first segment's ciphertext, opened as many times as there are segments
        out = memoryview(opened)[blobs.PREFIX_MAX : blobs.PREFIX_MAX + len(first)]
        for _ in segments:
            aead.decrypt_into(nonce, memoryview(sealed)[: len(first) + 16], aad, out)

    timed("open", open_all)

    def copy_all() -> None:  # each segment copied out behind its prefix into the bytes sent, then dropped
        for segment in segments:
            bytes(memoryview(opened)[: blobs.PREFIX_MAX + len(segment)])

    timed("copy_out", copy_all)
    scratch.unlink()
    return cost


def file_copy(src: Path, dst: Path) -> float:
    """The floor: a plain copy of the same bytes on the same file system (``shutil.copyfile``)."""
    t0 = time.perf_counter()
    shutil.copyfile(src, dst)
    secs = time.perf_counter() - t0
    dst.unlink()
    return secs


def file_copy_fsync(src: Path, dst: Path) -> float:
    """A second floor, printed next to the first but never the ratio's: the same copy, then one fsync of the
    copy, as an upload must fsync its blob before it is acknowledged (the plain copy leaves its bytes in the
    page cache, the upload cannot)."""
    t0 = time.perf_counter()
    shutil.copyfile(src, dst)
    with dst.open("rb") as fh:
        os.fsync(fh.fileno())
    secs = time.perf_counter() - t0
    dst.unlink()
    return secs


def make_item(path: Path, megabytes: int, trial: int) -> None:
    """``megabytes`` MiB of random bytes, different in every trial: the blob store keeps one copy of equal
    content, so an upload of bytes it already holds would skip the rename and measure less."""
    block = bytearray(os.urandom(MiB))
    with path.open("wb") as fh:
        for i in range(megabytes):
            block[:16] = trial.to_bytes(8, "big") + i.to_bytes(8, "big")
            fh.write(block)


class Profiler:
    """``--profile``: samples the service's process with py-spy while one transfer runs, and prints where
    the time went (the frames where the samples were taken, then the functions they were in)."""

    def __init__(self, pid: int, work: Path, enabled: bool) -> None:
        self.pid, self.work, self.enabled = pid, work, enabled
        self._proc: subprocess.Popen[bytes] | None = None
        self._out = work / "none"

    def start(self, name: str) -> None:
        if not self.enabled:
            return
        self._out = self.work / f"profile-{name}.txt"
        spy = Path(sys.executable).parent / "py-spy"
        cmd = [str(spy), "record", "--pid", str(self.pid), "--rate", "500", "--format", "raw", "--nonblocking"]
        self._proc = subprocess.Popen(
            [*cmd, "-o", str(self._out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(1.0)  # py-spy attaches

    def stop(self, name: str, top: int = 12) -> None:
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGINT)
        self._proc.wait(timeout=60)
        self._proc = None
        self_time: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        total = 0
        for row in self._out.read_text().splitlines():
            stack, _, count = row.rpartition(" ")
            frames = [f for f in stack.split(";") if "(" in f]
            if not frames or not count.isdigit():
                continue
            n = int(count)
            total += n
            self_time[frames[-1]] += n
            for f in {f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0] + ")" for f in frames}:
                inclusive[f] += n
        print(f"# profile {name}: {total} samples of the service's threads, raw stacks in {self._out}", flush=True)
        for frame, n in self_time.most_common(top):
            print(f"#   self {100 * n / max(total, 1):5.1f}%  {frame}", flush=True)
        for frame, n in inclusive.most_common(top * 2):
            print(f"#   incl {100 * n / max(total, 1):5.1f}%  {frame}", flush=True)


#: The bare stream servers' options: the evidence service's receive limit (``max_request_bytes``), and, per
#: server kind, the transport settings a variant changes on the server's side.
_FLOOR_SERVER_OPTIONS = [("grpc.max_receive_message_length", 8 * MiB), ("grpc.max_send_message_length", 8 * MiB)]
#: HTTP/2's bandwidth-delay-product probing off: the flow-control window then stays as announced instead of
#: being resized from ping round trips (fast on loopback, but a window no longer grown for a distant node).
_NO_BDP = [("grpc.http2.bdp_probe", 0)]
#: Settings that keep BDP probing (so a long round trip still grows the window) and change only sizes:
#: a stream's initial window (``grpc.http2.lookahead_bytes``, gRPC's default 64 KiB, grown by BDP later),
#: the largest HTTP/2 frame a side accepts (``grpc.http2.max_frame_size``, default 16 KiB), and how much
#: the transport reads from the socket at once (``grpc.experimental.tcp_*read_chunk_size``).
_WINDOW = [("grpc.http2.lookahead_bytes", 8 * MiB)]
_FRAME = [("grpc.http2.max_frame_size", MiB)]
_READ_CHUNK = [
    ("grpc.experimental.tcp_min_read_chunk_size", 256 * 1024),
    ("grpc.experimental.tcp_read_chunk_size", MiB),
]
#: The aio servers the bare stream runs, each with its own settings (and one thread-pool server, ``sync``).
FLOOR_SERVERS: dict[str, list[tuple[str, int]]] = {
    "aio": [],
    "aio-nobdp": _NO_BDP,
    "aio-window": _WINDOW,
    "aio-frame": _FRAME,
    "aio-readchunk": _READ_CHUNK,
    "aio-sizes": _WINDOW + _FRAME + _READ_CHUNK,
}


@dataclass(frozen=True)
class FloorVariant:
    """One way of moving the bytes through a bare gRPC stream: which server (``aio`` as the services run,
    another of ``FLOOR_SERVERS``, or the thread-pool ``sync`` API), the message size, the client API, how
    many streams carry one item in parallel (each its own share of the bytes), and the client's channel
    options."""

    name: str
    server: str = "aio"
    message: int = CHUNK
    client: str = "sync"
    streams: int = 1
    channel_options: tuple[tuple[str, int], ...] = ()
    what: str = ""


def _both_sides(name: str, server: str, what: str) -> FloorVariant:
    """A variant whose client channel has the same settings as its server (``FLOOR_SERVERS[server]``)."""
    return FloorVariant(name, server=server, channel_options=tuple(FLOOR_SERVERS[server]), what=what)


#: The transport measured alone, as the service uses it (the first, the ratio's ``grpc_stream_floor``) and
#: with each setting changed by itself. Compression is off in all of them, as in the services (gRPC's
#: default: no message is compressed unless a side asks for it).
FLOOR_VARIANTS = (
    FloorVariant("", what="grpc.aio server, sync client, 1 MiB messages (as the service and the CLI)"),
    FloorVariant("msg2m", message=2 * MiB, what="2 MiB messages"),
    FloorVariant("msg3m", message=3 * MiB, what="3 MiB messages (under the clients' 4 MiB receive limit)"),
    FloorVariant("msg4m", message=4 * MiB, what="4 MiB messages"),
    FloorVariant("msg7m", message=7 * MiB, what="7 MiB messages (the service's receive limit is 8 MiB)"),
    _both_sides("nobdp", "aio-nobdp", "grpc.http2.bdp_probe=0 on both sides"),
    _both_sides("window8m", "aio-window", "grpc.http2.lookahead_bytes=8 MiB on both sides (BDP probing kept)"),
    _both_sides("frame1m", "aio-frame", "grpc.http2.max_frame_size=1 MiB on both sides (BDP probing kept)"),
    _both_sides("readchunk", "aio-readchunk", "TCP reads of 256 KiB..1 MiB on both sides (BDP probing kept)"),
    _both_sides("sizes", "aio-sizes", "window8m, frame1m and readchunk together (BDP probing kept)"),
    FloorVariant("sync_server", server="sync", what="the thread-pool (sync) server API"),
    FloorVariant("aio_client", client="aio", what="the grpc.aio client API"),
    FloorVariant("streams2", streams=2, what="two streams in parallel, each half of the item"),
)


def _sink_sync(messages: Iterator[bytes], context: object) -> bytes:
    return sum(len(m) for m in messages).to_bytes(8, "big")


def _source_sync(request: bytes, context: object) -> Iterator[bytes]:
    total, size = int.from_bytes(request[:8], "big"), int.from_bytes(request[8:16], "big")
    block = os.urandom(size)
    for sent in range(0, total, size):
        yield block if total - sent >= size else block[: total - sent]


async def _sink(messages: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
    received = 0
    async for message in messages:
        received += len(message)
    return received.to_bytes(8, "big")


async def _source(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    for block in _source_sync(request, context):
        yield block


async def serve_stream_floor(ports: dict[str, int]) -> None:
    """The transport's floor: bare servers that consume a client stream of bytes (Sink) or send one
    (Source, ``total`` bytes in messages of ``size``), nothing done to the bytes: a grpc.aio server as the
    services run (``aio``), one per other setting (``FLOOR_SERVERS``), and a thread-pool one (``sync``).
    """
    servers: list[grpc.aio.Server] = []
    for kind, options in FLOOR_SERVERS.items():
        server = grpc.aio.server(options=_FLOOR_SERVER_OPTIONS + options)
        handler = grpc.method_handlers_generic_handler(
            "bench.Stream",
            {
                "Sink": grpc.stream_unary_rpc_method_handler(_sink),
                "Source": grpc.unary_stream_rpc_method_handler(_source),
            },
        )
        server.add_generic_rpc_handlers((handler,))
        server.add_insecure_port(f"127.0.0.1:{ports[kind]}")
        await server.start()
        servers.append(server)
    sync_server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4), options=_FLOOR_SERVER_OPTIONS)
    sync_handler = grpc.method_handlers_generic_handler(
        "bench.Stream",
        {
            "Sink": grpc.stream_unary_rpc_method_handler(_sink_sync),
            "Source": grpc.unary_stream_rpc_method_handler(_source_sync),
        },
    )
    sync_server.add_generic_rpc_handlers((sync_handler,))
    sync_server.add_insecure_port(f"127.0.0.1:{ports['sync']}")
    sync_server.start()
    await servers[0].wait_for_termination()


def _shares(size: int, streams: int, message: int) -> list[tuple[int, int]]:
    """(offset, length) of each stream's share of ``size`` bytes, cut on message boundaries."""
    per = -(-size // streams // message) * message
    return [(off, min(per, size - off)) for off in range(0, size, per)]


def _read_blocks(path: Path, offset: int, length: int, message: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(offset)
        while length > 0 and (block := fh.read(min(message, length))):
            length -= len(block)
            yield block


def _floor_sync(
    v: FloorVariant, port: int, pid: int, path: Path, out: Path
) -> tuple[float, float, float, float, float, float]:
    """Seconds to send ``path`` through the bare stream, and to receive as many bytes into ``out``; then the
    server's (process ``pid``) CPU seconds for each, then this process's (the client's)."""
    size = path.stat().st_size
    shares = _shares(size, v.streams, v.message)
    options = [*_FLOOR_SERVER_OPTIONS, *v.channel_options]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
        sink, source = ch.stream_unary("/bench.Stream/Sink"), ch.unary_stream("/bench.Stream/Source")

        def send(share: tuple[int, int]) -> None:
            sink(_read_blocks(path, share[0], share[1], v.message), timeout=3600)

        def receive(share: tuple[int, int], fd: int) -> None:
            offset = share[0]
            for block in source(share[1].to_bytes(8, "big") + v.message.to_bytes(8, "big"), timeout=3600):
                offset += os.pwrite(fd, block, offset)

        with concurrent.futures.ThreadPoolExecutor(max_workers=v.streams) as pool:
            cpu0, own0, t0 = cpu_seconds(pid), own_cpu_seconds(), time.perf_counter()
            list(pool.map(send, shares))
            cpu1, own1, t1 = cpu_seconds(pid), own_cpu_seconds(), time.perf_counter()
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                list(pool.map(receive, shares, [fd] * len(shares)))
            finally:
                os.close(fd)
            cpu2, own2, t2 = cpu_seconds(pid), own_cpu_seconds(), time.perf_counter()
    return t1 - t0, t2 - t1, cpu1 - cpu0, cpu2 - cpu1, own1 - own0, own2 - own1


async def _floor_aio(
    v: FloorVariant, port: int, pid: int, path: Path, size: int, out: Path
) -> tuple[float, float, float, float, float, float]:
    shares = _shares(size, v.streams, v.message)
    options = [*_FLOOR_SERVER_OPTIONS, *v.channel_options]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as ch:
        await ch.channel_ready()
        sink, source = ch.stream_unary("/bench.Stream/Sink"), ch.unary_stream("/bench.Stream/Source")

        async def send(share: tuple[int, int]) -> None:
            async def blocks() -> AsyncIterator[bytes]:
                for block in _read_blocks(path, share[0], share[1], v.message):
                    yield block

            await sink(blocks(), timeout=3600)

        async def receive(share: tuple[int, int], fd: int) -> None:
            offset = share[0]
            async for block in source(share[1].to_bytes(8, "big") + v.message.to_bytes(8, "big"), timeout=3600):
                offset += os.pwrite(fd, block, offset)

        cpu0, own0, t0 = cpu_seconds(pid), own_cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(send(share) for share in shares))
        cpu1, own1, t1 = cpu_seconds(pid), own_cpu_seconds(), time.perf_counter()
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            await asyncio.gather(*(receive(share, fd) for share in shares))
        finally:
            os.close(fd)
        cpu2, own2, t2 = cpu_seconds(pid), own_cpu_seconds(), time.perf_counter()
    return t1 - t0, t2 - t1, cpu1 - cpu0, cpu2 - cpu1, own1 - own0, own2 - own1


def stream_floor(
    v: FloorVariant, ports: dict[str, int], pid: int, path: Path
) -> tuple[float, float, float, float, float, float]:
    """Seconds to send ``path`` to the bare server (process ``pid``) as ``v`` says, and to receive as many
    bytes back into a file; then the server's CPU seconds for each, then the client's."""
    out = path.parent / "floor-down.bin"
    if v.client == "aio":
        figures = asyncio.run(_floor_aio(v, ports[v.server], pid, path, path.stat().st_size, out))
    else:
        figures = _floor_sync(v, ports[v.server], pid, path, out)
    if out.stat().st_size != path.stat().st_size:
        raise RuntimeError(f"the bare stream {v.name or 'default'} moved {out.stat().st_size} bytes")
    out.unlink()
    return figures


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User plus system CPU time of a process so far (Linux ``/proc``): what a transfer cost the service,
    which a busy machine stretches much less than the wall time. With ``thread``, that thread's alone (the
    process's id is its main thread: a service's event loop)."""
    stat = Path(f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat")
    fields = stat.read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """User plus system CPU time of this process (the client's side of a transfer), all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def steps_line(
    steps: list[dict[str, float]], service: dict[str, list[float]], floor: dict[str, list[float]], megabytes: int
) -> str:
    """The ``#`` line of ``step_costs``: each step's median per MiB, then their sum with the bare stream
    server's CPU for the same direction (receiving or sending the bytes), next to the service's."""
    parts = []
    for direction, names in (("upload", UPLOAD_STEPS), ("download", DOWNLOAD_STEPS)):
        each = {name: statistics.median(trial[name] for trial in steps) for name in names}
        stream = statistics.median(1000 * c / megabytes for c in floor[direction])
        total = statistics.median(1000 * c / megabytes for c in service[direction])
        cpu = sum(ms for name, ms in each.items() if name != "fsync") + stream
        listed = ", ".join(f"{name} {ms:.2f}" + (" (wall)" if name == "fsync" else "") for name, ms in each.items())
        parts.append(
            f"{direction}: {listed}; their CPU with the bare stream server's ({stream:.2f}) {cpu:.2f} ms, "
            f"the service {total:.2f}"
        )
    return "# each step alone, per MiB (median of the trials): " + "; ".join(parts)


def ceilings_line(
    steps: list[dict[str, float]],
    up_cpu: list[float],
    up_client_cpu: list[float],
    megabytes: int,
    copy_mb_s: float,
    down_floor_mb_s: float,
) -> str:
    """The ``#`` line of the ceilings this run's own figures put on each transfer, as MB/s and as a ratio to
    the file copy: an upload hashes every byte with SHA-256 in one stream, on one core, so it cannot run faster than
    that hash alone; nor faster than both cores spending the service's and the client's CPU per MiB of this
    run; a download through gRPC not faster than the bare stream down."""
    mb_per_mib = 1.048576
    sha_ms = statistics.median(trial["sha256"] for trial in steps)
    service_ms = statistics.median(1000 * c / megabytes for c in up_cpu)
    client_ms = statistics.median(1000 * c / megabytes for c in up_client_cpu)
    hash_alone = 1000 * mb_per_mib / sha_ms
    two_cores = 2 * 1000 * mb_per_mib / (service_ms + client_ms)
    return (
        f"# ceilings (MB/s, ratio to the file copy): upload, SHA-256 of one stream on one core {hash_alone:.0f} "
        f"({hash_alone / copy_mb_s:.3f}), two cores spending the service's and the client's CPU per MiB "
        f"({service_ms:.2f} + {client_ms:.2f} ms) {two_cores:.0f} ({two_cores / copy_mb_s:.3f}); download, the bare "
        f"gRPC stream down {down_floor_mb_s:.0f} ({down_floor_mb_s / copy_mb_s:.3f})"
    )


def mb_line(name: str, size_mb: float, secs: list[float], floor_mb_s: float | None) -> str:
    """The median of the trials' MB/s, their spread (min..max) and the ratio to the floor's median."""
    rates = [size_mb / s for s in secs]
    mb_s = statistics.median(rates)
    ratio = "" if floor_mb_s is None else f" ratio={mb_s / floor_mb_s:.3f}"
    return f"BENCH {name} mb_s={mb_s:.0f} spread_mb_s={min(rates):.0f}..{max(rates):.0f}{ratio} trials={len(rates)}"


async def serve(port: int, db_url: str, nats_url: str, jwks: dict[str, object], state: Path, issuer: str) -> None:
    import base64

    from jitlib.auth import JwksCache, TokenVerifier
    from jitlib.config import CommonSettings
    from jitlib.server import ServiceApp
    from services.evidence.app import EvidenceSettings, spec

    cache = JwksCache("http://127.0.0.1:1/unused", min_refresh_seconds=1e9)
    cache.set_keys(jwks)
    verifier = TokenVerifier(issuer=issuer, audience="jit-services", jwks=cache, algorithms=["RS256"])
    common = CommonSettings(nats_url=nats_url, oidc_issuer=issuer, state_dir=state)
    settings = EvidenceSettings(
        listen=f"127.0.0.1:{port}",
        database_url=db_url,
        blob_dir=str(state / "evidence-blobs"),
        kek=base64.b64encode(os.urandom(32)).decode(),
    )
    app = ServiceApp(spec(settings), settings, common, verifier=verifier)
    await app.run_until_signalled()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=300, help="CreateRequest calls (and echo calls) per trial")
    p.add_argument("--megabytes", type=int, default=200, help="size of the item moved up and down, in MiB")
    p.add_argument("--trials", type=int, default=5, help="interleaved trials per figure (default 5)")
    p.add_argument(
        "--profile", action="store_true", help="sample the service with py-spy during one upload and one download"
    )
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("serve", help="(internal) run the evidence service for the benchmark")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--db", required=True)
    s.add_argument("--nats", required=True)
    s.add_argument("--jwks", type=Path, required=True)
    s.add_argument("--issuer", required=True)
    f = sub.add_parser("serve-stream", help="(internal) run the bare gRPC byte stream server")
    f.add_argument("--ports", required=True, help="kind=port,... (FLOOR_SERVERS and sync)")
    p.add_argument(
        "--floors",
        default=",".join(v.name or "default" for v in FLOOR_VARIANTS),
        help="the bare stream variants to measure (default: all; 'default' is the one the ratios use)",
    )
    a = p.parse_args()
    if a.cmd == "serve":
        import json

        asyncio.run(serve(a.port, a.db, a.nats, json.loads(a.jwks.read_text()), a.jwks.parent, a.issuer))
        return 0
    if a.cmd == "serve-stream":
        ports = {kind: int(port) for kind, _, port in (pair.partition("=") for pair in a.ports.split(","))}
        asyncio.run(serve_stream_floor(ports))
        return 0

    work = Path(tempfile.mkdtemp(prefix="jit-bench-evidence-"))
    jwks, token = make_key(work)
    md = (("authorization", f"Bearer {token}"),)
    nats_i = NatsInstance(free_port(), work / "nats", work / "nats.log").start()
    procs = []
    try:
        asyncio.run(announce_workspace(nats_i.url))
        echo_port, port = free_port(), free_port()
        stream_ports = {kind: free_port() for kind in (*FLOOR_SERVERS, "sync")}
        procs.append(start(["echo"], work / "echo.log", echo_port))
        ports_arg = ",".join(f"{kind}={port}" for kind, port in stream_ports.items())
        stream_cmd = [sys.executable, "-m", "bench.evidence", "serve-stream", "--ports", ports_arg]
        stream_proc = spawn(stream_cmd, work / "stream.log", cwd=ROOT)
        procs.append(stream_proc)
        log = work / "evidence.log"
        url = f"sqlite:///{work / 'bench-evidence.db'}"
        cmd = [sys.executable, "-m", "bench.evidence", "serve", "--port", str(port), "--db", url]
        proc = spawn([*cmd, "--nats", nats_i.url, "--jwks", str(jwks), "--issuer", ISSUER], log, cwd=ROOT)
        procs.append(proc)
        wait_until(lambda: _grpc_port(echo_port), 30, "echo server")
        for stream_port in stream_ports.values():
            wait_until(lambda: _grpc_port(stream_port), 30, "stream server")  # noqa: B023 (called at once)
        wait_until(lambda: _grpc_healthy(port), 60, "evidence service", log, proc)
        time.sleep(1.0)  # let the workspace directory catch up
        profiler = Profiler(proc.pid, work, a.profile)

        # Interleaved trials (floor, subject, floor, subject, ...), so that a busy or quiet spell of the
        # shared machine weighs on both; each figure is the median of its trials, printed with their spread.
        echo_p50s: list[float] = []
        create_p50s: list[float] = []
        every_create: list[float] = []
        for _ in range(a.trials):
            _, lat = asyncio.run(bench_echo(echo_port, a.requests, 1))
            echo_p50s.append(statistics.median(lat))
            _, lat = asyncio.run(bench_create(port, token, a.requests))
            create_p50s.append(statistics.median(lat))
            every_create += lat
        floor = statistics.median(echo_p50s)
        print(
            f"BENCH evidence_grpc_echo_floor_c1 p50_ms={floor:.3f} "
            f"spread_ms={min(echo_p50s):.3f}..{max(echo_p50s):.3f} ratio_p50=1.00 trials={a.trials}",
            flush=True,
        )
        p50 = statistics.median(create_p50s)
        print(
            f"BENCH create_evidence_request_sqlite_c1 p50_ms={p50:.3f} "
            f"spread_ms={min(create_p50s):.3f}..{max(create_p50s):.3f} p99_ms={percentile(every_create, 0.99):.3f} "
            f"ratio_p50={p50 / floor:.2f} trials={a.trials}",
            flush=True,
        )

        src = work / "item.bin"
        copies: list[float] = []
        synced_copies: list[float] = []
        ups: list[float] = []
        downs: list[float] = []
        received: list[float] = []  # the downloads whose client drops the bytes (``download_received``)
        ups_as_cli: list[float] = []  # the file's digest, then the upload: what a user of the CLI waits for
        downs_as_cli: list[float] = []  # the download with each chunk hashed as it arrives, as the CLI does
        up_cpu: list[float] = []
        down_cpu: list[float] = []
        up_loop_cpu: list[float] = []  # of the service's CPU, its event loop's (the main thread)
        down_loop_cpu: list[float] = []
        up_client_cpu: list[float] = []  # the benchmark's own process: the client's side of each transfer
        down_client_cpu: list[float] = []
        steps: list[dict[str, float]] = []  # each step alone, per trial (``step_costs``)
        wanted = set(a.floors.split(",")) | {"default"}
        variants = [v for v in FLOOR_VARIANTS if (v.name or "default") in wanted]
        # Per variant: seconds up, seconds down, the bare server's CPU seconds up and down, then the client's,
        # one per trial.
        floors: dict[str, tuple[list[float], list[float], list[float], list[float], list[float], list[float]]] = {
            v.name: ([], [], [], [], [], []) for v in variants
        }
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = evidence_pb2_grpc.EvidenceServiceStub(ch)
            request_id = new_request_in_execution(stub, md)
            for trial in range(a.trials):
                make_item(src, a.megabytes, trial)
                copies.append(file_copy(src, work / "copy.bin"))
                synced_copies.append(file_copy_fsync(src, work / "copy.bin"))
                for v in variants:
                    measured = stream_floor(v, stream_ports, stream_proc.pid, src)
                    for figures, figure in zip(floors[v.name], measured, strict=True):
                        figures.append(figure)
                profiler.start("upload")
                cpu, loop = cpu_seconds(proc.pid), cpu_seconds(proc.pid, proc.pid)
                item_id, secs, client_cpu, digest_secs = upload(ch, md, request_id, src)
                ups_as_cli.append(digest_secs + secs)
                up_cpu.append(cpu_seconds(proc.pid) - cpu)
                up_loop_cpu.append(cpu_seconds(proc.pid, proc.pid) - loop)
                up_client_cpu.append(client_cpu)
                profiler.stop("upload")
                ups.append(secs)
                copies.append(file_copy(src, work / "copy.bin"))
                profiler.start("download")
                cpu, loop, mine = cpu_seconds(proc.pid), cpu_seconds(proc.pid, proc.pid), own_cpu_seconds()
                downs.append(download(ch, md, item_id, work / "down.bin"))
                down_cpu.append(cpu_seconds(proc.pid) - cpu)
                down_loop_cpu.append(cpu_seconds(proc.pid, proc.pid) - loop)
                down_client_cpu.append(own_cpu_seconds() - mine)
                profiler.stop("download")
                profiler.enabled = False
                if file_sha256(work / "down.bin") != file_sha256(src):
                    raise RuntimeError("the downloaded bytes are not the uploaded ones")
                (work / "down.bin").unlink()
                received.append(download_received(ch, md, item_id))
                downs_as_cli.append(download_as_cli(ch, md, item_id, work / "down.bin"))
                (work / "down.bin").unlink()
                steps.append(step_costs(src, work / "steps.bin"))
        size_mb = src.stat().st_size / 1e6
        copy_mb_s = statistics.median(size_mb / s for s in copies)
        print(mb_line("evidence_file_copy", size_mb, copies, None), flush=True)
        print(mb_line("evidence_file_copy_fsync", size_mb, synced_copies, None), flush=True)
        floor_ups, floor_downs, floor_up_cpu, floor_down_cpu, floor_up_client, floor_down_client = floors[""]
        for v in variants:
            suffix = f"_{v.name}" if v.name else ""
            for direction, times in (("up", floors[v.name][0]), ("down", floors[v.name][1])):
                print(mb_line(f"evidence_grpc_stream_floor_{direction}{suffix}", size_mb, times, copy_mb_s), flush=True)
        print(mb_line("evidence_upload_sqlite", size_mb, ups, copy_mb_s), flush=True)
        print(mb_line("evidence_download_sqlite", size_mb, downs, copy_mb_s), flush=True)
        print(mb_line("evidence_download_received_sqlite", size_mb, received, copy_mb_s), flush=True)
        print(mb_line("evidence_upload_as_cli_sqlite", size_mb, ups_as_cli, copy_mb_s), flush=True)
        print(mb_line("evidence_download_as_cli_sqlite", size_mb, downs_as_cli, copy_mb_s), flush=True)
        up_floor = statistics.median(size_mb / s for s in floor_ups)
        down_floor = statistics.median(size_mb / s for s in floor_downs)
        print(
            f"# next to the bare gRPC stream: upload {statistics.median(size_mb / s for s in ups) / up_floor:.3f}, "
            f"download {statistics.median(size_mb / s for s in downs) / down_floor:.3f}",
            flush=True,
        )
        synced_mb_s = statistics.median(size_mb / s for s in synced_copies)
        print(
            f"# next to a file copy with its fsync ({synced_mb_s:.0f} MB/s): "
            f"upload {statistics.median(size_mb / s for s in ups) / synced_mb_s:.3f}",
            flush=True,
        )
        for v in variants:
            up_ms, down_ms, client_up_ms, client_down_ms = (
                statistics.median(1000 * c / a.megabytes for c in f) for f in floors[v.name][2:]
            )
            print(
                f"# bare stream {v.name or 'default'} ({v.what}): server CPU per MiB up {up_ms:.2f} ms, "
                f"down {down_ms:.2f} ms; client up {client_up_ms:.2f} ms, down {client_down_ms:.2f} ms",
                flush=True,
            )
        for name, cpu, loop_cpu, floor_cpu, client_cpu, floor_client_cpu in (
            ("upload", up_cpu, up_loop_cpu, floor_up_cpu, up_client_cpu, floor_up_client),
            ("download", down_cpu, down_loop_cpu, floor_down_cpu, down_client_cpu, floor_down_client),
        ):
            per_mib = [1000 * c / a.megabytes for c in cpu]
            loop_per_mib = [1000 * c / a.megabytes for c in loop_cpu]
            floor_per_mib = [1000 * c / a.megabytes for c in floor_cpu]
            client_per_mib = [1000 * c / a.megabytes for c in client_cpu]
            floor_client = statistics.median(1000 * c / a.megabytes for c in floor_client_cpu)
            print(
                f"# CPU time per MiB, {name}: the service {statistics.median(per_mib):.2f} ms "
                f"({min(per_mib):.2f}..{max(per_mib):.2f}; its event loop {statistics.median(loop_per_mib):.2f}, "
                f"{min(loop_per_mib):.2f}..{max(loop_per_mib):.2f}), the bare stream server "
                f"{statistics.median(floor_per_mib):.2f} ms ({min(floor_per_mib):.2f}..{max(floor_per_mib):.2f}), "
                f"the client {statistics.median(client_per_mib):.2f} ms "
                f"({min(client_per_mib):.2f}..{max(client_per_mib):.2f}), "
                f"the bare stream's client {floor_client:.2f} ms",
                flush=True,
            )
        print(
            steps_line(
                steps,
                {"upload": up_cpu, "download": down_cpu},
                {"upload": floor_up_cpu, "download": floor_down_cpu},
                a.megabytes,
            ),
            flush=True,
        )
        print(ceilings_line(steps, up_cpu, up_client_cpu, a.megabytes, copy_mb_s, down_floor), flush=True)
    finally:
        for proc in procs:
            terminate(proc)
        nats_i.stop()
        if a.profile:
            print(f"# profiles kept in {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _grpc_port(port: int) -> bool:
    from jitdev.procs import port_open

    return port_open(port)


if __name__ == "__main__":
    raise SystemExit(main())
