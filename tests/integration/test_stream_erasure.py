"""``jitlib.retention_sweep.erase_workspace_messages`` against a real NATS: two passes erasing one workspace
at once (two replicas) both end well."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import nats
import pytest

from jit.events.v1.envelope_pb2 import Envelope
from jitdev.nats import NatsInstance
from jitdev.procs import free_port
from jitlib import retention_sweep

pytestmark = pytest.mark.integration


class OtherPassFirst:
    """A JetStream context whose reads let another pass erase each message just before this one deletes it."""

    def __init__(self, js: Any) -> None:
        self.js = js

    async def stream_info(self, stream: str) -> Any:
        return await self.js.stream_info(stream)

    async def get_msg(self, stream: str, seq: int) -> Any:
        msg = await self.js.get_msg(stream, seq)
        if seq % 2 and Envelope.FromString(msg.data).workspace_id == "ws-a":
            await self.js.delete_msg(stream, seq)  # the other pass erases it between this one's read and delete
        return msg

    async def delete_msg(self, stream: str, seq: int) -> bool:
        return bool(await self.js.delete_msg(stream, seq))


def test_a_message_another_pass_erased_meanwhile_is_skipped_not_an_error(tmp_path: Path) -> None:
    """A concurrent erasure of the same workspace deletes some messages first: this pass skips them (counting
    what it erased itself), keeps the other workspace's, and does not fail (a failure lets its claim go while
    the other pass still erases)."""
    instance = NatsInstance(free_port(), tmp_path / "nats", tmp_path / "nats.log").start()

    async def run() -> tuple[int, list[str]]:
        nc = await nats.connect(instance.url)
        js = nc.jetstream()
        await js.add_stream(name="JIT_PROBE", subjects=["jit.probe.>"])
        for i in range(6):
            await js.publish(
                "jit.probe.x", Envelope(id=str(i), workspace_id="ws-a" if i < 4 else "ws-b").SerializeToString()
            )
        erased = await retention_sweep.erase_workspace_messages(OtherPassFirst(js), "JIT_PROBE", "ws-a")
        info = await js.stream_info("JIT_PROBE")
        left = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                left.append(Envelope.FromString((await js.get_msg("JIT_PROBE", seq)).data).workspace_id)
            except nats.js.errors.NotFoundError:
                continue
        await nc.close()
        return erased, left

    try:
        erased, left = asyncio.run(run())
    finally:
        instance.stop()
    assert erased == 2  # seq 2 and 4: 1 and 3 were the other pass's
    assert left == ["ws-b", "ws-b"]
