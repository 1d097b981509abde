"""jit.evidence.v1.EvidenceService: turns RPCs into domain decisions and store calls, in that order:
validate input -> load -> policy -> domain rule -> write change + event + audit in one transaction.
Uploads stream into the encrypted blob store and become an item only once their digest matched."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import grpc
from sqlalchemy.exc import IntegrityError

from jit.evidence.v1 import evidence_pb2 as pb
from jit.evidence.v1 import evidence_pb2_grpc
from jitlib import auth, paging
from jitlib.alerts import Alert
from jitlib.errors import (
    Aborted,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    JitError,
    PermissionDenied,
)
from jitlib.ids import is_uuid, new_id
from jitlib.policy import CASE_ROLES, EVIDENCE_REQUEST_RULES, Operation, visibility_scope
from jitlib.runtime import Runtime, UnitOfWork
from services.evidence import blobs, custody, deadlines, domain, events, store
from services.evidence.domain import EVIDENCE_ITEM_RULES, Actor, EvidenceRequest
from services.evidence.mapping import (
    custody_to_pb,
    deadline_to_pb,
    enum_name,
    item_to_pb,
    new_item_from_pb,
    new_request_from_pb,
    request_digest,
    request_to_pb,
    state_from_pb,
    transition_input,
    ts_to_dt,
)

log = logging.getLogger(__name__)

DEFAULT_PAGE = 50
MAX_PAGE = 200
RECORD = "evidence_request"
ITEM = "evidence_item"


def _actor(p: auth.Principal) -> Actor:
    return Actor(p.user_id, p.username, p.jurisdiction)


@dataclass(frozen=True)
class AlertOffsets:
    long: tuple[Any, ...]
    short: tuple[Any, ...]


def first_alerts(r: EvidenceRequest, offsets: AlertOffsets) -> store.AlertPlan:
    """When each running deadline's first alert falls due."""
    return {d.kind: deadlines.alert_times(d, offsets.long, offsets.short)[0][2] for d in r.deadlines}


class KeyRing:
    """Workspace data keys, unwrapped with the node's KEK on first use and kept in memory."""

    def __init__(self, rt: Runtime, kek: bytes) -> None:
        self._rt = rt
        self._kek = kek
        self._kek_id = blobs.kek_id(kek)
        self._keys: dict[str, bytes] = {}

    async def data_key(self, workspace_id: str) -> bytes:
        key = self._keys.get(workspace_id)
        if key is not None:
            return key
        found = await self._rt.read(lambda s: store.get_wrapped_key(s, workspace_id))
        if found is None:
            wrapped = blobs.wrap(self._kek, blobs.new_data_key())
            now = self._rt.clock.now()
            try:
                await self._rt.db.write(lambda s: store.insert_wrapped_key(s, workspace_id, wrapped, self._kek_id, now))
                found = (wrapped, self._kek_id)
            except IntegrityError:  # another replica created it first
                found = await self._rt.read(lambda s: store.get_wrapped_key(s, workspace_id))
                assert found is not None
        wrapped, kid = found
        if kid != self._kek_id:
            raise blobs.BlobCorrupt(f"workspace {workspace_id}'s key was wrapped by another KEK ({kid})")
        key = blobs.unwrap(self._kek, wrapped)
        self._keys[workspace_id] = key
        return key


