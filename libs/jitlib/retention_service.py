"""jit.retention.v1.RetentionService, served by every service: a prosecutor of a workspace's lead
jurisdiction sets and releases a legal hold on the workspace, or on one of its records, in that service
(rule LEGAL_HOLD; ``jit retention hold`` calls every service). While a hold is active the service's
retention sweep (``jitlib.retention_sweep``) and messaging's clock delete nothing of the workspace: one
content key per (service, workspace), so a record's hold keeps its whole workspace in that service.

Each hold is a row of its own (``legal_holds``, its ``id``), never overwritten, so the list keeps every hold
set and released, with who did it and when:

- a set while no hold on the thing is active adds one; a set while one is active renews it: the active one
  is released as renewed (``superseded_by`` names the new one, ``released_by`` the setter) and the new one,
  with the new reason, takes its place. At most one hold per (workspace, record_type, record_id) is active,
  which the database enforces too (the partial unique index ``ux_legal_holds_active``);
- a set is keyed by (caller, ``request_id``) as every create is (``jitlib.records``): a retry answers the
  hold the first call set, as it is now (released since: still released, never switched on again), with no
  second audit entry; the same ``request_id`` with another request is FAILED_PRECONDITION
  ``REQUEST_ID_REUSED``. A release is keyed the same way by its own ``request_id``: a retry answers the
  release it did, never NOT_FOUND;
- each set and release first locks the workspace's key row (``sealing.WorkspaceClaims.lock``: the content
  keys' table, or messaging's own keys table), as the retention shred's steps do (the sweep's, messaging's
  scanner's): sets and releases of one workspace follow one another (two concurrent first sets end in one
  active hold, the second renewing the first, or answering it when it is the same request), and a set is
  never answered OK while the shred destroys the workspace's content (FAILED_PRECONDITION
  ``CONTENT_BEING_DESTROYED`` while it erases the stream copies, ``CONTENT_DESTROYED`` after). A unique
  index that still refuses an insert (a race no lock ordered) makes the call run again, once it can see
  what won, never INTERNAL.

An administrator's hold (``jit admin retention hold``) is the workspace directory's, announced to every
service; this one is the service's own (on a federation, the node's own: a hold on the lead's node does not
reach the members' nodes). Each set, release and list is audited (a list opens the sealed reasons); the
reason is sealed under the workspace's key."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import grpc
from google.protobuf import timestamp_pb2
from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jit.retention.v1 import retention_pb2, retention_pb2_grpc
from jitlib import auth, sealing
from jitlib.clock import as_utc
from jitlib.db import RuntimeTables
from jitlib.envelopes import request_digest
from jitlib.errors import (
    Aborted,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from jitlib.ids import new_id
from jitlib.policy import Decision, decide_hold
from jitlib.principal import Principal
from jitlib.runtime import Runtime, UnitOfWork
from jitlib.validate import WORKSPACE_ID

T = TypeVar("T")

#: The kinds of record a hold may name ("" for the whole workspace).
RECORD_TYPES = frozenset({"task", "evidence_request", "evidence_item", "preservation_order", "victim", "channel"})
REASON_MAX = 500
REQUEST_ID_MAX = 64
_RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
#: The record type of a hold's audit entries.
HOLD = "legal_hold"
#: How many times a set or release runs when a unique index refused it (another call won a race).
ATTEMPTS = 3


@dataclass(frozen=True)
class Hold:
    id: str
    workspace_id: str
    record_type: str
    record_id: str
    reason: str
    set_by: str
    set_by_jurisdiction: str
    set_at: datetime
    released_at: datetime | None
    released_by: str
    #: The hold that renewed this one ("" when a release ended it, or while it is active).
    superseded_by: str = ""

    @property
    def active(self) -> bool:
        return self.released_at is None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.workspace_id, self.record_type, self.record_id


def _name(workspace_id: str, record_type: str, record_id: str) -> str:
    return f"legal-hold/{workspace_id}/{record_type}/{record_id}"


def _hold(session: Session, row: Any) -> Hold:
    opened = sealing.open_payload(
        session, row["sealed_reason"], _name(row["workspace_id"], row["record_type"], row["record_id"])
    )
    return Hold(
        id=row["id"],
        workspace_id=row["workspace_id"],
        record_type=row["record_type"],
        record_id=row["record_id"],
        reason=opened.decode() if opened is not None else sealing.DESTROYED,
        set_by=row["set_by"],
        set_by_jurisdiction=row["set_by_jurisdiction"],
        set_at=as_utc(row["set_at"]),
        released_at=as_utc(row["released_at"]) if row["released_at"] is not None else None,
        released_by=row["released_by"],
        superseded_by=row["superseded_by"],
    )


def holds(session: Session, tables: RuntimeTables, workspace_id: str) -> list[Hold]:
    """Every hold of the workspace in this service, active and released, in the order they were set."""
    t = tables.legal_holds
    rows = session.execute(
        select(t).where(t.c.workspace_id == workspace_id).order_by(t.c.set_at, t.c.id, t.c.record_type, t.c.record_id)
    ).mappings()
    return [_hold(session, r) for r in rows]


def held(session: Session, tables: RuntimeTables, workspace_id: str) -> bool:
    """Whether an active hold of this service keeps the workspace (the sweep's and messaging's check)."""
    t = tables.legal_holds
    active = and_(t.c.workspace_id == workspace_id, t.c.released_at.is_(None))
    return session.execute(select(t.c.workspace_id).where(active).limit(1)).first() is not None


def _of_key(t: Any, key: tuple[str, str, str]) -> Any:
    ws, record_type, record_id = key
    return and_(t.c.workspace_id == ws, t.c.record_type == record_type, t.c.record_id == record_id)


def _one(session: Session, t: Any, where: Any) -> Hold | None:
    row = session.execute(select(t).where(where)).mappings().first()
    return _hold(session, row) if row is not None else None


def _lock(session: Session, workspace_id: str, *, create: bool) -> sealing.KeyLock | None:
    """Lock the workspace's key row (``sealing.WorkspaceClaims.lock``: the service's content keys', or
    messaging's own)."""
    claims = sealing.session_claims(session)
    return claims.lock(session, workspace_id, create=create) if claims is not None else None


