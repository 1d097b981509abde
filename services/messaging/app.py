"""Wires the messaging service into the shared bootstrap (jitlib.server)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import grpc
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from jit.messaging.v1 import messaging_pb2, messaging_pb2_grpc
from jitlib import crypto
from jitlib.alerts import AlertScanner
from jitlib.bus import EventConsumer, stream_for
from jitlib.config import ServiceSettings
from jitlib.runtime import Runtime
from jitlib.server import ServiceSpec, Worker
from jitlib.workspaces import WORKSPACE_STREAM
from services.messaging import notices, store
from services.messaging.keys import ChannelKeys
from services.messaging.servicer import Messaging, MessagingServicer

MIGRATIONS = Path(__file__).parent / "migrations"
STREAM = stream_for("messaging")
#: The records whose events become notices in their threads.
RECORD_STREAMS = ("tasks", "evidence", "preservation")


class MessagingSettings(ServiceSettings):
    """Environment: JIT_MESSAGING_LISTEN, JIT_MESSAGING_DATABASE_URL, JIT_MESSAGING_KEK, ... (see README)."""

    model_config = SettingsConfigDict(env_prefix="JIT_MESSAGING_", extra="ignore")
    listen: str = "127.0.0.1:50054"
    #: The node's key-encryption key, base64 (32 bytes). Prefer kek_file; never put it in the database.
    kek: str = ""
    kek_file: Path | None = None
    #: Where sealed attachments live; empty means <state dir>/messaging-blobs.
    blob_dir: Path | None = None
    #: Days after a workspace closes before its channel keys are destroyed.
    retention_days: float = Field(default=3 * 365, ge=0)
    retention_scan_seconds: float = Field(default=300, gt=0)


def spec(settings: MessagingSettings) -> ServiceSpec:
    state: dict[str, Messaging] = {}

    def messaging(rt: Runtime) -> Messaging:
        if "m" not in state:
            kek = crypto.load_kek(settings.kek, settings.kek_file, rt.common.state_dir / "messaging-kek.b64")
            blob_dir = settings.blob_dir or rt.common.state_dir / "messaging-blobs"
            blob_dir.mkdir(parents=True, exist_ok=True)
            state["m"] = Messaging(rt, ChannelKeys(kek), blob_dir)
        return state["m"]

    def register(rt: Runtime, server: grpc.aio.Server) -> Sequence[str]:
        messaging_pb2_grpc.add_MessagingServiceServicer_to_server(MessagingServicer(rt, messaging(rt)), server)
        return [messaging_pb2.DESCRIPTOR.services_by_name["MessagingService"].full_name]

    def workers(rt: Runtime) -> Sequence[Worker]:
        m = messaging(rt)
        group = settings.consumer_group or "messaging"
        out: list[Worker] = [
            EventConsumer(
                rt.bus,
                rt.db,
                rt.tables,
                durable=f"{group}-{name}-notices",
                stream=stream_for(name),
                filter_subject=f"jit.{name}.>",
                handler=notices.make_notice_handler(rt, m),
                clock=rt.clock,
            )
            for name in RECORD_STREAMS
        ]
        out.append(
            EventConsumer(
                rt.bus,
                rt.db,
                rt.tables,
                durable=f"{group}-closures",
                stream=WORKSPACE_STREAM,
                filter_subject="jit.workspaces.>",
                handler=notices.make_closure_handler(),
                clock=rt.clock,
            )
        )
        scanner = AlertScanner(
            rt,
            store.ALERTS,
            notices.retention_scan(timedelta(days=settings.retention_days)),
            notices.make_shredder(m),
            interval=settings.retention_scan_seconds,
        )
        state["scanner"] = scanner  # type: ignore[assignment]
        out.append(scanner)
        out.append(m.receipts)
        return out

    s = ServiceSpec(
        name="messaging",
        metadata=store.Base.metadata,
        tables=store.RUNTIME,
        migrations_dir=MIGRATIONS,
        streams=[STREAM],
        register=register,
        consumers=workers,
    )
    s.extra["state"] = state
    return s
