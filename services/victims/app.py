"""Wires the victims service into the shared bootstrap (jitlib.server)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import grpc
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.victims.v1 import statistics_pb2, statistics_pb2_grpc, victims_pb2, victims_pb2_grpc
from jitlib import joining, replicas, retention_sweep, stats
from jitlib.bus import EventConsumer
from jitlib.config import ServiceSettings
from jitlib.runtime import Runtime
from jitlib.server import ServiceSpec
from services.victims import events, mapping, removal_notices, stats_projection, stats_store, store
from services.victims.domain import Victim
from services.victims.servicer import VictimServicer
from services.victims.stats_servicer import StatisticsServicer

MIGRATIONS = Path(__file__).parent / "migrations"


class VictimsSettings(ServiceSettings):
    """Environment: JIT_VICTIMS_LISTEN, JIT_VICTIMS_DATABASE_URL, ... (see README)."""

    model_config = SettingsConfigDict(env_prefix="JIT_VICTIMS_", extra="ignore")
    listen: str = "127.0.0.1:50055"
    #: The node's smallest statistics cell (JIT_VICTIMS_STATS_K_MIN): 5 or more, a caller may only raise it
    #: (SMALL_CELLS_SUPPRESSED).
    stats_k_min: int = Field(default=stats.DEFAULT_K, ge=stats.DEFAULT_K, le=stats.MAX_K)


def _register(rt: Runtime, server: grpc.aio.Server) -> Sequence[str]:
    victims_pb2_grpc.add_VictimServiceServicer_to_server(VictimServicer(rt), server)
    k_min = getattr(rt.settings, "stats_k_min", stats.DEFAULT_K)
    statistics_pb2_grpc.add_StatisticsServiceServicer_to_server(StatisticsServicer(rt, k_floor=k_min), server)
    return [
        victims_pb2.DESCRIPTOR.services_by_name["VictimService"].full_name,
        statistics_pb2.DESCRIPTOR.services_by_name["StatisticsService"].full_name,
    ]


#: Victims the lead's node holds, kept here as pseudonym-level replicas when this node's country is a
#: member of the workspace (never the identity, which no event carries).
REPLICAS = replicas.ReplicaKind(
    "victim", "jit.victims.>", victims_pb2.Victim, mapping.victim_from_pb, store.get, store.VICTIMS.write_replica
)


def _shared(session: Session, victim: Victim, members: frozenset[str], now: datetime) -> tuple[str, Envelope]:
    """A victim's event for the nodes of countries that joined its workspace (``jitlib.joining``): what every
    event of hers carries, the pseudonym-level ``Victim`` (never the identity, a note or her special-category
    attributes), to every member, as ``servicer.announce`` sends it."""
    state = mapping.victim_to_pb(victim)
    return events.subject(victim, "shared"), events.envelope(victim, state, "shared", members, now)


def _resends(rt: Runtime) -> list[joining.ResendKind[Victim]]:
    return [joining.ResendKind("victim", store.VICTIMS.owned_page, _shared)]


def _consumers(rt: Runtime) -> list[EventConsumer]:
    return [*replicas.consumers(rt, REPLICAS), *stats_projection.consumers(rt), *removal_notices.consumers(rt)]


def spec(settings: VictimsSettings | None = None) -> ServiceSpec:
    # Retention: the statistics' links to the workspace's victims and their attributes go with its content.
    hooks = retention_sweep.Hooks(erase=stats_store.erase_workspace)
    return ServiceSpec.of(
        "victims",
        store,
        [events.STREAM],
        _register,
        consumers=_consumers,
        extra={"retention_hooks": hooks},
        resends=_resends,
    )
