"""Wires the evidence service into the shared bootstrap (jitlib.server): the gRPC servicer, the consumer of
preservation-order events, and the deadline-alert scanner (jitlib.alerts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import grpc
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from jit.evidence.v1 import evidence_pb2, evidence_pb2_grpc
from jitlib.alerts import SYSTEM, Alert, AlertScanner
from jitlib.bus import EventConsumer
from jitlib.config import ServiceSettings
from jitlib.runtime import Runtime, UnitOfWork
from jitlib.server import ServiceSpec
from services.evidence import blobs, deadlines, events, store
from services.evidence.servicer import AlertOffsets, EvidenceServicer, KeyRing, make_emit, make_scan

MIGRATIONS = Path(__file__).parent / "migrations"


class EvidenceSettings(ServiceSettings):
    """Environment: JIT_EVIDENCE_LISTEN, JIT_EVIDENCE_DATABASE_URL, ... (see README)."""

    model_config = SettingsConfigDict(env_prefix="JIT_EVIDENCE_", extra="ignore")
    listen: str = "127.0.0.1:50052"
    #: Where encrypted evidence blobs live; empty means <state dir>/evidence-blobs.
    blob_dir: str = ""
    #: The node's key-encryption key, base64 of 32 bytes. Never stored in the database.
    kek: str = Field(default="", repr=False)
    #: A file holding the KEK (base64) instead; with neither, one is generated into the state dir (local runs).
    kek_file: str = ""
    #: Warnings before a deadline (comma-separated, units d h m); one more is sent when it passes.
    warn_offsets: str = "48h,8h"
    #: Warnings for deadlines of 24 hours or less (the 8-hour emergency EPOC).
    short_warn_offsets: str = "2h"
    #: Seconds between deadline scans (a change that sets a deadline wakes the scanner too).
    scan_interval_seconds: float = Field(default=30.0, gt=0)

    def offsets(self) -> AlertOffsets:
        return AlertOffsets(
            deadlines.parse_offsets(self.warn_offsets), deadlines.parse_offsets(self.short_warn_offsets)
        )


def _claim(session: Session, table: Table, alert: Alert, now: datetime) -> bool:
    """Record the alert as sent; False when another scan recorded it first. RETURNING says whether a row was
    inserted on both databases (on PostgreSQL with psycopg the plain rowcount of ON CONFLICT DO NOTHING is -1,
    which jitlib.alerts._insert_once reads as "inserted": reported, to be fixed there)."""
    values = {"key": alert.key, "due_at": alert.due_at, "sent_at": now}
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    stmt = ins.values(**values).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
    return session.execute(stmt).first() is not None


class ExactlyOnceScanner(AlertScanner):
    """jitlib's AlertScanner with a claim that is exact on PostgreSQL too (see ``_claim``)."""

    async def scan_once(self) -> int:
        rt, table, scan, emit = self._rt, self._table, self._scan, self._emit
        now = rt.clock.now()
        due = await rt.read(lambda session: list(scan(session, now)))
        sent = 0
        for alert in due:

            def unit(uow: UnitOfWork, alert: Alert = alert) -> bool:
                if not _claim(uow.session, table, alert, now):
                    return False
                emit(uow, alert)
                return True

            if await rt.change(SYSTEM, unit):
                sent += 1
        return sent


def spec(settings: EvidenceSettings | None = None) -> ServiceSpec:
    """The service's spec. ``extra["scanner"]`` holds the running AlertScanner and ``extra["blobs"]`` the
    blob store (tests use both)."""
    settings = settings or EvidenceSettings()
    offsets = settings.offsets()
    extra: dict[str, Any] = {}

    def register(rt: Runtime, server: grpc.aio.Server) -> Sequence[str]:
        state_dir = rt.common.state_dir
        root = Path(settings.blob_dir) if settings.blob_dir else state_dir / "evidence-blobs"
        blob_store = blobs.BlobStore(root)
        kek = blobs.load_kek(settings.kek, Path(settings.kek_file) if settings.kek_file else None, state_dir)
        servicer = EvidenceServicer(rt, blob_store, KeyRing(rt, kek), offsets)
        scanner = extra.get("scanner")
        if scanner is not None:
            servicer.wake_scanner = scanner.wake
        extra.update(blobs=blob_store, servicer=servicer)
        evidence_pb2_grpc.add_EvidenceServiceServicer_to_server(servicer, server)
        return [evidence_pb2.DESCRIPTOR.services_by_name["EvidenceService"].full_name]

    def background(rt: Runtime) -> Sequence[EventConsumer]:
        scanner = ExactlyOnceScanner(
            rt, store.ALERTS, make_scan(offsets), make_emit(rt), interval=settings.scan_interval_seconds
        )
        extra["scanner"] = scanner
        # The bootstrap starts and stops these; the scanner has the same start()/stop() shape.
        return [*events.consumers(rt), cast(EventConsumer, scanner)]

    return ServiceSpec(
        name="evidence",
        metadata=store.Base.metadata,
        tables=store.RUNTIME,
        migrations_dir=MIGRATIONS,
        streams=[events.STREAM],
        register=register,
        consumers=background,
        extra=extra,
    )
