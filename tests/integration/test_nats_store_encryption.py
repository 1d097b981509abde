"""A local NATS server (``make run``'s, each node's of a local federation) encrypts its JetStream store:
the events it keeps carry record states, titles included, and must not be readable on disk, as the
databases' content is not. Without the key the same bytes are found, so the search is shown to work."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import nats
import pytest

from jitdev.nats import NatsInstance, kept_secret
from jitdev.procs import free_port

pytestmark = pytest.mark.integration


async def _publish_and_read(url: str, stream: str, marker: bytes) -> bytes | None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
        if marker:
            await js.publish(f"{stream.lower()}.created", b"title: " + marker)
        msg = await js.get_last_msg(stream, f"{stream.lower()}.created")
        return msg.data
    finally:
        await nc.close()


def _store_holds(store: Path, marker: bytes) -> list[str]:
    return sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file() and marker in p.read_bytes())


@pytest.mark.parametrize("encrypted", [True, False], ids=["with-store-key", "without"])
def test_the_jetstream_store_holds_no_event_in_clear(tmp_path: Path, encrypted: bool) -> None:
    marker = f"Harassment-{uuid.uuid4().hex}".encode()
    key = kept_secret(tmp_path / "nats-store.key") if encrypted else ""
    if encrypted:
        assert (tmp_path / "nats-store.key").stat().st_mode & 0o777 == 0o600
        assert kept_secret(tmp_path / "nats-store.key") == key  # made once, then kept
    inst = NatsInstance(free_port(), tmp_path / "nats", tmp_path / "nats.log", store_key=key).start()
    try:
        assert asyncio.run(_publish_and_read(inst.url, "JIT_TEST", marker)) == b"title: " + marker
    finally:
        inst.stop()  # flushes the store
    found = _store_holds(tmp_path / "nats", marker)
    assert bool(found) is not encrypted, found
    if encrypted:
        assert key.encode() not in (tmp_path / "nats.log").read_bytes()

    again = NatsInstance(inst.port, tmp_path / "nats", tmp_path / "nats-2.log", store_key=key).start()
    try:  # the server reads its store back with the same key
        assert asyncio.run(_publish_and_read(again.url, "JIT_TEST", b"")) == b"title: " + marker
    finally:
        again.stop()
