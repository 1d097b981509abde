"""A 500 MB item goes up and comes back down in bounded memory.

The bytes are generated while streaming (never held whole), and the peak of Python allocations of the whole
process, the service and the client together, is measured with tracemalloc: it must stay under 64 MiB, a
memory bound (the item is 500 MB), not a timing assertion. gRPC's C core buffers are outside tracemalloc; they
are bounded by HTTP/2 flow control.
"""

from __future__ import annotations

import hashlib
import os
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from jit.evidence.v1 import evidence_pb2 as pb
from tests.harness import md, rid
from tests.integration.evidence.conftest import Client

pytestmark = pytest.mark.integration
MiB = 1024 * 1024
SIZE = 500 * 1000 * 1000
PEAK_LIMIT = 64 * MiB


def generated(size: int, base: bytes) -> Iterator[bytes]:
    """``size`` bytes in 1 MiB chunks, each distinct (its index in front of a random block)."""
    sent, i = 0, 0
    while sent < size:
        n = min(MiB, size - sent)
        yield (i.to_bytes(8, "big") + base[8:])[:n]
        sent += n
        i += 1


def test_a_500_mb_item_round_trips_in_bounded_memory(client: Client, evidence_svc: Any) -> None:
    r = client.executing()
    base = os.urandom(MiB)
    h = hashlib.sha256()
    for chunk in generated(SIZE, base):
        h.update(chunk)
    digest = h.hexdigest()

    def messages() -> Iterator[pb.UploadItemRequest]:
        yield pb.UploadItemRequest(
            metadata=pb.ItemMetadata(
                request_id=rid(),
                evidence_request_id=r.id,
                sha256=digest,
                size_bytes=SIZE,
                media_type="video/mp4",
                filename="recording.mp4",
            )
        )
        for chunk in generated(SIZE, base):
            yield pb.UploadItemRequest(chunk=chunk)

    tracemalloc.start()
    try:
        t0 = time.monotonic()
        item = client.stub.UploadItem(messages(), metadata=md(client.tokens("de-liaison")), timeout=600).item
        t1 = time.monotonic()
        down = hashlib.sha256()
        size = 0
        for msg in client.stub.DownloadItem(
            pb.DownloadItemRequest(item_id=item.id, purpose="review the recording"),
            metadata=md(client.tokens("nl-prosecutor")),
            timeout=600,
        ):
            if msg.WhichOneof("part") == "chunk":
                down.update(msg.chunk)
                size += len(msg.chunk)
        t2 = time.monotonic()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(
        f"500 MB item: upload {t1 - t0:.1f} s, download {t2 - t1:.1f} s, "
        f"peak Python allocations {peak / MiB:.1f} MiB (limit {PEAK_LIMIT / MiB:.0f} MiB)"
    )
    assert item.sha256 == digest and item.size_bytes == SIZE
    assert size == SIZE and down.hexdigest() == digest
    assert peak < PEAK_LIMIT, f"peak {peak / MiB:.1f} MiB for a {SIZE / 1e6:.0f} MB item"
