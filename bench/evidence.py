"""Evidence benchmark: upload and download throughput of an evidence item next to a plain file copy of the
same bytes in the same run, and CreateRequest latency next to the bare grpc.aio echo floor.

    BENCH evidence_grpc_echo_floor_c1 rps=<n> p50_ms=<x> p99_ms=<y> ratio_p50=1.00
    BENCH evidence_file_copy mb_s=<n>
    BENCH evidence_upload_<backend> mb_s=<n> ratio=<n / file copy>
    BENCH evidence_download_<backend> mb_s=<n> ratio=<n / file copy>
    BENCH create_evidence_request_<backend>_c1 rps=<n> p50_ms=<x> p99_ms=<y> ratio_p50=<x / echo p50>

The upload path measured is the real one: token check, policy, the stream of 1 MiB chunks hashed with
SHA-256 and sealed with AES-256-GCM segment by segment into a temporary file, the digest check, the rename,
and one transaction writing the item, its first custody entry, the outbox event and the audit entry. The
download decrypts segment by segment and records a custody entry. The service runs in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import grpc

from bench.run import ISSUER, announce_workspace, bench_echo, line, make_key, measure, start
from jit.evidence.v1 import evidence_pb2 as pb
from jit.evidence.v1 import evidence_pb2_grpc
from jitdev.nats import NatsInstance
from jitdev.procs import free_port, spawn, terminate, wait_until
from jitdev.stack import _grpc_healthy

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024


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


def transfer(port: int, token: str, path: Path, out: Path) -> tuple[float, float]:
    """Upload ``path`` against a new request in execution, download it to ``out``; seconds of each."""
    md = (("authorization", f"Bearer {token}"),)
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(MiB), b""):
            digest.update(block)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = evidence_pb2_grpc.EvidenceServiceStub(ch)
        r = stub.CreateRequest(_request(0), metadata=md, timeout=30).request
        # A provider request: the issuer records the provider's answers (acknowledge, execution).
        stub.IssueRequest(pb.IssueRequestRequest(id=r.id), metadata=md, timeout=30)
        stub.AcknowledgeRequest(pb.AcknowledgeRequestRequest(id=r.id), metadata=md, timeout=30)
        stub.StartExecution(pb.StartExecutionRequest(id=r.id), metadata=md, timeout=30)

        def messages():  # type: ignore[no-untyped-def]
            yield pb.UploadItemRequest(
                metadata=pb.ItemMetadata(
                    request_id=str(uuid.uuid4()),
                    evidence_request_id=r.id,
                    sha256=digest.hexdigest(),
                    size_bytes=size,
                    media_type="video/mp4",
                    filename=path.name,
                )
            )
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(MiB), b""):
                    yield pb.UploadItemRequest(chunk=block)

        t0 = time.perf_counter()
        item = stub.UploadItem(messages(), metadata=md, timeout=3600).item
        t1 = time.perf_counter()
        with out.open("wb") as fh:
            for msg in stub.DownloadItem(
                pb.DownloadItemRequest(item_id=item.id, purpose="benchmark"), metadata=md, timeout=3600
            ):
                if msg.WhichOneof("part") == "chunk":
                    fh.write(msg.chunk)
        t2 = time.perf_counter()
    if out.stat().st_size != size:
        raise RuntimeError("download size differs")
    return t1 - t0, t2 - t1


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
    p.add_argument("--requests", type=int, default=1000, help="CreateRequest calls measured")
    p.add_argument("--megabytes", type=int, default=200, help="size of the item moved up and down")
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("serve", help="(internal) run the evidence service for the benchmark")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--db", required=True)
    s.add_argument("--nats", required=True)
    s.add_argument("--jwks", type=Path, required=True)
    s.add_argument("--issuer", required=True)
    a = p.parse_args()
    if a.cmd == "serve":
        import json

        asyncio.run(serve(a.port, a.db, a.nats, json.loads(a.jwks.read_text()), a.jwks.parent, a.issuer))
        return 0
    import sys

    work = Path(tempfile.mkdtemp(prefix="jit-bench-evidence-"))
    jwks, token = make_key(work)
    nats_i = NatsInstance(free_port(), work / "nats", work / "nats.log").start()
    procs = []
    try:
        asyncio.run(announce_workspace(nats_i.url))
        echo_port = free_port()
        procs.append(start(["echo"], work / "echo.log", echo_port))
        wait_until(lambda: _grpc_port(echo_port), 30, "echo server")
        rps, lat = asyncio.run(bench_echo(echo_port, a.requests, 1))
        floor = statistics.median(lat)
        print(line("evidence_grpc_echo_floor_c1", rps, lat, floor), flush=True)

        src = work / "item.bin"
        with src.open("wb") as fh:
            block = os.urandom(MiB)
            for i in range(a.megabytes):
                fh.write(i.to_bytes(8, "big") + block[8:])
        size_mb = src.stat().st_size / 1e6
        t0 = time.perf_counter()
        shutil.copyfile(src, work / "copy.bin")
        copy_s = time.perf_counter() - t0
        (work / "copy.bin").unlink()
        copy_mb_s = size_mb / copy_s
        print(f"BENCH evidence_file_copy mb_s={copy_mb_s:.0f}", flush=True)

        port = free_port()
        log = work / "evidence.log"
        url = f"sqlite:///{work / 'bench-evidence.db'}"
        cmd = [sys.executable, "-m", "bench.evidence", "serve", "--port", str(port), "--db", url]
        proc = spawn([*cmd, "--nats", nats_i.url, "--jwks", str(jwks), "--issuer", ISSUER], log, cwd=ROOT)
        procs.append(proc)
        wait_until(lambda: _grpc_healthy(port), 60, "evidence service", log, proc)
        time.sleep(1.0)  # let the workspace directory catch up
        up_s, down_s = transfer(port, token, src, work / "down.bin")
        for name, secs in (("upload", up_s), ("download", down_s)):
            mb_s = size_mb / secs
            print(f"BENCH evidence_{name}_sqlite mb_s={mb_s:.0f} ratio={mb_s / copy_mb_s:.3f}", flush=True)
        rps, lat = asyncio.run(bench_create(port, token, a.requests))
        print(line("create_evidence_request_sqlite_c1", rps, lat, floor), flush=True)
    finally:
        for proc in procs:
            terminate(proc)
        nats_i.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _grpc_port(port: int) -> bool:
    from jitdev.procs import port_open

    return port_open(port)


if __name__ == "__main__":
    raise SystemExit(main())
