"""jit.retention.v1.RetentionService, served by every service: a prosecutor of a workspace's lead
jurisdiction sets and releases a legal hold on the workspace, or on one of its records, in that service
(rule LEGAL_HOLD; ``jit retention hold`` calls every service). While a hold is active the service's
retention sweep (``jitlib.retention_sweep``) and messaging's clock delete nothing of the workspace: one
content key per (service, workspace), so a record's hold keeps its whole workspace in that service.

An administrator's hold (``jit admin retention hold``) is the workspace directory's, announced to every
service; this one is the service's own (on a federation, the node's own: a hold on the lead's node does not
reach the members' nodes). Each is audited; the reason is sealed under the workspace's key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import grpc
from google.protobuf import timestamp_pb2
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from jit.retention.v1 import retention_pb2, retention_pb2_grpc
from jitlib import auth, sealing
from jitlib.clock import as_utc
from jitlib.db import RuntimeTables
from jitlib.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from jitlib.policy import Decision, decide_hold
from jitlib.principal import Principal
from jitlib.runtime import Runtime, UnitOfWork
from jitlib.validate import WORKSPACE_ID

#: The kinds of record a hold may name ("" for the whole workspace).
RECORD_TYPES = frozenset({"task", "evidence_request", "evidence_item", "preservation_order", "victim", "channel"})
REASON_MAX = 500
_RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
#: The record type of a hold's audit entries.
HOLD = "legal_hold"


@dataclass(frozen=True)
class Hold:
    workspace_id: str
    record_type: str
    record_id: str
    reason: str
    set_by: str
    set_by_jurisdiction: str
    set_at: datetime
    released_at: datetime | None
    released_by: str

    @property
    def active(self) -> bool:
        return self.released_at is None


def _name(workspace_id: str, record_type: str, record_id: str) -> str:
    return f"legal-hold/{workspace_id}/{record_type}/{record_id}"


def _hold(session: Session, row: Any) -> Hold:
    opened = sealing.open_payload(
        session, row["sealed_reason"], _name(row["workspace_id"], row["record_type"], row["record_id"])
    )
    return Hold(
        workspace_id=row["workspace_id"],
        record_type=row["record_type"],
        record_id=row["record_id"],
        reason=opened.decode() if opened is not None else sealing.DESTROYED,
        set_by=row["set_by"],
        set_by_jurisdiction=row["set_by_jurisdiction"],
        set_at=as_utc(row["set_at"]),
        released_at=as_utc(row["released_at"]) if row["released_at"] is not None else None,
        released_by=row["released_by"],
    )


def holds(session: Session, tables: RuntimeTables, workspace_id: str) -> list[Hold]:
    t = tables.legal_holds
    rows = session.execute(
        select(t).where(t.c.workspace_id == workspace_id).order_by(t.c.set_at, t.c.record_type, t.c.record_id)
    ).mappings()
    return [_hold(session, r) for r in rows]


def held(session: Session, tables: RuntimeTables, workspace_id: str) -> bool:
    """Whether an active hold of this service keeps the workspace (the sweep's and messaging's check)."""
    t = tables.legal_holds
    active = and_(t.c.workspace_id == workspace_id, t.c.released_at.is_(None))
    return session.execute(select(t.c.workspace_id).where(active).limit(1)).first() is not None


def set_hold(
    session: Session, tables: RuntimeTables, principal: Principal, key: tuple[str, str, str], reason: str, now: datetime
) -> Hold:
    ws, record_type, record_id = key
    t = tables.legal_holds
    values = {
        "sealed_reason": sealing.seal_payload(session, reason.encode(), _name(*key), ws),
        "set_by": principal.username,
        "set_by_jurisdiction": principal.jurisdiction,
        "set_at": now,
        "released_at": None,
        "released_by": "",
    }
    match = and_(t.c.workspace_id == ws, t.c.record_type == record_type, t.c.record_id == record_id)
    if session.execute(update(t).where(match).values(**values)).rowcount == 0:  # type: ignore[attr-defined]
        session.execute(t.insert().values(workspace_id=ws, record_type=record_type, record_id=record_id, **values))
    return _hold(session, session.execute(select(t).where(match)).mappings().one())


def release_hold(
    session: Session, tables: RuntimeTables, principal: Principal, key: tuple[str, str, str], now: datetime
) -> Hold | None:
    ws, record_type, record_id = key
    t = tables.legal_holds
    match = and_(
        t.c.workspace_id == ws, t.c.record_type == record_type, t.c.record_id == record_id, t.c.released_at.is_(None)
    )
    if session.execute(update(t).where(match).values(released_at=now, released_by=principal.username)).rowcount == 0:  # type: ignore[attr-defined]
        return None
    done = and_(t.c.workspace_id == ws, t.c.record_type == record_type, t.c.record_id == record_id)
    return _hold(session, session.execute(select(t).where(done)).mappings().one())


def _ts(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def to_pb(h: Hold) -> retention_pb2.LegalHold:
    return retention_pb2.LegalHold(
        workspace_id=h.workspace_id,
        record_type=h.record_type,
        record_id=h.record_id,
        reason=h.reason,
        set_by=h.set_by,
        set_by_jurisdiction=h.set_by_jurisdiction,
        set_at=_ts(h.set_at),
        released_at=_ts(h.released_at),
        released_by=h.released_by,
        active=h.active,
    )


def _key(request: Any, violations: list[FieldViolation]) -> tuple[str, str, str]:
    ws, record_type, record_id = request.workspace_id, request.record_type, request.record_id
    if not WORKSPACE_ID.fullmatch(ws):
        violations.append(FieldViolation("workspace_id", "must be a workspace id (3 to 63 of a-z, 0-9, '-')"))
    if record_type and record_type not in RECORD_TYPES:
        violations.append(FieldViolation("record_type", f"must be empty or one of {', '.join(sorted(RECORD_TYPES))}"))
    if record_type and not _RECORD_ID.fullmatch(record_id):
        violations.append(FieldViolation("record_id", "must be a record id (1 to 64 letters, digits, '-', '_')"))
    if not record_type and record_id:
        violations.append(FieldViolation("record_id", "must be empty when record_type is (a hold on the workspace)"))
    return ws, record_type, record_id


class RetentionServicer(retention_pb2_grpc.RetentionServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    async def _authorize(self, principal: Principal, workspace_id: str, record_id: str) -> None:
        info = self._rt.workspaces.get(workspace_id)
        decision = decide_hold(principal, workspace_id, info.lead if info is not None else None)
        if decision is Decision.ALLOW:
            return
        outcome = "not_found" if decision is Decision.NOT_FOUND else "denied"
        await self._rt.change(principal, lambda uow: uow.audit(HOLD, record_id or workspace_id, workspace_id, outcome))
        if decision is Decision.NOT_FOUND:
            raise NotFound("workspace", workspace_id)
        raise PermissionDenied(
            "NOT_ALLOWED",
            f"{principal.username} ({principal.jurisdiction}) may not set or release a legal hold: only a "
            "prosecutor of the workspace's lead jurisdiction may",
            {"jurisdiction": principal.jurisdiction},
        )

    async def SetLegalHold(
        self, request: retention_pb2.SetLegalHoldRequest, context: grpc.aio.ServicerContext
    ) -> retention_pb2.SetLegalHoldResponse:
        principal = auth.current()
        violations: list[FieldViolation] = []
        if not request.request_id or len(request.request_id) > 64:
            violations.append(FieldViolation("request_id", "is required (at most 64 characters)"))
        key = _key(request, violations)
        reason = " ".join(request.reason.split())
        if not reason or len(reason) > REASON_MAX or not reason.isprintable():
            violations.append(FieldViolation("reason", f"is required: 1 to {REASON_MAX} printable characters"))
        if violations:
            raise InvalidArgument(violations)
        await self._authorize(principal, key[0], key[2])
        now = self._rt.clock.now()

        def unit(uow: UnitOfWork) -> Hold:
            hold = set_hold(uow.session, self._rt.tables, principal, key, reason, now)
            uow.audit(HOLD, key[2] or key[0], key[0])
            return hold

        try:
            hold = await self._rt.change(principal, unit)
        except sealing.ContentDestroyed:
            raise FailedPrecondition(
                "CONTENT_DESTROYED", f"the content of workspace {key[0]} was destroyed: nothing left to hold"
            ) from None
        return retention_pb2.SetLegalHoldResponse(hold=to_pb(hold))

    async def ReleaseLegalHold(
        self, request: retention_pb2.ReleaseLegalHoldRequest, context: grpc.aio.ServicerContext
    ) -> retention_pb2.ReleaseLegalHoldResponse:
        principal = auth.current()
        violations: list[FieldViolation] = []
        key = _key(request, violations)
        if violations:
            raise InvalidArgument(violations)
        await self._authorize(principal, key[0], key[2])
        now = self._rt.clock.now()

        def unit(uow: UnitOfWork) -> Hold | None:
            hold = release_hold(uow.session, self._rt.tables, principal, key, now)
            if hold is not None:
                uow.audit(HOLD, key[2] or key[0], key[0])
            return hold

        hold = await self._rt.change(principal, unit)
        if hold is None:
            raise NotFound(HOLD, key[2] or key[0])
        return retention_pb2.ReleaseLegalHoldResponse(hold=to_pb(hold))

    async def ListLegalHolds(
        self, request: retention_pb2.ListLegalHoldsRequest, context: grpc.aio.ServicerContext
    ) -> retention_pb2.ListLegalHoldsResponse:
        principal = auth.current()
        if not WORKSPACE_ID.fullmatch(request.workspace_id):
            raise InvalidArgument.one("workspace_id", "must be a workspace id (3 to 63 of a-z, 0-9, '-')")
        await self._authorize(principal, request.workspace_id, "")
        found = await self._rt.read(lambda s: holds(s, self._rt.tables, request.workspace_id))
        return retention_pb2.ListLegalHoldsResponse(holds=[to_pb(h) for h in found])
