"""What the victims service publishes: one event per change, subject jit.victims.<lead>.<event>, in the
jit.events.v1.Envelope with the pseudonym-level Victim as state: never its identity, nor a notice's note."""

from __future__ import annotations

from jitlib.bus import stream_for
from jitlib.envelopes import RecordEvents

STREAM = stream_for("victims")
#: ``notice_recorded`` is ``jit.victims.v1.VictimNoticeRecorded``, on ``jit.victims.<lead>.notice_recorded``.
EVENTS = RecordEvents("victims", "Victim", aggregate_type="victim")
subject, event_type, envelope = EVENTS.subject, EVENTS.event_type, EVENTS.envelope
