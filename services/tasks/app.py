"""Wires the tasks service into the shared bootstrap (jitlib.server)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import grpc
from pydantic_settings import SettingsConfigDict
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jitlib import joining, replicas, victimdir
from jitlib.bus import EventConsumer
from jitlib.config import ServiceSettings
from jitlib.runtime import Runtime
from jitlib.server import ServiceSpec
from services.tasks import events, follow_up, mapping, store
from services.tasks.domain import Task
from services.tasks.servicer import TaskServicer

MIGRATIONS = Path(__file__).parent / "migrations"


class TasksSettings(ServiceSettings):
    """Environment: JIT_TASKS_LISTEN, JIT_TASKS_DATABASE_URL, ... (see README)."""

    model_config = SettingsConfigDict(env_prefix="JIT_TASKS_", extra="ignore")
    listen: str = "127.0.0.1:50051"


def _register(rt: Runtime, server: grpc.aio.Server) -> Sequence[str]:
    tasks_pb2_grpc.add_TaskServiceServicer_to_server(TaskServicer(rt), server)
    return [tasks_pb2.DESCRIPTOR.services_by_name["TaskService"].full_name]


#: Tasks other countries' nodes own, held here as replicas when this node's country may see them.
REPLICAS = replicas.ReplicaKind(
    "task",
    "jit.tasks.>",
    tasks_pb2.Task,
    mapping.task_from_pb,
    store.get,
    store.TASKS.write_replica,
    # Reassigning a restricted task takes its former assignee's country out of its audience.
    store.TASKS.delete_replica,
    store.TOMBSTONES,
)


def _shared(session: Session, task: Task, members: frozenset[str], now: datetime) -> tuple[str, Envelope]:
    """A task's event for the nodes of countries that joined its workspace (``jitlib.joining``)."""
    return events.subject(task, "shared"), events.envelope(task, mapping.task_to_pb(task, now), "shared", members, now)


def _resends(rt: Runtime) -> list[joining.ResendKind[Task]]:
    return [joining.ResendKind("task", store.TASKS.owned_page, _shared)]


def _consumers(rt: Runtime) -> list[EventConsumer]:
    return [*follow_up.consumers(rt), *replicas.consumers(rt, REPLICAS), *victimdir.consumers(rt, store.VICTIMS)]


def spec(settings: TasksSettings | None = None) -> ServiceSpec:
    return ServiceSpec.of("tasks", store, [events.STREAM], _register, consumers=_consumers, resends=_resends)
