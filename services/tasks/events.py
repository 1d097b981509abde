"""What the tasks service publishes: one event per change, subject jit.tasks.<origin>.<event>, in the
jit.events.v1.Envelope with the full Task as state. What it consumes (preservation orders' events, for their
follow-up tasks) is in follow_up.py; the workspace directory is handled by jitlib."""

from __future__ import annotations

from jitlib.bus import stream_for
from jitlib.envelopes import RecordEvents

STREAM = stream_for("tasks")
#: ``handed_back`` is ``jit.tasks.v1.TaskHandedBack``, published on ``jit.tasks.<origin>.handed_back``.
EVENTS = RecordEvents("tasks", "Task", aggregate_type="task")
subject, event_type, envelope = EVENTS.subject, EVENTS.event_type, EVENTS.envelope