def _settable(state: sealing.KeyLock | None, workspace_id: str) -> None:
    """Refuse a new hold while the workspace's content is being destroyed, or once it is."""
    if state is None:
        return
    if state.shredding_since is None:
        if state.destroyed:
            raise sealing.ContentDestroyed(workspace_id)
        return
    raise FailedPrecondition(
        "CONTENT_BEING_DESTROYED",
        f"the retention period of workspace {workspace_id} in this service has ended and its content is being "
        "destroyed: nothing is left to hold once it is (if the destruction stops, a retry sets the hold)",
        {"workspace_id": workspace_id},
    )


def _reused(what: str) -> FailedPrecondition:
    return FailedPrecondition(
        "REQUEST_ID_REUSED",
        f"request_id was already used for a different {what}; generate a new one",
        {"field": "request_id"},
    )


def set_hold(
    session: Session,
    tables: RuntimeTables,
    principal: Principal,
    key: tuple[str, str, str],
    reason: str,
    now: datetime,
    *,
    request_id: str,
    digest: str,
) -> tuple[Hold, bool]:
    """Set a hold on ``key`` in the caller's transaction: (the hold, whether it is a new one). A retry of
    ``request_id`` by the same caller answers the hold the first call set, as it is now (``digest``, the
    request's: another request is ``REQUEST_ID_REUSED``); an active hold on ``key`` is renewed (released
    as superseded by the new one). Locks the workspace's key row first (see the module's docstring)."""
    ws = key[0]
    t = tables.legal_holds
    state = _lock(session, ws, create=True)
    first = (
        session.execute(select(t).where(t.c.set_by_id == principal.user_id, t.c.request_id == request_id))
        .mappings()
        .first()
    )
    if first is not None:
        if first["request_digest"] != digest:
            raise _reused("legal hold")
        return _hold(session, first), False
    _settable(state, ws)
    hold_id = new_id()
    active = session.execute(
        select(t.c.id).where(_of_key(t, key), t.c.released_at.is_(None)).with_for_update()
    ).scalar()
    if active is not None:
        session.execute(
            update(t)
            .where(t.c.id == active, t.c.released_at.is_(None))
            .values(
                released_at=now,
                released_by_id=principal.user_id,
                released_by=principal.username,
                superseded_by=hold_id,
            )
        )
    session.execute(
        t.insert().values(
            id=hold_id,
            workspace_id=ws,
            record_type=key[1],
            record_id=key[2],
            sealed_reason=sealing.seal_payload(session, reason.encode(), _name(*key), ws),
            set_by_id=principal.user_id,
            set_by=principal.username,
            set_by_jurisdiction=principal.jurisdiction,
            set_at=now,
            request_id=request_id,
            request_digest=digest,
        )
    )
    hold = _one(session, t, t.c.id == hold_id)
    assert hold is not None
    return hold, True