class EvidenceServicer(evidence_pb2_grpc.EvidenceServiceServicer):
    def __init__(self, rt: Runtime, blob_store: blobs.BlobStore, keys: KeyRing, offsets: AlertOffsets) -> None:
        self.rt = rt
        self.blobs = blob_store
        self.keys = keys
        self.offsets = offsets
        #: Set by the app once the alert scanner runs: a change may make an alert due at once.
        self.wake_scanner: Any = None

    def _members(self, r: EvidenceRequest) -> frozenset[str]:
        ws = self.rt.workspaces.get(r.workspace_id)
        return ws.members if ws is not None else frozenset(r.parties)

    async def _view(self, r: EvidenceRequest, now: datetime) -> pb.EvidenceRequest:
        def q(s: Any) -> tuple[store.OrderReplica | None, int]:
            order = store.get_order(s, r.preservation_order_id) if r.preservation_order_id else None
            if order is None:
                order = store.order_naming(s, r.id)
            return order, store.item_count(s, r.id)

        order, count = await self.rt.read(q)
        return request_to_pb(r, now, order=order, item_count=count)

    # -- create and read --------------------------------------------------------------------------

    async def CreateRequest(self, request: pb.CreateRequestRequest, context: Any) -> pb.CreateRequestResponse:
        rt, principal = self.rt, auth.current()
        now = rt.clock.now()
        cmd = new_request_from_pb(request)
        InvalidArgument.raise_for(domain.new_request_violations(cmd, principal.jurisdiction, now))
        await rt.authorize(
            principal,
            Operation.CREATE,
            EVIDENCE_REQUEST_RULES,
            record_type=RECORD,
            record_id="",
            workspace_id=cmd.workspace_id,
            action="create",
        )
        digest = request_digest(request)
        try:
            workspace = rt.open_workspace(cmd.workspace_id)
            InvalidArgument.raise_for(domain.membership_violations(cmd, workspace.members))
        except (FailedPrecondition, InvalidArgument):
            replay = await rt.read(lambda s: store.find_by_request(s, principal.user_id, cmd.request_id))
            if replay is not None:
                return await self._replayed(replay, digest, now)
            raise
        r = domain.create(cmd, request_id=new_id(), actor=_actor(principal), now=now)
        state = request_to_pb(r, now)
        members = workspace.members

        def write(uow: UnitOfWork) -> None:
            store.insert_request(uow.session, r, request_id=cmd.request_id, request_digest=digest)
            uow.emit(
                events.subject(r.origin_jurisdiction, "created"),
                events.request_envelope(r, state, "created", members, now),
            )
            uow.audit(RECORD, r.id, r.workspace_id)

        try:
            await rt.change(principal, write)
        except IntegrityError:
            replay = await rt.read(lambda s: store.find_by_request(s, principal.user_id, cmd.request_id))
            if replay is None:
                raise
            return await self._replayed(replay, digest, now)
        return pb.CreateRequestResponse(request=state)

    async def _replayed(self, replay: store.StoredRequest, digest: str, now: datetime) -> pb.CreateRequestResponse:
        if replay.digest != digest:
            raise FailedPrecondition(
                "REQUEST_ID_REUSED",
                "request_id was already used for a different evidence request; generate a new one",
                {"field": "request_id", "evidence_request_id": replay.request.id},
            )
        return pb.CreateRequestResponse(request=await self._view(replay.request, now))

    async def _load_visible(
        self, principal: auth.Principal, request_id: str, operation: Operation, action: str = "", field: str = "id"
    ) -> EvidenceRequest:
        if not is_uuid(request_id):
            raise InvalidArgument.one(field, "must be a UUID")
        r = await self.rt.read(lambda s: store.get(s, request_id))
        await self.rt.authorize(
            principal,
            operation,
            EVIDENCE_REQUEST_RULES,
            record_type=RECORD,
            record_id=request_id,
            record=r.access() if r is not None else None,
            action=action,
        )
        assert r is not None  # authorize refuses a missing record as NOT_FOUND
        return r

    async def GetRequest(self, request: pb.GetRequestRequest, context: Any) -> pb.GetRequestResponse:
        principal = auth.current()
        r = await self._load_visible(principal, request.id, Operation.READ)
        await self.rt.change(principal, lambda uow: uow.audit(RECORD, r.id, r.workspace_id))
        return pb.GetRequestResponse(request=await self._view(r, self.rt.clock.now()))

    async def ListRequests(self, request: pb.ListRequestsRequest, context: Any) -> pb.ListRequestsResponse:
        rt, principal = self.rt, auth.current()
        now = rt.clock.now()
        violations: list[FieldViolation] = []
        size = request.page_size or DEFAULT_PAGE
        if not 1 <= size <= MAX_PAGE:
            violations.append(FieldViolation("page_size", f"must be between 1 and {MAX_PAGE}"))
        states = set()
        for i, value in enumerate(request.states):
            st = state_from_pb(value)
            if st is None:
                violations.append(FieldViolation(f"states[{i}]", "is not an evidence request state"))
            else:
                states.add(st)
        basis = enum_name(pb.LegalBasis, request.legal_basis, "LEGAL_BASIS_")
        if basis is None:
            violations.append(FieldViolation("legal_basis", "has an unknown value"))
        for name in ("addressee_jurisdiction", "origin_jurisdiction"):
            value = getattr(request, name)
            if value and not auth.is_jurisdiction(value):
                violations.append(FieldViolation(name, "must be a jurisdiction code"))
        if request.workspace_id and not domain.WORKSPACE_ID.match(request.workspace_id):
            violations.append(FieldViolation("workspace_id", "must be a workspace id"))
        InvalidArgument.raise_for(violations)
        after = paging.after_id(request)
        if request.workspace_id:
            await rt.authorize(
                principal, Operation.READ, None, record_type=RECORD, record_id="", workspace_id=request.workspace_id
            )
            workspaces = frozenset({request.workspace_id})
        else:
            if not principal.workspaces and principal.roles & CASE_ROLES:
                return pb.ListRequestsResponse()
            await rt.authorize(
                principal,
                Operation.READ,
                None,
                record_type=RECORD,
                record_id="",
                workspace_id=next(iter(principal.workspaces), "-"),
            )
            workspaces = principal.workspaces
        flt = store.RequestFilter(
            workspace_ids=workspaces,
            states=frozenset(states),
            legal_basis=basis or "",
            addressee_jurisdiction=request.addressee_jurisdiction,
            origin_jurisdiction=request.origin_jurisdiction,
            deadline_before=ts_to_dt(request.deadline_before, request.HasField("deadline_before")),
        )
        scope = visibility_scope(principal)

        def list_and_log(uow: UnitOfWork) -> list[EvidenceRequest]:
            uow.audit(RECORD, "*", request.workspace_id or "*")
            return store.list_visible(uow.session, scope, flt, after_id=after, limit=size + 1)

        found = await rt.change(principal, list_and_log)
        token = paging.token_after_id(found[size - 1].id, request) if len(found) > size else ""
        return pb.ListRequestsResponse(requests=[request_to_pb(r, now) for r in found[:size]], next_page_token=token)

    # -- transitions ------------------------------------------------------------------------------

    async def _transition(self, action: str, request: Any) -> pb.EvidenceRequest:
        rt, principal = self.rt, auth.current()
        now = rt.clock.now()
        t = domain.TRANSITIONS[action]
        data = transition_input(request)
        violations = domain.transition_violations(t, data, now)
        if not is_uuid(request.id):
            violations.insert(0, FieldViolation("id", "must be a UUID"))
        if request.expected_version < 0:
            violations.append(FieldViolation("expected_version", "must not be negative"))
        InvalidArgument.raise_for(violations)
        current = await self._load_visible(principal, request.id, Operation.READ)
        operation = domain.operation_for(t, current)
        await rt.authorize(
            principal,
            operation,
            EVIDENCE_REQUEST_RULES,
            record_type=RECORD,
            record_id=current.id,
            record=current.access(),
            action=action.replace("_", " "),
        )
        if request.expected_version and request.expected_version != current.version:
            raise Aborted(
                "VERSION_MISMATCH",
                f"request is at version {current.version}, not {request.expected_version}; re-read it",
                {"current_version": str(current.version)},
            )
        updated = domain.apply(current, action, data, actor=_actor(principal), now=now)
        members = self._members(updated)
        view = await self._view(updated, now)
        plan = first_alerts(updated, self.offsets)

        def write(uow: UnitOfWork) -> None:
            if not store.update_if_version(uow.session, updated, current.version, plan):
                raise Aborted("CONCURRENT_UPDATE", "request was changed by someone else meanwhile; re-read it")
            uow.emit(
                events.subject(updated.origin_jurisdiction, t.event),
                events.request_envelope(updated, view, t.event, members, now),
            )
            uow.audit(RECORD, updated.id, updated.workspace_id)

        await rt.change(principal, write)
        if self.wake_scanner is not None and updated.deadlines:
            self.wake_scanner()
        return view

    async def IssueRequest(self, request: pb.IssueRequestRequest, context: Any) -> pb.IssueRequestResponse:
        return pb.IssueRequestResponse(request=await self._transition("issue", request))

    async def AcknowledgeRequest(
        self, request: pb.AcknowledgeRequestRequest, context: Any
    ) -> pb.AcknowledgeRequestResponse:
        return pb.AcknowledgeRequestResponse(request=await self._transition("acknowledge", request))

    async def OpenReview(self, request: pb.OpenReviewRequest, context: Any) -> pb.OpenReviewResponse:
        return pb.OpenReviewResponse(request=await self._transition("open_review", request))

    async def ConcludeReview(self, request: pb.ConcludeReviewRequest, context: Any) -> pb.ConcludeReviewResponse:
        return pb.ConcludeReviewResponse(request=await self._transition("conclude_review", request))

    async def StartExecution(self, request: pb.StartExecutionRequest, context: Any) -> pb.StartExecutionResponse:
        return pb.StartExecutionResponse(request=await self._transition("start_execution", request))

    async def RecordPartialExecution(
        self, request: pb.RecordPartialExecutionRequest, context: Any
    ) -> pb.RecordPartialExecutionResponse:
        return pb.RecordPartialExecutionResponse(request=await self._transition("partially_execute", request))

    async def CompleteExecution(
        self, request: pb.CompleteExecutionRequest, context: Any
    ) -> pb.CompleteExecutionResponse:
        return pb.CompleteExecutionResponse(request=await self._transition("complete", request))

    async def CloseRequest(self, request: pb.CloseRequestRequest, context: Any) -> pb.CloseRequestResponse:
        return pb.CloseRequestResponse(request=await self._transition("close", request))

    async def RefuseRequest(self, request: pb.RefuseRequestRequest, context: Any) -> pb.RefuseRequestResponse:
        return pb.RefuseRequestResponse(request=await self._transition("refuse", request))

    async def ReportNotExecuted(
        self, request: pb.ReportNotExecutedRequest, context: Any
    ) -> pb.ReportNotExecutedResponse:
        return pb.ReportNotExecutedResponse(request=await self._transition("report_not_executed", request))

    async def WithdrawRequest(self, request: pb.WithdrawRequestRequest, context: Any) -> pb.WithdrawRequestResponse:
        return pb.WithdrawRequestResponse(request=await self._transition("withdraw", request))

    async def PostponeRequest(self, request: pb.PostponeRequestRequest, context: Any) -> pb.PostponeRequestResponse:
        return pb.PostponeRequestResponse(request=await self._transition("postpone", request))

    async def ResumeRequest(self, request: pb.ResumeRequestRequest, context: Any) -> pb.ResumeRequestResponse:
        return pb.ResumeRequestResponse(request=await self._transition("resume", request))

    async def ExtendDecisionDeadline(
        self, request: pb.ExtendDecisionDeadlineRequest, context: Any
    ) -> pb.ExtendDecisionDeadlineResponse:
        return pb.ExtendDecisionDeadlineResponse(request=await self._transition("extend_decision", request))

    async def UpdateUserNotice(self, request: pb.UpdateUserNoticeRequest, context: Any) -> pb.UpdateUserNoticeResponse:
        return pb.UpdateUserNoticeResponse(request=await self._transition("update_user_notice", request))

    # -- evidence items ---------------------------------------------------------------------------

    async def _authorize_item(
        self, principal: auth.Principal, req: EvidenceRequest | None, item_id: str, operation: Operation, action: str
    ) -> None:
        """Items follow their request's visibility. Receiving one is for either party's prosecutor or liaison."""
        if operation is Operation.CREATE:
            assert req is not None
            await self.rt.authorize(
                principal, Operation.READ, None, record_type=RECORD, record_id=req.id, record=req.access()
            )
            as_issuer = principal.jurisdiction == req.origin_jurisdiction
            op = Operation.ISSUER_ACT if as_issuer else Operation.ADDRESSEE_ACT
            await self.rt.authorize(
                principal, op, EVIDENCE_ITEM_RULES, record_type=ITEM, record_id="", record=req.access(), action=action
            )
            return
        await self.rt.authorize(
            principal,
            operation,
            EVIDENCE_ITEM_RULES,
            record_type=ITEM,
            record_id=item_id,
            record=req.access() if req is not None else None,
            action=action,
        )

    async def UploadItem(
        self, request_iterator: AsyncIterator[pb.UploadItemRequest], context: Any
    ) -> pb.UploadItemResponse:
        rt, principal = self.rt, auth.current()
        first = await anext(request_iterator, None)
        if first is None or first.WhichOneof("part") != "metadata":
            raise InvalidArgument.one("metadata", "the first message must carry the item's metadata")
        cmd = new_item_from_pb(first.metadata)
        InvalidArgument.raise_for(domain.new_item_violations(cmd))
        req = await rt.read(lambda s: store.get(s, cmd.evidence_request_id))
        if req is None:
            await rt.authorize(
                principal, Operation.READ, None, record_type=RECORD, record_id=cmd.evidence_request_id, record=None
            )
        await self._authorize_item(principal, req, "", Operation.CREATE, "receive evidence for")
        assert req is not None
        replay = await rt.read(lambda s: store.find_item_by_upload(s, principal.user_id, cmd.request_id))
        if replay is not None:
            if replay.sha256 != cmd.sha256 or replay.evidence_request_id != req.id:
                raise FailedPrecondition(
                    "REQUEST_ID_REUSED",
                    "request_id was already used for another item",
                    {"field": "metadata.request_id"},
                )
            return pb.UploadItemResponse(item=item_to_pb(replay))
        domain.receiving_check(req)
        origin = cmd.origin_jurisdiction or req.addressee_jurisdiction
        InvalidArgument.raise_for(domain.consent_violations(cmd, origin))
        data_key = await self.keys.data_key(req.workspace_id)
        writer = self.blobs.writer(req.workspace_id, data_key)
        writer.declare(cmd.sha256)
        committed = False
        try:
            n = 0
            async for msg in request_iterator:
                n += 1
                if msg.WhichOneof("part") != "chunk":
                    raise InvalidArgument.one(f"messages[{n}]", "after the metadata, only chunks may follow")
                if len(msg.chunk) > domain.CHUNK_MAX:
                    raise InvalidArgument.one(f"messages[{n}].chunk", f"must be at most {domain.CHUNK_MAX} bytes")
                if writer.size + len(msg.chunk) > cmd.size_bytes:
                    raise InvalidArgument.one("metadata.size_bytes", "more bytes arrived than declared")
                writer.write(msg.chunk)
            try:
                blob_key, existed = await asyncio.to_thread(writer.commit, cmd.sha256, cmd.size_bytes)
            except blobs.DigestMismatch as exc:
                raise InvalidArgument.one(exc.field, str(exc)) from None
            committed = True
        finally:
            if not committed:
                writer.abort()
        now = rt.clock.now()
        item = domain.EvidenceItem(
            id=new_id(),
            workspace_id=req.workspace_id,
            evidence_request_id=req.id,
            origin_jurisdiction=origin,
            media_type=cmd.media_type,
            size_bytes=writer.size,
            sha256=cmd.sha256,
            filename=cmd.filename,
            description=cmd.description,
            conditions=cmd.conditions,
            consents=cmd.consents,
            received_by=_actor(principal),
            received_at=now,
            blob_key=blob_key,
        )
        members = self._members(req)

        def write(uow: UnitOfWork) -> None:
            store.insert_item(uow.session, item, cmd.request_id)
            store.append_custody(
                uow.session, item.id, self._entry(principal, custody.Action.RECEIVED, now, item.sha256)
            )
            state = item_to_pb(item, 1)
            uow.emit(
                events.subject(req.origin_jurisdiction, "item_received"),
                events.item_envelope(item, req, state, "item_received", members, item.received_by, 1, now),
            )
            uow.audit(ITEM, item.id, item.workspace_id)

        try:
            await rt.change(principal, write)
        except BaseException:
            if not existed:
                in_use = await rt.read(lambda s: store.blob_in_use(s, blob_key))
                if not in_use:
                    self.blobs.remove(blob_key)
            raise
        return pb.UploadItemResponse(item=item_to_pb(item, 1))

    @staticmethod
    def _entry(
        principal: auth.Principal,
        action: custody.Action,
        now: datetime,
        sha256: str,
        purpose: str = "",
        recipient: str = "",
    ) -> custody.Entry:
        return custody.Entry(
            item_id="",
            seq=0,
            action=action,
            user_id=principal.user_id,
            username=principal.username,
            jurisdiction=principal.jurisdiction,
            at=now,
            purpose=purpose,
            recipient=recipient,
            sha256=sha256,
            prev_hash="",
        )

    async def _load_item(
        self, principal: auth.Principal, item_id: str, operation: Operation, action: str, field: str = "item_id"
    ) -> tuple[store.ItemWithHead, EvidenceRequest]:
        if not is_uuid(item_id):
            raise InvalidArgument.one(field, "must be a UUID")

        def q(s: Any) -> tuple[store.ItemWithHead | None, EvidenceRequest | None]:
            found = store.get_item(s, item_id)
            return found, store.get(s, found.item.evidence_request_id) if found is not None else None

        found, req = await self.rt.read(q)
        await self._authorize_item(principal, req, item_id, operation, action)
        assert found is not None and req is not None
        return found, req

    async def _record_custody(
        self, principal: auth.Principal, item: domain.EvidenceItem, entry: custody.Entry, event: str = ""
    ) -> custody.Entry:
        req_members: frozenset[str] = frozenset()
        req: EvidenceRequest | None = None
        if event:
            req = await self.rt.read(lambda s: store.get(s, item.evidence_request_id))
            assert req is not None
            req_members = self._members(req)

        def write(uow: UnitOfWork) -> custody.Entry:
            e = store.append_custody(uow.session, item.id, entry)
            if event and req is not None:
                state = item_to_pb(item, e.seq)
                uow.emit(
                    events.subject(req.origin_jurisdiction, event),
                    events.item_envelope(item, req, state, event, req_members, _actor(principal), e.seq, entry.at),
                )
            uow.audit(ITEM, item.id, item.workspace_id)
            return e

        for attempt in range(5):
            try:
                return await self.rt.change(principal, write)
            except (store.CustodyConflict, IntegrityError):
                if attempt == 4:
                    raise Aborted("CUSTODY_CONFLICT", "the item's custody chain is busy; retry") from None
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def DownloadItem(
        self, request: pb.DownloadItemRequest, context: Any
    ) -> AsyncIterator[pb.DownloadItemResponse]:
        principal = auth.current()
        violations = domain.purpose_violations(request.purpose)
        if not is_uuid(request.item_id):
            violations.insert(0, FieldViolation("item_id", "must be a UUID"))
        InvalidArgument.raise_for(violations)
        found, _req = await self._load_item(principal, request.item_id, Operation.READ, "download")
        item = found.item
        data_key = await self.keys.data_key(item.workspace_id)
        now = self.rt.clock.now()
        e = await self._record_custody(
            principal, item, self._entry(principal, custody.Action.DOWNLOADED, now, item.sha256, request.purpose)
        )
        yield pb.DownloadItemResponse(item=item_to_pb(item, e.seq))
        reader = self.blobs.read(item.blob_key, data_key)
        try:
            while True:
                chunk = await asyncio.to_thread(next, reader, None)
                if chunk is None:
                    break
                yield pb.DownloadItemResponse(chunk=chunk)
        except blobs.BlobCorrupt as exc:
            log.error("evidence item %s is corrupt: %s", item.id, exc)
            raise _DataLoss(f"evidence item {item.id} fails its integrity check; run verify") from None
        finally:
            reader.close()

    async def GetItem(self, request: pb.GetItemRequest, context: Any) -> pb.GetItemResponse:
        principal = auth.current()
        found, _ = await self._load_item(principal, request.item_id, Operation.READ, "read")
        item = found.item
        e = await self._record_custody(
            principal,
            item,
            self._entry(principal, custody.Action.ACCESSED, self.rt.clock.now(), item.sha256, "metadata"),
        )
        return pb.GetItemResponse(item=item_to_pb(item, e.seq))

    async def ListItems(self, request: pb.ListItemsRequest, context: Any) -> pb.ListItemsResponse:
        principal = auth.current()
        req = await self._load_visible(
            principal, request.evidence_request_id, Operation.READ, field="evidence_request_id"
        )
        found = await self.rt.read(lambda s: store.list_items(s, req.id))
        await self.rt.change(principal, lambda uow: uow.audit(ITEM, "*", req.workspace_id))
        return pb.ListItemsResponse(items=[item_to_pb(f.item, f.custody_seq) for f in found])

    async def RecordCustodyEvent(
        self, request: pb.RecordCustodyEventRequest, context: Any
    ) -> pb.RecordCustodyEventResponse:
        principal = auth.current()
        action = enum_name(pb.CustodyAction, request.action, "CUSTODY_ACTION_")
        violations = domain.purpose_violations(request.purpose)
        if not is_uuid(request.item_id):
            violations.insert(0, FieldViolation("item_id", "must be a UUID"))
        if action not in {a.value for a in custody.RECORDABLE}:
            violations.append(FieldViolation("action", "must be EXPORTED, TRANSFERRED or SEALED"))
        if len(request.recipient) > domain.AUTHORITY_MAX:
            violations.append(FieldViolation("recipient", f"must be at most {domain.AUTHORITY_MAX} characters"))
        if action in ("EXPORTED", "TRANSFERRED") and not request.recipient.strip():
            violations.append(FieldViolation("recipient", "is required for an export or transfer"))
        InvalidArgument.raise_for(violations)
        found, req = await self._load_item(principal, request.item_id, Operation.READ, "record custody of")
        if principal.jurisdiction not in req.parties:
            raise PermissionDenied(
                "NOT_A_PARTY",
                "only a party to the request records an export, transfer or seal",
                {"action": str(action)},
            )
        item = found.item
        act = custody.Action(str(action))
        entry = self._entry(principal, act, self.rt.clock.now(), item.sha256, request.purpose, request.recipient)
        e = await self._record_custody(principal, item, entry, event="item_" + act.value.lower())
        return pb.RecordCustodyEventResponse(entry=custody_to_pb(e))

    async def ListCustody(self, request: pb.ListCustodyRequest, context: Any) -> pb.ListCustodyResponse:
        """Case roles that see the item, and auditors (custody entries name who and why, not content)."""
        principal = auth.current()
        if not is_uuid(request.item_id):
            raise InvalidArgument.one("item_id", "must be a UUID")
        if principal.has_role("auditor"):
            await self.rt.authorize(principal, Operation.READ_AUDIT, None, record_type=ITEM, record_id=request.item_id)
        else:
            await self._load_item(principal, request.item_id, Operation.READ, "read custody of")
        entries = await self.rt.read(lambda s: store.custody_entries(s, request.item_id))
        await self.rt.change(principal, lambda uow: uow.audit(ITEM, request.item_id, "*"))
        return pb.ListCustodyResponse(entries=[custody_to_pb(e) for e in entries])

    async def VerifyEvidence(self, request: pb.VerifyEvidenceRequest, context: Any) -> pb.VerifyEvidenceResponse:
        """Auditors: recompute every stored item's digest and check every custody chain. Reads no content
        out: the answer names items and problems only."""
        principal = auth.current()
        await self.rt.authorize(principal, Operation.READ_AUDIT, None, record_type=ITEM, record_id="*")
        report = await verify_all(self.rt, self.blobs, self.keys)
        await self.rt.change(
            principal, lambda uow: uow.audit(ITEM, "*", "*", outcome="ok" if report.ok else "problems")
        )
        return report


