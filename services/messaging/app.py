"""Wires the messaging service into the shared bootstrap (jitlib.server): the key ring, sealed content,
channel writes, live delivery, the receipt writer, the consumers, the retention scanner, the warnings of
each JIT's agreed period and, on a federation, the messages sent to a country that joins a workspace."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import grpc
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from jit.messaging.v1 import messaging_pb2, messaging_pb2_grpc
from jitlib import crypto, joining, period, sealing
from jitlib.bus import stream_for
from jitlib.config import ServiceSettings
from jitlib.runtime import Runtime
from jitlib.server import ServiceSpec, Worker
from services.messaging import events, notices, peers, period_warnings, store
from services.messaging.channels import Channels
from services.messaging.content import Content, seal_clear_titles
from services.messaging.domain import MessageInChannel
from services.messaging.keys import RECHECK_SECONDS, ChannelKeys
from services.messaging.live import Live
from services.messaging.receipts import ReceiptWriter
from services.messaging.servicer import MessagingServicer

MIGRATIONS = Path(__file__).parent / "migrations"
# At start, before serving, the titles of restricted channels still in clear (from before they were
# sealed, migration 0008) are sealed under their channels' keys, with jitlib's own backfills.
sealing.backfilled(store.Base.metadata, seal_clear_titles)
#: The records whose events become notices in their threads.
RECORD_STREAMS = ("tasks", "evidence", "preservation")
#: How many record events become notices in one transaction at most. One transaction per event made the
#: notices most of the process's work under load (bench/README.md, "A 10-minute mixed load"); a larger
#: batch holds the loop longer on SQLite, where a unit of work runs inline on it.
NOTICE_BATCH = 16


class MessagingSettings(ServiceSettings):
    """Environment: JIT_MESSAGING_LISTEN, JIT_MESSAGING_DATABASE_URL, JIT_MESSAGING_KEK, ... (see README)."""

    model_config = SettingsConfigDict(env_prefix="JIT_MESSAGING_", extra="ignore")
    listen: str = "127.0.0.1:50054"
    #: Where sealed attachments live; empty means <state dir>/messaging-blobs.
    blob_dir: Path | None = None
    #: Days after this node first saw a workspace closed before its keys are destroyed ...
    retention_days: float = Field(default=3 * 365, ge=0)
    #: ... and then this many more days, in which an erroneous closure can still be undone (reopened).
    shred_grace_days: float = Field(default=7, ge=0)
    retention_scan_seconds: float = Field(default=300, gt=0)
    #: A replica uses a cached key at most this long before it looks at its workspace key in the store
    #: again (how late a replica that missed a shred's event stops using the destroyed keys).
    key_recheck_seconds: float = Field(default=RECHECK_SECONDS, gt=0, le=300)
    #: Warnings before the last day of a JIT's agreed period (durations, comma-separated); one more is
    #: sent on the last day and one once it has ended (``period_warnings``, rule JIT_PERIOD_WARNING).
    period_warning_offsets: str = period.DEFAULT_OFFSETS
    period_scan_seconds: float = Field(default=300, gt=0)

    @field_validator("period_warning_offsets")
    @classmethod
    def _offsets(cls, value: str) -> str:
        period.parse_offsets(value)  # ValueError, named by the setting, at start
        return value


@dataclass
class Parts:
    """The service's parts, built once per runtime."""

    channels: Channels
    live: Live
    receipts: ReceiptWriter


def build(settings: MessagingSettings, rt: Runtime) -> Parts:
    assert rt.keks is not None  # the node's KEKs (JIT_KEK_FILE), loaded by the bootstrap
    kek = rt.keks
    rt.relay.sealer = crypto.KekSealer(kek)  # the text of a message for other nodes, until it is sent
    blob_dir = settings.blob_dir or rt.common.state_dir / "messaging-blobs"
    blob_dir.mkdir(parents=True, exist_ok=True)
    # SQLite overwrites what it deletes (a destroyed key leaves no copy in a free page).
    sealing.enable_secure_delete(rt.db.engine)
    keys = ChannelKeys(crypto.KeyRing(kek), recheck_seconds=settings.key_recheck_seconds)
    # A legal hold's set locks the workspace's key row in this service's own keys table (``notices``).
    sealing.install_claims(rt.db.info, keys.claims)
    content = Content(keys, blob_dir)
    channels = Channels(rt, content)
    return Parts(channels, Live(rt, content), ReceiptWriter(rt, channels))


def spec(settings: MessagingSettings) -> ServiceSpec:
    built: dict[int, Parts] = {}

    def parts(rt: Runtime) -> Parts:
        if id(rt) not in built:
            built[id(rt)] = build(settings, rt)
        return built[id(rt)]

    def register(rt: Runtime, server: grpc.aio.Server) -> Sequence[str]:
        p = parts(rt)
        messaging_pb2_grpc.add_MessagingServiceServicer_to_server(
            MessagingServicer(rt, p.channels, p.live, p.receipts), server
        )
        return [messaging_pb2.DESCRIPTOR.services_by_name["MessagingService"].full_name]

    def workers(rt: Runtime) -> Sequence[Worker]:
        p = parts(rt)
        loop = asyncio.get_running_loop()
        notice = notices.notice_handler(rt, p.channels, p.live)
        # Up to NOTICE_BATCH events of a fetch become notices in one transaction (each acked after it).
        out: list[Worker] = [
            rt.consumer(f"{name}-notices", stream_for(name), f"jit.{name}.>", notice, batch=NOTICE_BATCH)
            for name in RECORD_STREAMS
        ]
        # Closures are read from the workspace directory (its confirmed state), not from the events.
        erased: notices.Erased = {}
        retention, grace = timedelta(days=settings.retention_days), timedelta(days=settings.shred_grace_days)
        scanner = notices.RetentionScanner(
            rt,
            p.channels,
            notices.retention_scan(retention, grace, rt.tables),
            notices.shredder(rt, p.channels, p.live, loop, erased),
            interval=settings.retention_scan_seconds,
            still_due=notices.still_due(retention, grace, rt.tables),
            erased=erased,
        )
        s.extra["scanner"] = scanner
        s.extra["claims"] = p.channels.content.keys.claims
        warnings = period_warnings.scanner(
            rt, p.channels, period.parse_offsets(settings.period_warning_offsets), interval=settings.period_scan_seconds
        )
        s.extra["period"] = warnings
        known = notices.notice_handler(rt, p.channels, p.live, notices=False)
        out += peers.consumers(rt, p.channels, p.live, RECORD_STREAMS, known)
        out += [scanner, warnings]
        return out

    def every_process(rt: Runtime) -> Sequence[Worker]:
        # Each process's streams are fed by its own posts (``Live.posted``) and by its own listener (the
        # posts of the other processes and replicas); each writes the receipts of its own deliveries.
        p = parts(rt)
        return [p.live, p.receipts]

    def resends(rt: Runtime) -> list[joining.ResendKind[MessageInChannel]]:
        # A country that joins a workspace gets the messages of the channels this node owns there.
        return peers.resends(rt, parts(rt).channels)

    s = ServiceSpec.of(
        "messaging",
        store,
        [events.STREAM],
        register,
        consumers=workers,
        process_workers=every_process,
        resends=resends,
    )
    s.extra["parts"] = built
    return s
