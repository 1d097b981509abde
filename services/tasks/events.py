"""What the tasks service publishes: one event per change, subject jit.tasks.<origin>.<event>, in the
jit.events.v1.Envelope with the full Task as state. It consumes nothing yet but the workspace directory
(handled by jitlib)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import any_pb2, timestamp_pb2

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.tasks.v1 import tasks_pb2
from jitlib.bus import stream_for
from jitlib.ids import new_id
from services.tasks.domain import Task

STREAM = stream_for("tasks")


def subject(task: Task, event: str) -> str:
    return f"jit.tasks.{task.origin_jurisdiction}.{event}"


def event_type(event: str) -> str:
    return "jit.tasks.v1.Task" + event.capitalize()


def audience(task: Task, members: frozenset[str]) -> list[str]:
    """Who is entitled to the event: the parties of a restricted task, every member otherwise."""
    return sorted(task.parties if task.restricted else members | task.parties)


def envelope(task: Task, state: tasks_pb2.Task, event: str, members: frozenset[str], now: datetime) -> Envelope:
    occurred = timestamp_pb2.Timestamp()
    occurred.FromDatetime(now)
    packed = any_pb2.Any()
    packed.Pack(state)
    return Envelope(
        id=new_id(),
        type=event_type(event),
        occurred_at=occurred,
        workspace_id=task.workspace_id,
        origin_jurisdiction=task.origin_jurisdiction,
        audience=audience(task, members),
        aggregate_type="task",
        aggregate_id=task.id,
        aggregate_version=task.version,
        actor=common_pb2.Actor(
            user_id=task.updated_by.user_id,
            username=task.updated_by.username,
            jurisdiction=task.updated_by.jurisdiction,
        ),
        state=packed,
    )