class _DataLoss(JitError):
    code = grpc.StatusCode.DATA_LOSS


async def verify_all(rt: Runtime, blob_store: blobs.BlobStore, keys: KeyRing) -> pb.VerifyEvidenceResponse:
    out = pb.VerifyEvidenceResponse()
    after = ""
    while True:
        batch = await rt.read(functools.partial(store.all_items, after_id=after, limit=200))
        if not batch:
            break
        for found in batch:
            item = found.item
            out.items_checked += 1
            entries = await rt.read(functools.partial(store.custody_entries, item_id=item.id))
            out.custody_entries_checked += len(entries)
            check = custody.verify_chain(entries, found.custody_seq, found.custody_head)
            if not check.intact:
                out.problems.append(pb.ItemProblem(item_id=item.id, problem="chain_broken", detail=check.problem))
            for e in entries:
                if e.sha256 != item.sha256:
                    out.problems.append(
                        pb.ItemProblem(
                            item_id=item.id,
                            problem="custody_digest_mismatch",
                            detail=f"entry {e.seq} records digest {e.sha256}, the item {item.sha256}",
                        )
                    )
                    break
            try:
                key = await keys.data_key(item.workspace_id)
                digest, size = await asyncio.to_thread(blob_store.digest, item.blob_key, key)
            except blobs.BlobCorrupt as exc:
                problem = "blob_missing" if "missing" in str(exc) else "blob_corrupt"
                out.problems.append(pb.ItemProblem(item_id=item.id, problem=problem, detail=str(exc)))
                continue
            if digest != item.sha256 or size != item.size_bytes:
                out.problems.append(
                    pb.ItemProblem(
                        item_id=item.id,
                        problem="digest_mismatch",
                        detail=f"stored bytes hash to {digest} ({size} bytes), recorded {item.sha256}",
                    )
                )
        after = batch[-1].item.id
    out.ok = not out.problems
    return out


