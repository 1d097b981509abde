"""Wires the preservation service into the shared bootstrap (jitlib.server): the gRPC servicer, the
consumer of evidence-request events, the expiry-warning scanner (jitlib.alerts) and, on a federation of
per-country nodes, the replicas of the orders and removal requests other countries' nodes own
(jitlib.replicas), what this node owns sent to the node of a country that joins a workspace
(jitlib.joining), and the start's recount of the stored clocks (``recount``, a backfill)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.preservation.v1 import (
    preservation_pb2,
    preservation_pb2_grpc,
    removal_pb2,
    removal_pb2_grpc,
    scorecard_pb2,
    scorecard_pb2_grpc,
)
from jitlib import alerts, joining, replicas, stats, victimdir
from jitlib.alerts import AlertScanner
from jitlib.config import ServiceSettings
from jitlib.db import Write
from jitlib.runtime import Runtime
from jitlib.server import ServiceSpec, Worker
from services.preservation import (
    domain,
    events,
    mapping,
    providers,
    recount,
    removal_domain,
    removal_events,
    store,
)
from services.preservation.removal_domain import Removal
from services.preservation.removal_mapping import removal_from_pb, removal_to_pb
from services.preservation.removal_servicer import RemovalServicer
from services.preservation.scorecard_servicer import ScorecardServicer
from services.preservation.servicer import PreservationServicer

MIGRATIONS = Path(__file__).parent / "migrations"


class PreservationSettings(ServiceSettings):
    """Environment: JIT_PRESERVATION_LISTEN, JIT_PRESERVATION_DATABASE_URL, ... (see README)."""

    model_config = SettingsConfigDict(env_prefix="JIT_PRESERVATION_", extra="ignore")
    listen: str = "127.0.0.1:50053"
    #: Warnings before expiry (comma-separated; units w d h m s); one more is sent at expiry.
    warning_offsets: str = "14d,7d,48h"
    #: Warnings before a non-disclosure order suppressing the provider's notice to the account holder ends
    #: (comma-separated, as above); one more is sent when it has ended.
    notice_warning_offsets: str = "48h,8h"
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
    #: Removal requests: the targets of the "without undue delay" / "timely" clocks (REMOVAL_DSA_ART9_CLOCK,
    #: REMOVAL_DSA_ART22_CLOCK, REMOVAL_DSA_ART16_CLOCK; defaults GUESS), in hours.
    removal_art9_hours: float = Field(default=24.0, gt=0)
    removal_art22_hours: float = Field(default=24.0, gt=0)
    removal_art16_hours: float = Field(default=72.0, gt=0)
    #: National removal deadlines, CODE=DURATION comma-separated (REMOVAL_NATIONAL_DEADLINE; default GUESS).
    removal_national_deadlines: str = "DE=24h"

    def removal_rules(self) -> removal_domain.RemovalRules:
        return removal_domain.RemovalRules(
            art9_target=timedelta(hours=self.removal_art9_hours),
            art22_target=timedelta(hours=self.removal_art22_hours),
            art16_target=timedelta(hours=self.removal_art16_hours),
            national=removal_domain.parse_national(self.removal_national_deadlines),
        )

    def rules(self) -> domain.Rules:
        return domain.Rules(
            providers=providers.load(self.providers_file),
            national=domain.NationalRule(
                period_days=self.national_period_days,
                extension_days=self.national_extension_days,
                max_extensions=self.national_max_extensions,
            ),
            offsets=domain.parse_offsets(self.warning_offsets),
            notice_offsets=domain.parse_offsets(self.notice_warning_offsets),
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


#: Removal requests other countries' nodes own, on the same subjects (aggregate type ``removal_request``).
REMOVAL_REPLICAS = replicas.ReplicaKind(
    removal_events.RECORD,
    "jit.preservation.>",
    removal_pb2.RemovalRequest,
    removal_from_pb,
    store.get_removal,
    store.REMOVALS.write_replica,
)


def _shared_removal(session: Session, removal: Removal, members: frozenset[str], now: datetime) -> tuple[str, Envelope]:
    """A removal request's event for the nodes of countries that joined its workspace (``jitlib.joining``):
    its state as its other events carry it (no ``preservation_order_id``, no reason to go on without one: the
    order may be restricted, ``removal_mapping.removal_to_pb``)."""
    state = removal_to_pb(removal, now)
    return removal_events.subject(removal, "shared"), removal_events.envelope(removal, state, "shared", members, now)


def _resends(rules: domain.Rules) -> Callable[[Runtime], list[joining.ResendKind[Any]]]:
    """What this node owns and sends to the node of a country that joins a workspace: its orders (their
    state as the other events carry it, with this node's rules), then its removal requests."""

    def shared_order(
        session: Session, order: domain.Order, members: frozenset[str], now: datetime
    ) -> tuple[str, Envelope]:
        state = mapping.order_to_pb(order, now, rules.confirmation_overdue_after)
        return events.subject(order, "shared"), events.envelope(order, state, events.event_type("shared"), members, now)

    def kinds(rt: Runtime) -> list[joining.ResendKind[Any]]:
        return [
            joining.ResendKind(events.RECORD, store.ORDERS.owned_page, shared_order),
            joining.ResendKind(removal_events.RECORD, store.REMOVALS.owned_page, _shared_removal),
        ]

    return kinds


def spec(settings: PreservationSettings | None = None) -> ServiceSpec:
    """The service's spec. ``extra["scanner"]`` holds the running AlertScanner (tests call ``wake()``)."""
    settings = settings or PreservationSettings()
    rules = settings.rules()
    removal_rules = settings.removal_rules()
    extra: dict[str, Any] = {"rules": rules}

    def register(rt: Runtime, server: grpc.aio.Server) -> Sequence[str]:
        preservation_pb2_grpc.add_PreservationServiceServicer_to_server(PreservationServicer(rt, rules), server)
        scorecard = ScorecardServicer(rt, rules, k_floor=settings.scorecard_k_min)
        scorecard_pb2_grpc.add_ScorecardServiceServicer_to_server(scorecard, server)
        removal_pb2_grpc.add_RemovalServiceServicer_to_server(
            RemovalServicer(rt, removal_rules, rules.providers), server
        )
        return [
            preservation_pb2.DESCRIPTOR.services_by_name["PreservationService"].full_name,
            scorecard_pb2.DESCRIPTOR.services_by_name["ScorecardService"].full_name,
            removal_pb2.DESCRIPTOR.services_by_name["RemovalService"].full_name,
        ]

    def background(rt: Runtime) -> Sequence[Worker]:
        scan, emit = events.scan(rules, settings.scan_batch), events.emitter(rt, rules)
        scanner = AlertScanner(
            rt, store.ALERTS, scan, emit, interval=settings.scan_interval_seconds, batch=alerts.BATCH
        )
        extra["scanner"] = scanner
        return [
            events.evidence_consumer(rt, rules),
            *replicas.consumers(rt, REPLICAS, REMOVAL_REPLICAS),
            *victimdir.consumers(rt, store.VICTIMS),
            scanner,
        ]

    def recount_clocks(write: Write, now: datetime) -> int:
        """Expiries stored before the clocks counted their periods as they do now: recounted once, before
        serving (``services.preservation.recount``)."""
        return recount.recount(write, rules, now)

    return ServiceSpec.of(
        "preservation",
        store,
        [events.STREAM],
        register,
        consumers=background,
        extra=extra,
        resends=_resends(rules),
        backfills=[recount_clocks],
    )
