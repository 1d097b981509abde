"""Record identifiers (``jitlib.ids.new_id``): UUIDv7 as RFC 9562 lays it out, strictly increasing in a
process, unique across threads and across a fork, drawn from OS randomness read 4 KiB at a time (not one
``os.urandom`` per identifier, which gives the GIL away on the event loop); the nonces of
``crypto.seal`` come from the same blocks."""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any

import pytest

from jitlib import ids


def test_an_id_is_a_uuid7_of_the_current_millisecond_in_canonical_text() -> None:
    before = time.time_ns() // 1_000_000
    value = ids.new_id()
    u = uuid.UUID(value)
    assert ids.is_uuid(value) and str(u) == value
    assert u.version == 7 and u.variant == uuid.RFC_4122
    assert u.int >> 80 >= before  # 48 bits of Unix milliseconds (never behind the clock)


def test_ids_of_a_process_are_strictly_increasing_and_unique_across_threads() -> None:
    out: list[list[str]] = [[] for _ in range(8)]

    def make(i: int) -> None:
        out[i] = [ids.new_id() for _ in range(5000)]

    threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [v for part in out for v in part]
    assert len(set(every)) == len(every)
    for part in out:
        assert part == sorted(part)  # time-sortable in the order a thread made them


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each read of the operating system's randomness (``os.urandom``) from here on."""
    sizes: list[int] = []
    real = os.urandom

    def counted(n: int) -> bytes:
        sizes.append(n)
        return real(n)

    monkeypatch.setattr(ids.os, "urandom", counted)
    return sizes


def test_the_random_bits_come_from_the_os_a_block_at_a_time(reads: list[int]) -> None:
    made = [uuid.UUID(ids.new_id()) for _ in range(1000)]  # 10 bytes each: 10,000 bytes
    assert reads and set(reads) == {4096} and len(reads) <= 4
    # 74 random bits an id (76 drawn; the variant takes 2), not a counter: no two share them.
    assert len({u.int & ((1 << 76) - 1) for u in made}) == 1000


def test_a_forked_child_does_not_repeat_its_parents_bytes() -> None:
    ids.new_id()  # the parent's block is read; the child must not reuse what is left of it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, ",".join(ids.new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    chunks: list[bytes] = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    child = b"".join(chunks).decode().split(",")
    parent = [ids.new_id() for _ in range(50)]

    def random_part(v: str) -> Any:
        return uuid.UUID(v).int & ((1 << 62) - 1)

    assert len(child) == 50
    assert not {random_part(v) for v in child} & {random_part(v) for v in parent}


def test_a_seals_nonce_comes_from_the_same_blocks_and_is_never_handed_out_twice(reads: list[int]) -> None:
    from jitlib import crypto

    key = crypto.new_data_key()
    reads.clear()
    sealed = [crypto.seal(key, b"text", b"aad") for _ in range(1000)]  # 12 bytes of nonce each
    assert reads and set(reads) == {4096} and len(reads) <= 4
    assert len({s[: crypto.NONCE_BYTES] for s in sealed}) == 1000
    assert all(crypto.open_sealed(key, s, b"aad") == b"text" for s in sealed)
    # More than a block at once is read as it is, not cut from the buffer.
    assert len(ids.random_bytes(5000)) == 5000 and reads[-1] == 5000