# -- deadline alerts (jitlib.alerts.AlertScanner) ----------------------------------------------------


@dataclass(frozen=True)
class AlertPayload:
    deadline: store.DueDeadline
    label: str
    before: Any
    at: datetime
    next_at: datetime | None


def make_scan(offsets: AlertOffsets) -> Any:
    def scan(session: Any, now: datetime) -> list[Any]:
        out = []
        for d in store.due_deadlines(session, now):
            dl = deadlines.Deadline(d.kind, d.due_at, d.source, d.counted_from, d.working_days)
            times = deadlines.alert_times(dl, offsets.long, offsets.short)
            for i, (label, before, at) in enumerate(times):
                if at < d.next_alert_at or at > now:
                    continue
                nxt = times[i + 1][2] if i + 1 < len(times) else None
                key = f"{d.request_id}:{d.kind.value}:{label}:{deadlines.offset_label(before)}:{d.due_at.isoformat()}"
                out.append(Alert(key=key, due_at=at, payload=AlertPayload(d, label, before, at, nxt)))
        return out

    return scan


def make_emit(rt: Runtime) -> Any:
    def emit(uow: UnitOfWork, alert: Any) -> None:
        p: AlertPayload = alert.payload
        d = p.deadline
        store.advance_alert(uow.session, d.request_id, d.kind, d.due_at, p.next_at)
        r = store.get(uow.session, d.request_id)
        if r is None:
            return
        now = rt.clock.now()
        ws = rt.workspaces.get(r.workspace_id)
        members = ws.members if ws is not None else frozenset(r.parties)
        dl = deadlines.Deadline(d.kind, d.due_at, d.source, d.counted_from, d.working_days)
        passed = p.label == "passed"
        state = pb.DeadlineAlert(
            request=request_to_pb(r, now),
            deadline=deadline_to_pb(dl, now),
            seconds_before=int(p.before.total_seconds()),
            passed=passed,
        )
        event = "deadline_passed" if passed else "deadline_approaching"
        uow.emit(events.subject(r.origin_jurisdiction, event), events.alert_envelope(r, state, event, members, now))
        uow.audit(RECORD, r.id, r.workspace_id)

    return emit
