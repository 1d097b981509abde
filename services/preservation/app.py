"""Wires the preservation service into the shared bootstrap (jitlib.server): the gRPC servicer, the
consumer of evidence-request events, the expiry-warning scanner (jitlib.alerts) and, on a federation of
per-country nodes, the replicas of the orders other countries' nodes own (jitlib.replicas)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from jit.preservation.v1 import preservation_pb2, preservation_pb2_grpc, scorecard_pb2, scorecard_pb2_grpc
from jitlib import replicas, stats, victimdir
from jitlib.alerts import AlertScanner
from jitlib.config import ServiceSettings
from jitlib.runtime import Runtime
from jitlib.server import ServiceSpec, Worker
from services.preservation import domain, events, mapping, providers, store
from services.preservation.scorecard_servicer import ScorecardServicer
from services.preservation.servicer import PreservationServicer

MIGRATIONS = Path(__file__).parent / "migrations"


class PreservationSettings(ServiceSettings):
    """Environment: JIT_PRESERVATION_LISTEN, JIT_PRESERVATION_DATABASE_URL, ... (see README)."""

    model_config = SettingsConfigDict(env_prefix="JIT_PRESERVATION_", extra="ignore")
    listen: str = "127.0.0.1:50053"
    #: Warnings before expiry (comma-separated; units w d h m s); one more is sent at expiry.
    warning_offsets: str = "14d,7d,48h"
    #: Seconds between warning scans (a change that may make a warning due wakes the scanner too).
    scan_interval_seconds: float = Field(default=30.0, gt=0)
    #: Orders looked at per scan (the next scan takes the rest).
    scan_batch: int = Field(default=500, gt=0)
    #: Days after which an issued, unconfirmed order is "confirmation overdue".
    confirmation_overdue_days: float = Field(default=3.0, gt=0)
    #: National preservation law of this node.
    national_period_days: int = Field(default=90, gt=0)
    national_extension_days: int = Field(default=90, ge=0)
    #: 0 means renewable without limit.
    national_max_extensions: int = Field(default=0, ge=0)
    #: A JSON provider register replacing the built-in demo register.
    providers_file: str = ""
    #: The scorecard's smallest cell (JIT_PRESERVATION_SCORECARD_K_MIN): 5 or more, a caller may only raise
    #: it (SMALL_CELLS_SUPPRESSED).
    scorecard_k_min: int = Field(default=stats.DEFAULT_K, ge=stats.DEFAULT_K, le=stats.MAX_K)

    def rules(self) -> domain.Rules:
        return domain.Rules(
            providers=providers.load(self.providers_file),
            national=domain.NationalRule(
                period_days=self.national_period_days,
                extension_days=self.national_extension_days,
                max_extensions=self.national_max_extensions,
            ),
            offsets=domain.parse_offsets(self.warning_offsets),
            confirmation_overdue_after=timedelta(days=self.confirmation_overdue_days),
        )


#: Preservation orders other countries' nodes own, held here as replicas when this node's country may
#: see them. Their events are published on ``jit.preservation.<origin>.<event>`` with aggregate type
#: ``preservation_order`` (events.RECORD).
REPLICAS = replicas.ReplicaKind(
    events.RECORD,
    "jit.preservation.>",
    preservation_pb2.PreservationOrder,
    mapping.order_from_pb,
    store.get,
    store.ORDERS.write_replica,
)


def spec(settings: PreservationSettings | None = None) -> ServiceSpec:
    """The service's spec. ``extra["scanner"]`` holds the running AlertScanner (tests call ``wake()``)."""
    settings = settings or PreservationSettings()
    rules = settings.rules()
    extra: dict[str, Any] = {"rules": rules}

    def register(rt: Runtime, server: grpc.aio.Server) -> Sequence[str]:
        preservation_pb2_grpc.add_PreservationServiceServicer_to_server(PreservationServicer(rt, rules), server)
        scorecard = ScorecardServicer(rt, rules, k_floor=settings.scorecard_k_min)
        scorecard_pb2_grpc.add_ScorecardServiceServicer_to_server(scorecard, server)
        return [
            preservation_pb2.DESCRIPTOR.services_by_name["PreservationService"].full_name,
            scorecard_pb2.DESCRIPTOR.services_by_name["ScorecardService"].full_name,
        ]

    def background(rt: Runtime) -> Sequence[Worker]:
        scan, emit = events.scan(rules, settings.scan_batch), events.emitter(rt, rules)
        scanner = AlertScanner(rt, store.ALERTS, scan, emit, interval=settings.scan_interval_seconds)
        extra["scanner"] = scanner
        return [
            events.evidence_consumer(rt, rules),
            *replicas.consumers(rt, REPLICAS),
            *victimdir.consumers(rt, store.VICTIMS),
            scanner,
        ]

    return ServiceSpec.of("preservation", store, [events.STREAM], register, consumers=background, extra=extra)