def release_hold(
    session: Session,
    tables: RuntimeTables,
    principal: Principal,
    key: tuple[str, str, str],
    now: datetime,
    *,
    request_id: str,
) -> tuple[Hold, bool] | None:
    """Release the active hold on ``key`` in the caller's transaction: (the hold, whether this call released
    it), or None when none is active. A retry of ``request_id`` by the same caller answers the release it
    did (another key is ``REQUEST_ID_REUSED``)."""
    t = tables.legal_holds
    _lock(session, key[0], create=False)
    done = _one(session, t, and_(t.c.released_by_id == principal.user_id, t.c.release_request_id == request_id))
    if done is not None:
        if done.key != key:
            raise _reused("legal hold's release")
        return done, False
    active = session.execute(
        select(t.c.id).where(_of_key(t, key), t.c.released_at.is_(None)).with_for_update()
    ).scalar()
    if active is None:
        return None
    released = session.execute(
        update(t)
        .where(t.c.id == active, t.c.released_at.is_(None))
        .values(
            released_at=now,
            released_by_id=principal.user_id,
            released_by=principal.username,
            release_request_id=request_id,
        )
    )
    if released.rowcount == 0:  # type: ignore[attr-defined]
        return None
    hold = _one(session, t, t.c.id == active)
    assert hold is not None
    return hold, True


async def _retried(run: Callable[[], Any]) -> Any:
    """``run()`` again when a unique index of ``legal_holds`` refused its write (another call won a race
    the key row's lock did not order): the next run sees what won. ABORTED when it keeps losing."""
    for _ in range(ATTEMPTS):
        try:
            return await run()
        except IntegrityError:
            continue
    raise Aborted("HOLD_CONFLICT", "the legal hold was changed by another call at the same time; try again")


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
        id=h.id,
        superseded_by=h.superseded_by,
    )


def _request_id(request: Any, violations: list[FieldViolation]) -> None:
    if not request.request_id or len(request.request_id) > REQUEST_ID_MAX or not request.request_id.isprintable():
        violations.append(FieldViolation("request_id", f"is required (at most {REQUEST_ID_MAX} printable characters)"))


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
        _request_id(request, violations)
        key = _key(request, violations)
        reason = " ".join(request.reason.split())
        if not reason or len(reason) > REASON_MAX or not reason.isprintable():
            violations.append(FieldViolation("reason", f"is required: 1 to {REASON_MAX} printable characters"))
        if violations:
            raise InvalidArgument(violations)
        await self._authorize(principal, key[0], key[2])
        digest = request_digest(request)

        def unit(uow: UnitOfWork) -> Hold:
            hold, new = set_hold(
                uow.session,
                self._rt.tables,
                principal,
                key,
                reason,
                self._rt.clock.now(),
                request_id=request.request_id,
                digest=digest,
            )
            if new:
                uow.audit(HOLD, key[2] or key[0], key[0])
            return hold

        try:
            hold: Hold = await _retried(lambda: self._rt.change(principal, unit))
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
        _request_id(request, violations)
        key = _key(request, violations)
        if violations:
            raise InvalidArgument(violations)
        await self._authorize(principal, key[0], key[2])

        def unit(uow: UnitOfWork) -> Hold | None:
            done = release_hold(
                uow.session, self._rt.tables, principal, key, self._rt.clock.now(), request_id=request.request_id
            )
            if done is None:
                return None
            hold, new = done
            if new:
                uow.audit(HOLD, key[2] or key[0], key[0])
            return hold

        hold: Hold | None = await _retried(lambda: self._rt.change(principal, unit))
        if hold is None:
            raise NotFound(HOLD, key[2] or key[0])
        return retention_pb2.ReleaseLegalHoldResponse(hold=to_pb(hold))

    async def ListLegalHolds(
        self, request: retention_pb2.ListLegalHoldsRequest, context: grpc.aio.ServicerContext
    ) -> retention_pb2.ListLegalHoldsResponse:
        principal = auth.current()
        ws = request.workspace_id
        if not WORKSPACE_ID.fullmatch(ws):
            raise InvalidArgument.one("workspace_id", "must be a workspace id (3 to 63 of a-z, 0-9, '-')")
        await self._authorize(principal, ws, "")

        # The list opens the sealed reasons (case text): audited with the read, as a record's Get is.
        def unit(uow: UnitOfWork) -> list[Hold]:
            found = holds(uow.session, self._rt.tables, ws)
            uow.audit(HOLD, ws, ws)
            return found

        found = await self._rt.change(principal, unit)
        return retention_pb2.ListLegalHoldsResponse(holds=[to_pb(h) for h in found])
