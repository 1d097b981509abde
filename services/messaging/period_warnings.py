"""The warnings of a JIT's agreed period (rule JIT_PERIOD_WARNING; Council Framework Decision 2002/465/JHA
Art. 1(1)): before the workspace's last day (60, 30 and 7 days by default), on it, and once it has ended.

The messaging service is the one component that sends them, because the members read them where they
talk: each warning is a system message in the workspace's channel (opened for it when nobody had yet),
which every member state's users see (``jit msg read workspace:<ws>``, the live stream, the console), and
an event, ``jit.messaging.<lead>.period_warning`` (``WorkspacePeriodWarning``), for any other client.

- The dates come from the workspace directory (``jitlib.workspaces``), never from an event's payload, and
  the schedule from ``jitlib.period`` (pure): only the latest warning due is sent, so a node that was down,
  or an end date set late, gives one warning saying how long is really left.
- Exactly once per warning under restarts and several replicas: ``jitlib.alerts`` records its key
  (workspace, end date, warning) in ``alerts_sent`` in the transaction that posts it; the message's
  request id is that key too, under the system sender's unique index. A new end date (``jit admin
  workspace extend``) makes new keys: the warnings start again for it.
- On a federation only the lead's node sends them: the workspace channel is its, and the message reaches
  the members' nodes as every message of that channel does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jitlib import period
from jitlib.alerts import Alert, AlertScanner, Emit, Scan
from jitlib.runtime import Runtime, UnitOfWork
from jitlib.workspaces import WorkspaceInfo, all_workspaces, get_workspace
from services.messaging import domain, events, store
from services.messaging.channels import Channels


def _sends_for(rt: Runtime, ws: WorkspaceInfo) -> bool:
    """An open workspace with an end date, whose channel this node owns (the lead's node)."""
    fed = rt.federation
    return ws.is_open and ws.last_day is not None and (fed is None or fed.is_owner(ws.lead))


def scan(rt: Runtime, offsets: tuple[timedelta, ...]) -> Scan:
    """The warning due now of each workspace (a few rows of the directory), less those already sent."""

    def run(session: Session, now: datetime) -> Sequence[Alert]:
        due = []
        for ws in all_workspaces(session, rt.tables):
            if not _sends_for(rt, ws):
                continue
            warning = period.due_warning(ws.id, ws.ends_on, offsets, now)
            if warning is not None:
                due.append(Alert(key=warning.key(), due_at=warning.due_at, payload=warning))
        sent = store.alerts_sent_among(session, [a.key for a in due])
        return [a for a in due if a.key not in sent]

    return run


def workspace_pb(ws: WorkspaceInfo) -> common_pb2.Workspace:
    return common_pb2.Workspace(
        id=ws.id,
        name=ws.name,
        lead=ws.lead,
        members=sorted(ws.members),
        starts_on=ws.starts_on,
        ends_on=ws.ends_on,
        status=common_pb2.WORKSPACE_STATUS_OPEN if ws.is_open else common_pb2.WORKSPACE_STATUS_CLOSED,
        version=ws.version,
    )


def emitter(rt: Runtime, channels: Channels) -> Emit:
    """Post the warning in the workspace's channel and publish its event, in the transaction that records
    it as sent. A workspace that changed since the scan (closed, another end date) gets nothing: its key
    names the old end date and is spent."""

    def emit(uow: UnitOfWork, alert: Alert) -> None:
        warning: period.PeriodWarning = alert.payload
        session = uow.session
        ws = get_workspace(session, rt.tables, warning.workspace_id)
        if ws is None or not _sends_for(rt, ws) or ws.last_day != warning.ends_on:
            return
        if store.workspace_shredded(session, ws.id):
            return
        now = rt.clock.now()
        channel = channels.workspace_channel(uow, ws.id, lambda _ws_id: ws, now)
        posted = channels.post(
            uow,
            channel.id,
            sender=domain.SYSTEM_SENDER,
            text=warning.text(now),
            files=[],
            request_id=warning.key(),
            digest="",
            now=now,
            system=True,
        )
        state = common_pb2.WorkspacePeriodWarning(
            workspace=workspace_pb(ws),
            label=warning.label,
            days_left=period.days_left(warning.ends_on, now),
            ended=period.has_ended(warning.ends_on, now),
            channel_id=channel.id,
            message_id=posted.message.id,
        )
        uow.emit(
            events.period_warning_subject(ws.lead), events.period_warning_envelope(state, ws.members, ws.version, now)
        )

    return emit


def scanner(rt: Runtime, channels: Channels, offsets: tuple[timedelta, ...], *, interval: float) -> AlertScanner:
    """The period warnings' scanner (its own ``AlertScanner`` on the service's ``alerts_sent``)."""
    return AlertScanner(rt, store.ALERTS, scan(rt, offsets), emitter(rt, channels), interval=interval)
