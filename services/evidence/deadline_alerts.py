"""Deadline alerts of evidence requests, run by ``jitlib.alerts.AlertScanner``: ``scan`` finds the alerts
due (an indexed query on ``evidence_deadlines.next_alert_at``), ``emit`` publishes one and moves the
deadline's next alert on, in the scanner's transaction (so each alert goes out exactly once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from jit.evidence.v1 import evidence_pb2 as pb
from jitlib import durations
from jitlib.alerts import Alert, Emit, Scan
from jitlib.runtime import Runtime, UnitOfWork
from services.evidence import deadlines, events, store
from services.evidence.domain import EvidenceRequest
from services.evidence.mapping import deadline_to_pb, request_to_pb

RECORD = "evidence_request"


@dataclass(frozen=True)
class AlertOffsets:
    """How long before a deadline to warn: ``long`` for most, ``short`` for deadlines of 24 hours or less."""

    long: tuple[timedelta, ...]
    short: tuple[timedelta, ...]

    @classmethod
    def parse(cls, long: str, short: str) -> AlertOffsets:
        """From settings such as "48h,8h" and "2h" (``jitlib.durations``); ValueError when malformed."""
        return cls(durations.parse_list(long), durations.parse_list(short))


def first_alert(d: deadlines.Deadline, offsets: AlertOffsets, now: datetime) -> datetime:
    """When the first alert of a deadline (re)computed at ``now`` falls due: a warning whose moment passed
    already is not sent (it would announce more time than is left), the "passed" one always is."""
    return deadlines.alert_times(d, offsets.long, offsets.short, since=now)[0][2]


def first_alerts(r: EvidenceRequest, offsets: AlertOffsets, now: datetime) -> store.AlertPlan:
    """When each running deadline's first alert falls due (``first_alert``). The store keeps the progress
    of a deadline that did not move."""
    return {d.kind: first_alert(d, offsets, now) for d in r.deadlines}


@dataclass(frozen=True)
class AlertPayload:
    deadline: store.DueDeadline
    label: str
    before: timedelta
    at: datetime
    next_at: datetime | None


def _deadline(d: store.DueDeadline) -> deadlines.Deadline:
    return deadlines.Deadline(d.kind, d.due_at, d.source, d.counted_from, d.working_days)


def make_scan(offsets: AlertOffsets) -> Scan:
    def scan(session: Session, now: datetime) -> list[Alert]:
        out = []
        for d in store.due_deadlines(session, now):
            times = deadlines.alert_times(_deadline(d), offsets.long, offsets.short)
            for i, (label, before, at) in enumerate(times):
                if at < d.next_alert_at or at > now:
                    continue
                nxt = times[i + 1][2] if i + 1 < len(times) else None
                key = f"{d.request_id}:{d.kind.value}:{label}:{durations.compact(before)}:{d.due_at.isoformat()}"
                out.append(Alert(key=key, due_at=at, payload=AlertPayload(d, label, before, at, nxt)))
        return out

    return scan


def make_emit(rt: Runtime) -> Emit:
    def emit(uow: UnitOfWork, alert: Alert) -> None:
        p: AlertPayload = alert.payload
        d = p.deadline
        store.advance_alert(uow.session, d.request_id, d.kind, d.due_at, p.next_at)
        r = store.get(uow.session, d.request_id)
        if r is None:
            return
        now = rt.clock.now()
        passed = p.label == "passed"
        state = pb.DeadlineAlert(
            request=request_to_pb(r, now),
            deadline=deadline_to_pb(_deadline(d), now, r.delay),
            seconds_before=int(p.before.total_seconds()),
            passed=passed,
        )
        event = "deadline_passed" if passed else "deadline_approaching"
        order = events.linked_order(uow.session, r)
        envelope = events.alert_envelope(r, state, rt.members_of(r), now, order)
        uow.emit(events.subject(r.origin_jurisdiction, event), envelope)
        uow.audit(RECORD, r.id, r.workspace_id)

    return emit
