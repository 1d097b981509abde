"""jit.evidence.v1.EvidenceService: turns RPCs into domain decisions and store calls, in that order:
validate input -> load -> policy -> domain rule -> write change + event + audit in one transaction
(``jitlib.records.RecordPath`` holds the steps every service shares). Uploads stream into the encrypted
blob store and become an item only once their digest matched."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from jit.evidence.v1 import evidence_pb2 as pb
from jit.evidence.v1 import evidence_pb2_grpc
from jitlib import auth, paging, validate
from jitlib.actors import SYSTEM
from jitlib.db import Stored
from jitlib.envelopes import request_digest
from jitlib.errors import (
    Aborted,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    JitError,
    NotFound,
    PermissionDenied,
)
from jitlib.fields import same_fields
from jitlib.ids import new_id
from jitlib.mapping import ts_to_dt
from jitlib.policy import (
    EVIDENCE_ITEM_RULES,
    EVIDENCE_REQUEST_RULES,
    SENSITIVE_ITEM_ROLES,
    Decision,
    Operation,
    RecordAccess,
    SensitiveOperation,
    decide_received,
    decide_sensitive,
)
from jitlib.records import RecordPath, get_rpc, page, store_change, transition_rpc
from jitlib.runtime import Runtime, UnitOfWork
from jitlib.wire import ListWire
from jitlib.workspaces import WorkspaceInfo
from services.evidence import blobs, custody, domain, events, store, wire
from services.evidence.deadline_alerts import AlertOffsets, first_alerts
from services.evidence.domain import EvidenceRequest
from services.evidence.keys import ContentDestroyed, KeyUnavailable, WorkspaceKeys
from services.evidence.mapping import (
    REQUEST_FIELDS,
    custody_action_from_pb,
    custody_to_pb,
    item_to_pb,
    legal_basis_from_pb,
    micros,
    new_item_from_pb,
    new_request_from_pb,
    request_fields,
    request_to_pb,
    transition_input,
)
from services.evidence.store import ItemOfRequest, ItemWithHead

#: A ``ListRequests`` answer written from the requests' stored answers (``store.list_answered``).
_LIST = ListWire(pb.EvidenceRequest, pb.ListRequestsResponse, "requests")
#: What a listed request's stored answer is given after it when a party was taken out (``domain.taken_out``).
_TAKEN_OUT = {
    domain.TakenOut(True, False): _LIST.true("issuer_taken_out"),
    domain.TakenOut(False, True): _LIST.true("addressee_taken_out"),
    domain.TakenOut(True, True): _LIST.true("issuer_taken_out") + _LIST.true("addressee_taken_out"),
}

log = logging.getLogger(__name__)

RECORD = "evidence_request"
ITEM = "evidence_item"

T = TypeVar("T")


class EvidenceServicer(evidence_pb2_grpc.EvidenceServiceServicer):
    def __init__(self, rt: Runtime, blob_store: blobs.BlobStore, keys: WorkspaceKeys, offsets: AlertOffsets) -> None:
        self.rt = rt
        self.blobs = blob_store
        self.keys = keys
        self.offsets = offsets
        self.requests = RecordPath(
            rt,
            EVIDENCE_REQUEST_RULES,
            store.get,
            EvidenceRequest.access,
            store.find_by_request,
            victims=store.VICTIMS,
            pages_on_loop=True,
        )
        #: Items follow the visibility of the request they were received against.
        self.items = RecordPath(
            rt,
            EVIDENCE_ITEM_RULES,
            store.get_item_of_request,
            lambda found: found.request.item_access(),
            workspace_of=lambda found: found.request.workspace_id,
        )
        #: Set by the app once the alert scanner runs: a change may make an alert due at once (it wakes it).
        self.wake_scanner: Any = None

    async def _view(self, principal: auth.Principal, r: EvidenceRequest, now: datetime) -> pb.EvidenceRequest:
        """The request as ``principal`` sees it: with its item count only when the policy lets the caller learn
        what it received (``decide_received``: not an enforcing state that reads the order only), and with its
        linked preservation order (id, state, expiry) only when the policy lets the caller read that order."""
        order, count = await self.rt.read(lambda s: store.linked_order_and_items(s, r))
        shown = domain.order_shown(principal, r, order)
        received = decide_received(principal, r.item_access()) is Decision.ALLOW
        view = request_to_pb(
            r,
            now,
            order=order if shown else None,
            item_count=count if received else 0,
            hide_link=not (shown and order is not None and order.id == r.preservation_order_id),
            allowed_actions=self._allowed(principal, r, now),
        )
        view.issuer_taken_out, view.addressee_taken_out = self._taken_out(r.workspace_id, r.access())
        return view

    def _taken_out(self, workspace_id: str, access: RecordAccess) -> domain.TakenOut:
        """Which of the request's parties were taken out of its workspace, as this node's directory says now
        (``domain.taken_out``: a dict lookup, no query; none for a workspace it does not know yet)."""
        workspace = self.rt.workspaces.get(workspace_id)
        return domain.NOT_TAKEN_OUT if workspace is None else domain.taken_out(access, workspace.members)

    def _allowed(self, principal: auth.Principal, r: EvidenceRequest, now: datetime) -> tuple[str, ...]:
        """The actions ``principal`` may take on ``r`` at ``now`` (never in an event's state: they are the
        caller's, not the request's, and some depend on the clock)."""
        return self.requests.allowed_actions(r, domain.allowed_actions(r, principal, now))

    async def _linkable_order(self, order_id: str) -> domain.OrderReplica | None:
        """The order a new request names, from the replica; None when it names none."""
        if not order_id:
            return None
        return await self.rt.read(lambda s: store.get_order(s, order_id))

    # -- create and read --------------------------------------------------------------------------

    async def CreateRequest(self, request: pb.CreateRequestRequest, context: Any) -> pb.CreateRequestResponse:
        _, principal, now = self.rt.call()
        cmd = new_request_from_pb(request)
        InvalidArgument.raise_for(domain.new_request_violations(cmd, principal.jurisdiction, now))
        order = await self._linkable_order(cmd.preservation_order_id)

        def admit(workspace: WorkspaceInfo) -> list[FieldViolation]:
            members = domain.membership_violations(cmd, workspace.members, workspace.lead)
            return members + domain.issuer_violations(cmd, principal.jurisdiction)

        def build(workspace: WorkspaceInfo) -> EvidenceRequest:
            # Only the order's issuing side links to it (an issued request moves the order on); an order
            # the caller may not see is answered like one that does not exist.
            if cmd.preservation_order_id and not domain.may_link_order(principal, order, cmd.workspace_id):
                raise domain.order_not_linkable()
            return domain.create(cmd, request_id=new_id(), actor=principal.actor, now=now)

        def announce(uow: UnitOfWork, r: EvidenceRequest, workspace: WorkspaceInfo) -> None:
            state = request_to_pb(r, now)
            order = events.linked_order(uow.session, r)
            uow.emit(
                events.subject(r.origin_jurisdiction, "created"),
                events.request_envelope(r, state, "created", workspace.members, now, order),
            )

        created = await self.requests.create_record(
            principal, request, cmd, build, store.REQUESTS, announce, admit=admit
        )
        if created.replayed:  # the stored request as it is now, with its linked order and items
            return pb.CreateRequestResponse(request=await self._view(principal, created.record, now))
        return pb.CreateRequestResponse(
            request=request_to_pb(created.record, now, allowed_actions=self._allowed(principal, created.record, now))
        )

    GetRequest = get_rpc("requests", pb.GetRequestResponse, "request")

    async def ListRequests(self, request: pb.ListRequestsRequest, context: Any) -> bytes:
        """A page of requests, as the serialized ``ListRequestsResponse``: each request's stored answer with
        its linked order's id where the caller may see the order, its deadlines overdue now, and what the
        caller may do on it now (``jitlib.answers``); a request whose answer does not open (written before,
        its workspace shredded) made from its row as before."""
        rt, principal, now = self.rt.call()
        size, states, violations = REQUEST_FIELDS.list_filters(request)
        basis = legal_basis_from_pb(request.legal_basis)
        if basis is None:
            violations.append(FieldViolation("legal_basis", "has an unknown value"))
        violations += validate.jurisdiction("addressee_jurisdiction", request.addressee_jurisdiction, required=False)
        violations += validate.jurisdiction("origin_jurisdiction", request.origin_jurisdiction, required=False)
        InvalidArgument.raise_for(violations)
        after = paging.after_id(request)
        flt = store.RequestFilter(
            states=states,
            legal_basis=basis or "",
            addressee_jurisdiction=request.addressee_jurisdiction,
            origin_jurisdiction=request.origin_jurisdiction,
            deadline_before=ts_to_dt(request.deadline_before, request.HasField("deadline_before")),
            victim_ref=request.victim_ref,
        )
        # The requests of the caller's workspaces and, wherever they are, those addressed to its jurisdiction
        # by a workspace it is not a member of (ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT).
        found = await self.requests.list_addressed(
            principal,
            request.workspace_id,
            store.addressed_in,
            store.list_answered,
            flt,
            after_id=after,
            limit=size + 1,
        )
        listed, token = page(found, size, lambda r: paging.token_after_id(r.id, request))
        linked = {r.preservation_order_id for r in listed if r.preservation_order_id}
        # A page that links no order needs no second transaction.
        orders = await rt.read(lambda s: store.orders_by_id(s, linked)) if linked else {}
        now_us = micros(now)
        elements = []
        for r in listed:
            shown = bool(r.preservation_order_id) and domain.order_shown_in(
                principal, r.workspace_id, r.origin_jurisdiction, orders.get(r.preservation_order_id)
            )
            if r.answer is not None:
                # The caller's actions, kept for each (state, side, access facts, transitions the clocks
                # allow) by ``offered_when``: a page's requests mostly share them.
                offered = domain.offered_when(
                    r.state, r.to_provider, r.access, principal, r.answer.clocks_allow(now_us), r.item_access
                )
                actions = self.requests.actions_in(r.workspace_id, offered)
                order_id = r.preservation_order_id if shown else ""
                body = r.answer.message(now_us, order_id, actions)
                out = self._taken_out(r.workspace_id, r.access)
                if out != domain.NOT_TAKEN_OUT:
                    body += _TAKEN_OUT[out]
            elif r.request is not None:
                fields = request_fields(
                    r.request, now, hide_link=not shown, allowed_actions=self._allowed(principal, r.request, now)
                )
                out = self._taken_out(r.workspace_id, r.access)
                fields.update(issuer_taken_out=out.issuer, addressee_taken_out=out.addressee)
                body = pb.EvidenceRequest(**fields).SerializeToString()
            else:
                continue
            elements.append(_LIST.element(body))
        return _LIST.response(elements, token)

    # -- transitions ------------------------------------------------------------------------------

    async def _transition(self, action: str, request: Any) -> pb.EvidenceRequest:
        rt, principal, now = self.rt.call()
        t = domain.TRANSITIONS[action]
        data = transition_input(request)
        violations = validate.uuid("id", request.id)
        violations += domain.transition_violations(t, data, now)
        violations += validate.expected_version(request.expected_version)
        InvalidArgument.raise_for(violations)
        current = await self.requests.load_visible(principal, request.id, Operation.READ)
        # Which side acts depends on the request (a provider's answers are recorded by the issuer).
        await rt.authorize(
            principal,
            domain.operation_for(t, current),
            domain.rules_for(action),
            record_type=RECORD,
            record_id=current.id,
            record=current.access(),
            action=action.replace("_", " "),
        )
        await self.requests.check_change(principal, current, request.expected_version)
        # A closed workspace takes no change (the event audience is its members).
        members = self.requests.members_for_change(current)
        updated = domain.apply(current, action, data, actor=principal.actor, now=now)
        # The event carries the request, never its linked order's state: the order has its own audience (and
        # only the nodes of that audience get the order's id, ``events.link_audience``).
        state = request_to_pb(updated, now)
        plan = first_alerts(updated, self.offsets, now)

        def announce(uow: UnitOfWork, r: EvidenceRequest) -> None:
            event = domain.event_of(action, r)
            # The link goes to the nodes entitled to the order only (``events.link_audience``).
            envelope = events.request_envelope(r, state, event, members, now, events.linked_order(uow.session, r))
            uow.emit(events.subject(r.origin_jurisdiction, event), envelope)

        def write(uow: UnitOfWork) -> None:
            # The version guard replaces the request's running deadlines too (``plan``: their first alerts).
            store_change(
                uow,
                EVIDENCE_REQUEST_RULES,
                current,
                updated,
                lambda session, r, version: store.update_if_version(session, r, version, plan),
                announce,
            )
            if updated.items_restricted_at != current.items_restricted_at:
                self._restrict_items(uow, current, updated, members, now)

        await rt.change(principal, write)
        if self.wake_scanner is not None and any(at is not None and at <= now for at in plan.values()):
            # An alert already due (a deadline shorter than its first warning): sent now, not at the next scan.
            # One due later is the periodic scan's: a scan per change found nothing (bench/README.md, mixed load).
            self.wake_scanner()
        return await self._view(principal, updated, now)

    def _restrict_items(
        self,
        uow: UnitOfWork,
        current: EvidenceRequest,
        updated: EvidenceRequest,
        members: frozenset[str],
        now: datetime,
    ) -> None:
        """In the objection's own transaction: a RESTRICTED custody entry, by the system, on each item this
        node holds that the objection restricts and an earlier one had not (so once per item), and its
        event (EPOC_EMERGENCY_OBJECTION)."""
        try:
            restricted = store.restrict_held_items(uow.session, current.items_restricted_at, updated, now)
        except store.CustodyConflict:  # someone read an item meanwhile: the caller retries the whole
            raise self.requests.concurrent_update() from None
        for item, e in restricted:
            uow.emit(
                events.subject(updated.origin_jurisdiction, "item_restricted"),
                events.item_envelope(
                    item,
                    updated,
                    item_to_pb(item, e.seq, restricted=True),
                    "item_restricted",
                    members,
                    SYSTEM,
                    e.seq,
                    now,
                    self._holder(item),
                ),
            )
            uow.audit(ITEM, item.id, item.workspace_id)

    IssueRequest = transition_rpc("issue", pb.IssueRequestResponse, "request")
    AcknowledgeRequest = transition_rpc("acknowledge", pb.AcknowledgeRequestResponse, "request")
    OpenReview = transition_rpc("open_review", pb.OpenReviewResponse, "request")
    ConcludeReview = transition_rpc("conclude_review", pb.ConcludeReviewResponse, "request")
    StartExecution = transition_rpc("start_execution", pb.StartExecutionResponse, "request")
    RecordPartialExecution = transition_rpc("partially_execute", pb.RecordPartialExecutionResponse, "request")
    CompleteExecution = transition_rpc("complete", pb.CompleteExecutionResponse, "request")
    CloseRequest = transition_rpc("close", pb.CloseRequestResponse, "request")
    RefuseRequest = transition_rpc("refuse", pb.RefuseRequestResponse, "request")
    ReportNotExecuted = transition_rpc("report_not_executed", pb.ReportNotExecutedResponse, "request")
    WithdrawRequest = transition_rpc("withdraw", pb.WithdrawRequestResponse, "request")
    PostponeRequest = transition_rpc("postpone", pb.PostponeRequestResponse, "request")
    ResumeRequest = transition_rpc("resume", pb.ResumeRequestResponse, "request")
    ExtendDecisionDeadline = transition_rpc("extend_decision", pb.ExtendDecisionDeadlineResponse, "request")
    UpdateUserNotice = transition_rpc("update_user_notice", pb.UpdateUserNoticeResponse, "request")
    ResubmitRequest = transition_rpc("resubmit", pb.ResubmitRequestResponse, "request")
    NotifyDelay = transition_rpc("notify_delay", pb.NotifyDelayResponse, "request")
    TransferForEnforcement = transition_rpc("transfer_for_enforcement", pb.TransferForEnforcementResponse, "request")
    RecogniseEnforcement = transition_rpc("recognise_enforcement", pb.RecogniseEnforcementResponse, "request")
    RefuseEnforcement = transition_rpc("refuse_enforcement", pb.RefuseEnforcementResponse, "request")

    # -- evidence items ---------------------------------------------------------------------------

    async def UploadItem(
        self, request_iterator: AsyncIterator[pb.UploadItemRequest | memoryview], context: Any
    ) -> pb.UploadItemResponse:
        # A chunk arrives as a view of its bytes in the received message (wire.read_upload_message).
        rt, principal = self.rt, auth.current()
        first = await anext(request_iterator, None)
        if not isinstance(first, pb.UploadItemRequest) or first.WhichOneof("part") != "metadata":
            raise InvalidArgument.one("metadata", "the first message must carry the item's metadata")
        cmd = new_item_from_pb(first.metadata)
        InvalidArgument.raise_for(domain.new_item_violations(cmd, rt.clock.now()))
        req = await self.requests.load_visible(
            principal, cmd.evidence_request_id, Operation.READ, field="metadata.evidence_request_id"
        )
        # Either party's prosecutor or liaison receives evidence.
        await rt.authorize(
            principal,
            domain.upload_operation(principal, req),
            EVIDENCE_ITEM_RULES,
            record_type=ITEM,
            record_id="",
            record=req.item_access(),
            action="receive evidence for",
        )
        # Idempotent by request_id, as every create: the same metadata (its digest) is answered with the item
        # stored, other metadata is REQUEST_ID_REUSED.
        digest = request_digest(first.metadata)

        def find(s: Any) -> Stored[domain.EvidenceItem] | None:
            return store.find_item_by_upload(s, principal.user_id, cmd.request_id)

        replay = await rt.read(find)
        if replay is not None:
            return self._upload_replayed(replay, digest, cmd, req)
        # A closed workspace receives no evidence. On a federation the item is this node's record even
        # for a request owned elsewhere: the bytes stay where they were received, the uploader's node.
        rt.require_home_node(principal)
        members = self.requests.members_for_change(req, owned=False)
        domain.receiving_check(req)
        # The origin is the request's addressee, never what the uploader declares; only that state records
        # its consent to other use.
        InvalidArgument.raise_for(domain.origin_violations(cmd, req, principal.jurisdiction))
        origin = domain.item_origin(req)
        data_key = await self.keys.data_key(req.workspace_id)
        writer = self.blobs.writer(req.workspace_id, data_key)
        writer.declare(cmd.sha256)
        committed = False
        try:
            n = 0
            async for msg in request_iterator:
                n += 1
                if isinstance(msg, memoryview):
                    chunk: bytes | memoryview = msg
                elif msg.WhichOneof("part") == "chunk":
                    chunk = msg.chunk  # each read of the field is a copy of its bytes: read it once
                else:
                    raise InvalidArgument.one(f"messages[{n}]", "after the metadata, only chunks may follow")
                if len(chunk) > domain.CHUNK_MAX:
                    raise InvalidArgument.one(f"messages[{n}].chunk", f"must be at most {domain.CHUNK_MAX} bytes")
                if writer.received + len(chunk) > cmd.size_bytes:
                    raise InvalidArgument.one("metadata.size_bytes", "more bytes arrived than declared")
                # Hashed, sealed and written in a worker thread while the next chunk arrives.
                await writer.write_async(chunk)
            try:
                blob_key, _existed = await writer.commit_async(cmd.sha256, cmd.size_bytes)
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
            received_by=principal.actor,
            received_at=now,
            blob_key=blob_key,
            sensitive=cmd.sensitive,
        )
        received = "received as sensitive" if item.sensitive else ""

        def write(uow: UnitOfWork) -> None:
            store.insert_item(uow.session, item, cmd.request_id, digest)
            store.append_custody(
                uow.session, item.id, self._entry(principal, custody.Action.RECEIVED, now, item.sha256, received)
            )
            state = item_to_pb(item, 1)
            uow.emit(
                events.subject(req.origin_jurisdiction, "item_received"),
                events.item_envelope(
                    item, req, state, "item_received", members, item.received_by, 1, now, self._holder(item)
                ),
            )
            uow.audit(ITEM, item.id, item.workspace_id)

        # A failure leaves the blob: another upload of the same content may be about to name it, and on
        # PostgreSQL a cancelled call's write may still commit. The blob sweep removes it once no item names it
        # (``blobs.BlobSweep``).
        try:
            await rt.change(principal, write)
        except store.UploadTaken:  # a concurrent duplicate of this upload was stored first
            replay = await rt.read(find)
            if replay is None:
                raise
            return self._upload_replayed(replay, digest, cmd, req)
        return pb.UploadItemResponse(item=item_to_pb(item, 1))

    def _upload_replayed(
        self, replay: Stored[domain.EvidenceItem], digest: str, cmd: domain.NewItem, req: EvidenceRequest
    ) -> pb.UploadItemResponse:
        """The answer to an upload whose request_id names a stored item (``RecordPath.replayed``)."""
        if not replay.digest:  # received before the metadata's digest was kept: its bytes and request decide
            same = replay.record.sha256 == cmd.sha256 and replay.record.evidence_request_id == req.id
            replay = Stored(replay.record, digest if same else "")
        item = self.items.replayed(replay, digest, field="metadata.request_id").record
        return pb.UploadItemResponse(item=item_to_pb(item, restricted=domain.item_restricted(item, req)))

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
            **same_fields(principal, "user_id username jurisdiction"),
            at=now,
            purpose=purpose,
            recipient=recipient,
            sha256=sha256,
            prev_hash="",
        )

    def _holder(self, item: domain.EvidenceItem) -> str:
        """The origin of an item's events: on a federation the node holding it, else (one node) the
        request's origin as before."""
        return domain.item_holder(item) if self.rt.federation is not None else ""

    async def _load_item(self, principal: auth.Principal, item_id: str, action: str) -> ItemOfRequest:
        """The item and its request, when the caller may read the request (NOT_FOUND otherwise)."""
        return await self.items.load_visible(principal, item_id, Operation.READ, action=action, field="item_id")

    async def _record_custody(
        self,
        principal: auth.Principal,
        found: ItemOfRequest,
        entry: custody.Entry,
        event: str = "",
        members: frozenset[str] = frozenset(),
        check: Callable[[list[custody.Entry]], FailedPrecondition | None] | None = None,
        sensitive: bool | None = None,
        asked: Message | None = None,
    ) -> custody.Entry:
        """Append ``entry`` to the item's chain; with ``event``, publish it to ``members`` too. ``check``: a rule
        on the chain as it is, decided in the same transaction (a refusal writes nothing); ``sensitive``: the
        item's new marking, written with the entry. ``asked``: the client's request, whose ``request_id`` keys
        the act: the caller's retry with the same id is answered with the entry the first call appended, and
        appends nothing (``custody_replay``); the same id with another request is REQUEST_ID_REUSED."""
        req = found.request
        item = found.item if sensitive is None else replace(found.item, sensitive=sensitive)
        request_id = getattr(asked, "request_id", "") if asked is not None else ""
        digest = request_digest(asked) if asked is not None else ""

        def write(uow: UnitOfWork) -> custody.Entry:
            # The item's row locked first: the replay, the check and the append see the chain as it is, and
            # others' appends (a read at the same time) wait for this one.
            store.get_item(uow.session, item.id, for_update=True)
            if request_id:
                replay = store.custody_replay(uow.session, item.id, principal.user_id, request_id)
                if replay is not None:
                    if replay[1] != digest:
                        raise FailedPrecondition(
                            "REQUEST_ID_REUSED",
                            "request_id was already used for another act on this item; generate a new one",
                            {"field": "request_id"},
                        )
                    return replay[0]  # a retry after a lost answer: the entry it recorded, nothing more
            before: list[custody.Entry] = []
            if check is not None:
                before = store.custody_entries(uow.session, item.id)
                problem = check(before)
                if problem is not None:
                    raise problem
            if sensitive is not None:
                store.set_item_sensitive(uow.session, item.id, sensitive)
            e = store.append_custody(uow.session, item.id, entry, request_id, digest)
            if event:
                state = item_to_pb(item, e.seq, restricted=domain.item_restricted(item, req))
                uow.emit(
                    events.subject(req.origin_jurisdiction, event),
                    events.item_envelope(
                        item, req, state, event, members, principal.actor, e.seq, entry.at, self._holder(item)
                    ),
                )
            uow.audit(ITEM, item.id, item.workspace_id)
            return e

        return await self._append(principal, write)

    async def _append(self, principal: auth.Principal, write: Callable[[UnitOfWork], T]) -> T:
        """``write``, which appends to an item's custody chain, in a transaction. Appends to one chain are
        ordered by the item's row lock (``store.get_item(..., for_update=True)``, ``store.append_custody``):
        a read of evidence waits for the others' entries, it is not refused because they read too. A conflict
        left (a writer that bypassed the lock) is ABORTED rather than a forked chain. The wait is bounded
        (``store.ITEM_LOCK_TIMEOUT_SECONDS``): a row held longer by another transaction is ABORTED ``ITEM_BUSY``
        naming the item, nothing written, for the caller to retry."""
        try:
            return await self.rt.change(principal, write)
        except store.CustodyConflict:
            raise Aborted("CUSTODY_CONFLICT", "the item's custody chain changed meanwhile; retry") from None
        except store.ItemBusy as busy:
            raise Aborted(
                "ITEM_BUSY",
                f"evidence item {busy.item_id} is held by another change for more than "
                f"{store.ITEM_LOCK_TIMEOUT_SECONDS:g} s; nothing was recorded: retry",
                {"item_id": busy.item_id},
            ) from None

    async def DownloadItem(
        self, request: pb.DownloadItemRequest, context: Any
    ) -> AsyncIterator[pb.DownloadItemResponse | bytes]:
        principal = auth.current()
        violations = validate.uuid("item_id", request.item_id)
        violations += domain.purpose_violations(request.purpose)
        InvalidArgument.raise_for(violations)
        found = await self._load_item(principal, request.item_id, "download")
        # Restricted by the enforcing state's objection: nobody reads its content (EPOC_EMERGENCY_OBJECTION).
        problem = domain.content_refusal(found.item, found.request, "downloaded")
        if problem is not None:
            raise problem
        if found.item.sensitive:  # named roles only, never a preview (SENSITIVE_ITEM_OPEN_NEEDS_PURPOSE)
            await self._authorize_sensitive(principal, SensitiveOperation.OPEN, found, "open")
        self.rt.require_owner(domain.item_holder(found.item), ITEM)  # the bytes are on the holder's node
        item = found.item
        try:
            data_key = await self.keys.data_key(item.workspace_id)
        except ContentDestroyed:
            raise FailedPrecondition(
                "CONTENT_DESTROYED",
                f"the content of evidence item {item.id} was destroyed when its workspace's retention ended "
                "(crypto-shredded): nothing left to download; GetItem and ListCustody show what stays",
                {"workspace_id": item.workspace_id},
            ) from None
        now = self.rt.clock.now()
        e = await self._record_custody(
            principal, found, self._entry(principal, custody.Action.DOWNLOADED, now, item.sha256, request.purpose)
        )
        yield pb.DownloadItemResponse(item=item_to_pb(item, e.seq))  # never restricted: refused above
        # Each segment arrives as a serialized DownloadItemResponse(chunk=segment): opened behind the chunk's
        # field header in one buffer and sent as it is (no message built, no copy into it and out of it).
        segments = self.blobs.read_ahead(item.blob_key, data_key, wire.chunk_header)
        try:
            async for response in segments:
                yield response
        except blobs.BlobCorrupt as exc:
            log.error("evidence item %s is corrupt: %s", item.id, exc)
            raise _DataLoss(f"evidence item {item.id} fails its integrity check; run verify") from None
        finally:
            await segments.aclose()

    async def GetItem(self, request: pb.GetItemRequest, context: Any) -> pb.GetItemResponse:
        principal = auth.current()
        found = await self._load_item(principal, request.item_id, "read")
        self.rt.require_owner(domain.item_holder(found.item), ITEM)  # the holder keeps the custody chain
        item = found.item
        try:
            seq = (
                await self._record_custody(
                    principal,
                    found,
                    self._entry(principal, custody.Action.ACCESSED, self.rt.clock.now(), item.sha256, "metadata"),
                )
            ).seq
        except ContentDestroyed:
            # Retention crypto-shredded the workspace's content: the item's bytes and text are gone, what stays
            # is that it existed (digest, size, who received it) and its chain of custody, which the shred
            # closed (an entry's text could not be sealed any more). The read is in the audit log.
            await self.rt.change(principal, lambda uow: uow.audit(ITEM, item.id, item.workspace_id))
            return pb.GetItemResponse(
                item=self._item_view(principal, item, found.request, found.found.custody_seq, {}, destroyed=True)
            )
        exports = await self._export_entries([item])
        return pb.GetItemResponse(item=self._item_view(principal, item, found.request, seq, exports))

    async def ListItems(self, request: pb.ListItemsRequest, context: Any) -> pb.ListItemsResponse:
        principal = auth.current()
        req = await self.requests.load_visible(
            principal, request.evidence_request_id, Operation.READ, field="evidence_request_id"
        )
        # An enforcing state that reads the request only for its enforcement sees none of its items
        # (EPOC_ENFORCING_STATE_SEES_THE_ORDER): its list is empty, as for a request without any.
        entitled = decide_received(principal, req.item_access()) is Decision.ALLOW
        found = await self.items.list_audited(
            principal,
            req.workspace_id,
            lambda s, _scope: store.list_items(s, req.id) if entitled else [],
            record_id=req.id,
        )
        exports = await self._export_entries([f.item for f in found])
        destroyed = bool(found) and await self.keys.destroyed(req.workspace_id)
        # A sensitive item's file name and description are what users wrote about an intimate image: reading
        # them is an access, which GetItem logs in its chain of custody (ACCESSED "metadata", on the node that
        # holds the chain). A list shows every caller its metadata only, and writes no custody entry.
        return pb.ListItemsResponse(
            items=[
                self._item_view(principal, f.item, req, f.custody_seq, exports, listed=True, destroyed=destroyed)
                for f in found
            ]
        )

    async def RecordCustodyEvent(
        self, request: pb.RecordCustodyEventRequest, context: Any
    ) -> pb.RecordCustodyEventResponse:
        principal = auth.current()
        action = custody_action_from_pb(request.action)
        violations = validate.uuid("request_id", request.request_id) + validate.uuid("item_id", request.item_id)
        violations += domain.custody_event_violations(action, request.purpose, request.recipient)
        InvalidArgument.raise_for(violations)
        assert action is not None
        found = await self._load_item(principal, request.item_id, "record custody of")
        # A party's act (EVIDENCE_ITEM_RULES, ANY_PARTY_ACT): its prosecutor or police liaison, never a
        # participant; a refusal is audited.
        await self.rt.authorize(
            principal,
            Operation.ANY_PARTY_ACT,
            EVIDENCE_ITEM_RULES,
            record_type=ITEM,
            record_id=found.item.id,
            record=found.request.item_access(),
            action="record custody of",
        )
        # A restricted item is not handed over; sealing it stays possible.
        if action in (custody.Action.EXPORTED, custody.Action.TRANSFERRED):
            problem = domain.content_refusal(found.item, found.request, action.value.lower())
            if problem is not None:
                raise problem
        # An export, transfer or seal is a change of the case: a closed workspace takes none. It is
        # written where the item's chain is.
        self.rt.require_owner(domain.item_holder(found.item), ITEM)
        members = self.items.members_for_change(found, owned=False)
        item = found.item
        now = self.rt.clock.now()
        entry = self._entry(principal, action, now, item.sha256, request.purpose, request.recipient)
        check = None
        if item.sensitive and action in custody.HANDED_OVER:  # four eyes (SENSITIVE_ITEM_EXPORT_FOUR_EYES)

            def check(entries: list[custody.Entry]) -> FailedPrecondition | None:
                return domain.export_refusal(item, entries, principal.user_id, request.recipient, now)

        e = await self._record_custody(
            principal, found, entry, event="item_" + action.value.lower(), members=members, check=check, asked=request
        )
        return pb.RecordCustodyEventResponse(entry=custody_to_pb(e))

    # -- sensitive items -------------------------------------------------------------------------------

    async def _export_entries(self, items: list[domain.EvidenceItem]) -> dict[str, list[custody.Entry]]:
        """The custody entries of the four eyes of the sensitive ones among ``items``, in one query."""
        ids = [i.id for i in items if i.sensitive]
        if not ids:
            return {}
        return await self.rt.read(lambda s: store.export_entries(s, ids))

    def _item_view(
        self,
        principal: auth.Principal,
        item: domain.EvidenceItem,
        req: EvidenceRequest,
        seq: int,
        exports: dict[str, list[custody.Entry]],
        *,
        listed: bool = False,
        destroyed: bool = False,
    ) -> pb.EvidenceItem:
        """The item as ``principal`` sees it: a sensitive one without its file name and description for a
        caller who may not open it, and in a list (``listed``) for everyone; with its open export request
        (from ``exports``, ``_export_entries``); what the caller may do with it now (no download once its
        workspace's content was ``destroyed``)."""
        pending = domain.pending_export(exports.get(item.id, [])) if item.sensitive else None
        now = self.rt.clock.now()
        actions = domain.item_allowed_actions(principal, item, req, pending, now)
        # A read goes on in a closed workspace; not once retention destroyed the bytes.
        reads = () if destroyed else tuple(a for a in actions if a == "download")
        changes = self.items.allowed_actions(
            ItemOfRequest(ItemWithHead(item, seq, ""), req), tuple(a for a in actions if a != "download")
        )
        may_open = not item.sensitive or (
            not listed and decide_sensitive(principal, SensitiveOperation.OPEN, req.item_access()) is Decision.ALLOW
        )
        return item_to_pb(
            item if may_open else domain.concealed(item),
            seq,
            restricted=domain.item_restricted(item, req),
            allowed_actions=reads + changes,
            pending=pending,
        )

    async def _authorize_sensitive(
        self,
        principal: auth.Principal,
        operation: SensitiveOperation,
        found: ItemOfRequest,
        verb: str,
        *,
        jurisdiction: str | None = None,
    ) -> None:
        """``jitlib.policy.decide_sensitive``; a refusal is audited and raised as NOT_FOUND or
        PERMISSION_DENIED naming the roles and jurisdiction that may."""
        decision = decide_sensitive(principal, operation, found.request.item_access(), jurisdiction=jurisdiction)
        if decision is Decision.ALLOW:
            return
        item = found.item
        outcome = "not_found" if decision is Decision.NOT_FOUND else "denied"
        await self.rt.change(principal, lambda uow: uow.audit(ITEM, item.id, item.workspace_id, outcome=outcome))
        if decision is Decision.NOT_FOUND:
            raise NotFound(ITEM, item.id)
        roles = " or ".join(sorted(r.replace("_", " ") for r in SENSITIVE_ITEM_ROLES[operation]))
        of = f"of {jurisdiction}" if jurisdiction is not None else "of a jurisdiction party to the request"
        raise PermissionDenied(
            "NOT_ALLOWED",
            f"{principal.username} ({principal.jurisdiction}) may not {verb} this sensitive item: only a {roles} "
            f"{of} may",
            {"operation": operation.value, "jurisdiction": principal.jurisdiction},
        )

    async def _mark(self, item_id: str, reason: str, sensitive: bool) -> pb.EvidenceItem:
        """Mark an item sensitive or lift that marking (SENSITIVE_ITEM_MARKING): a prosecutor of the
        jurisdiction that received it, with a reason, in the chain of custody and the audit."""
        principal = auth.current()
        violations = validate.uuid("item_id", item_id) + domain.sensitivity_violations(reason)
        InvalidArgument.raise_for(violations)
        verb = "mark" if sensitive else "unmark"
        found = await self._load_item(principal, item_id, verb)
        await self._authorize_sensitive(
            principal, SensitiveOperation.MARK, found, verb, jurisdiction=domain.item_holder(found.item)
        )
        problem = domain.marking_refusal(found.item, sensitive)
        if problem is not None:
            raise problem
        self.rt.require_owner(domain.item_holder(found.item), ITEM)
        members = self.items.members_for_change(found, owned=False)
        action = custody.Action.MARKED_SENSITIVE if sensitive else custody.Action.UNMARKED
        entry = self._entry(principal, action, self.rt.clock.now(), found.item.sha256, reason)
        event = "item_marked_sensitive" if sensitive else "item_unmarked"
        e = await self._record_custody(principal, found, entry, event=event, members=members, sensitive=sensitive)
        item = replace(found.item, sensitive=sensitive)
        return item_to_pb(item, e.seq, restricted=domain.item_restricted(item, found.request))

    async def MarkItemSensitive(
        self, request: pb.MarkItemSensitiveRequest, context: Any
    ) -> pb.MarkItemSensitiveResponse:
        return pb.MarkItemSensitiveResponse(item=await self._mark(request.item_id, request.reason, True))

    async def UnmarkItemSensitive(
        self, request: pb.UnmarkItemSensitiveRequest, context: Any
    ) -> pb.UnmarkItemSensitiveResponse:
        return pb.UnmarkItemSensitiveResponse(item=await self._mark(request.item_id, request.reason, False))

    async def _sensitive_item(self, principal: auth.Principal, item_id: str, verb: str) -> ItemOfRequest:
        found = await self._load_item(principal, item_id, verb)
        if not found.item.sensitive:
            raise FailedPrecondition(
                "NOT_SENSITIVE",
                "this item is not marked sensitive: it is exported without an approval (RecordCustodyEvent)",
                {"item_id": found.item.id},
            )
        return found

    async def RequestExport(self, request: pb.RequestExportRequest, context: Any) -> pb.RequestExportResponse:
        """The first pair of eyes (SENSITIVE_ITEM_EXPORT_FOUR_EYES): who asks, why, and where to."""
        principal = auth.current()
        violations = validate.uuid("request_id", request.request_id) + validate.uuid("item_id", request.item_id)
        violations += domain.export_request_violations(request.purpose, request.destination)
        InvalidArgument.raise_for(violations)
        found = await self._sensitive_item(principal, request.item_id, "ask to export")
        await self._authorize_sensitive(principal, SensitiveOperation.REQUEST_EXPORT, found, "ask to export")
        problem = domain.content_refusal(found.item, found.request, "exported")
        if problem is not None:
            raise problem
        self.rt.require_owner(domain.item_holder(found.item), ITEM)
        self.items.members_for_change(found, owned=False)  # a closed workspace hands nothing over
        entry = self._entry(
            principal,
            custody.Action.EXPORT_REQUESTED,
            self.rt.clock.now(),
            found.item.sha256,
            request.purpose,
            request.destination,
        )
        e = await self._record_custody(principal, found, entry, asked=request)
        return pb.RequestExportResponse(entry=custody_to_pb(e))

    async def ApproveExport(self, request: pb.ApproveExportRequest, context: Any) -> pb.ApproveExportResponse:
        """The second pair of eyes: a prosecutor of the requester's jurisdiction who is not the requester."""
        principal = auth.current()
        violations = validate.uuid("item_id", request.item_id)
        if request.export_request_seq <= 0:
            violations.append(FieldViolation("export_request_seq", "must be the seq of an EXPORT_REQUESTED entry"))
        InvalidArgument.raise_for(violations)
        found = await self._sensitive_item(principal, request.item_id, "approve the export of")
        entries = (await self._export_entries([found.item])).get(found.item.id, [])
        pending = domain.pending_export(entries)
        asked = next(
            (e for e in entries if e.seq == request.export_request_seq and e.action is custody.Action.EXPORT_REQUESTED),
            None,
        )
        # The approver is of the requester's jurisdiction; an entry that is no export request names none
        # (the approval is then refused as NO_SUCH_EXPORT_REQUEST).
        requester = asked or (pending.request if pending is not None else None)
        await self._authorize_sensitive(
            principal,
            SensitiveOperation.APPROVE_EXPORT,
            found,
            "approve the export of",
            jurisdiction=requester.jurisdiction if requester is not None else None,
        )
        self.rt.require_owner(domain.item_holder(found.item), ITEM)
        self.items.members_for_change(found, owned=False)
        seq = request.export_request_seq
        entry = self._entry(
            principal,
            custody.Action.EXPORT_APPROVED,
            self.rt.clock.now(),
            found.item.sha256,
            f"approves export request {seq}" + (f": {asked.purpose}" if asked is not None else ""),
            asked.recipient if asked is not None else "",
        )

        def check(chain: list[custody.Entry]) -> FailedPrecondition | None:
            return domain.approval_refusal(chain, seq, principal.user_id)

        e = await self._record_custody(principal, found, entry, check=check)
        return pb.ApproveExportResponse(entry=custody_to_pb(e))

    # -- consent to other use (JIT_OTHER_USE_NEEDS_CONSENT) ------------------------------------------------

    async def RecordUseConsent(self, request: pb.RecordUseConsentRequest, context: Any) -> pb.RecordUseConsentResponse:
        """The originating state's consent to another use of an item, recorded when it is given (weeks after the
        item was received, as a rule): by a prosecutor of the item's origin, on its own state's behalf, at the
        service's time; a CONSENT_RECORDED custody entry, an audit entry and an ``item_use_consented`` event to
        the item's audience, whose nodes' copies take the consent in. A retry (the same ``request_id``) answers
        with the item as it is. Consents are only added, never replaced: two prosecutors consenting at once
        both stand (the chain's head orders them), so no version is asked for."""
        principal = auth.current()
        request_id, purpose, reference = request.request_id, request.purpose, request.reference
        InvalidArgument.raise_for(domain.consent_violations_later(request_id, request.item_id, purpose, reference))
        verb = "record the consent to other use of"
        found = await self._load_item(principal, request.item_id, verb)
        await self.rt.authorize(
            principal,
            Operation.ORIGIN_STATE_ACT,
            EVIDENCE_ITEM_RULES,
            record_type=ITEM,
            record_id=found.item.id,
            record=found.request.access(),
            action=verb,
            origin_state=found.item.origin_jurisdiction,
        )
        # The chain, and the request ids of the consents recorded, are on the node holding the item.
        self.rt.require_owner(domain.item_holder(found.item), ITEM)
        req = found.request
        if domain.consent_replay(found.item, principal.user_id, request_id, purpose, reference) is not None:
            return await self._consent_answer(principal, found.item, req, found.found.custody_seq)
        members = self.items.members_for_change(found, owned=False)
        problem = domain.consent_refusal(found.item, req)
        if problem is not None:
            raise problem
        now = self.rt.clock.now()

        def write(uow: UnitOfWork) -> tuple[domain.EvidenceItem, int]:
            # As it is now, locked (another consent may be in): appends to its chain wait for this one.
            held = store.get_item(uow.session, found.item.id, for_update=True)
            assert held is not None  # items are never deleted (a shred erases their text and key)
            if domain.consent_replay(held.item, principal.user_id, request_id, purpose, reference) is not None:
                return held.item, held.custody_seq  # a concurrent retry recorded it first
            problem = domain.consent_refusal(held.item, req)
            if problem is not None:
                raise problem
            item = domain.record_consent(held.item, principal.actor, request_id, purpose, reference, now)
            store.set_item_consents(uow.session, item)
            entry = self._entry(
                principal,
                custody.Action.CONSENT_RECORDED,
                now,
                item.sha256,
                domain.consent_entry_purpose(item.consents[-1]),
            )
            e = store.append_custody(uow.session, item.id, entry)
            state = item_to_pb(item, e.seq)
            uow.emit(
                events.subject(req.origin_jurisdiction, "item_use_consented"),
                events.item_envelope(
                    item, req, state, "item_use_consented", members, principal.actor, e.seq, now, self._holder(item)
                ),
            )
            uow.audit(ITEM, item.id, item.workspace_id)
            return item, e.seq

        item, seq = await self._append(principal, write)
        return await self._consent_answer(principal, item, req, seq)

    async def _consent_answer(
        self, principal: auth.Principal, item: domain.EvidenceItem, req: EvidenceRequest, seq: int
    ) -> pb.RecordUseConsentResponse:
        """The item with its consents, as the caller sees it (``_item_view``)."""
        exports = await self._export_entries([item])
        return pb.RecordUseConsentResponse(item=self._item_view(principal, item, req, seq, exports))

    async def ListCustody(self, request: pb.ListCustodyRequest, context: Any) -> pb.ListCustodyResponse:
        """Case roles that see the item, and auditors (custody entries name who and why, not content)."""
        principal = auth.current()
        InvalidArgument.raise_for(validate.uuid("item_id", request.item_id))
        if principal.has_role("auditor"):
            await self.rt.authorize(principal, Operation.READ_AUDIT, None, record_type=ITEM, record_id=request.item_id)
        else:
            found = await self._load_item(principal, request.item_id, "read custody of")
            self.rt.require_owner(domain.item_holder(found.item), ITEM)  # the chain is on the holder's node
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


async def verify_all(rt: Runtime, blob_store: blobs.BlobStore, keys: WorkspaceKeys) -> pb.VerifyEvidenceResponse:
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
            key: bytes | None = None
            unavailable: KeyUnavailable | None = None
            try:
                key = await keys.data_key(item.workspace_id)
            except KeyUnavailable as exc:
                unavailable = exc
            except ContentDestroyed:
                pass  # its workspace was crypto-shredded: its bytes and custody text are gone on purpose
            # The entries' text is sealed under the workspace's key: without it (shredded, or no KEK of this
            # node opens it, a problem reported below) the chain is checked by its links, sequence and head.
            check = custody.verify_chain(entries, found.custody_seq, found.custody_head, erased=key is None)
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
            if unavailable is not None:
                out.problems.append(
                    pb.ItemProblem(item_id=item.id, problem="key_unavailable", detail=unavailable.message)
                )
                continue
            if key is None:
                continue
            try:
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
