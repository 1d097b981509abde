"""What the tasks service publishes: one event per change, subject jit.tasks.<origin>.<event>, in the
jit.events.v1.Envelope with the full Task as state. What it consumes (preservation orders' events, for their
follow-up tasks) is in follow_up.py; the workspace directory is handled by jitlib."""

from __future__ import annotations

from datetime import datetime

from jit.events.v1.envelope_pb2 import Envelope
from jit.tasks.v1 import tasks_pb2
from jitlib import envelopes
from jitlib.bus import stream_for
from services.tasks.domain import Task

STREAM = stream_for("tasks")


def subject(task: Task, event: str) -> str:
    return f"jit.tasks.{task.origin_jurisdiction}.{event}"


def event_type(event: str) -> str:
    """``handed_back`` -> ``jit.tasks.v1.TaskHandedBack``."""
    return "jit.tasks.v1.Task" + "".join(part.capitalize() for part in event.split("_"))


def envelope(task: Task, state: tasks_pb2.Task, event: str, members: frozenset[str], now: datetime) -> Envelope:
    return envelopes.record_envelope(
        task, state, aggregate_type="task", event_type=event_type(event), members=members, now=now
    )
