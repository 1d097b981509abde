"""jit.preservation.v1.PreservationService: turns RPCs into domain decisions and store calls, in that
order: validate input -> load -> policy -> domain rule -> write change + event + audit in one transaction."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any

import grpc
from sqlalchemy.exc import IntegrityError

from jit.preservation.v1 import preservation_pb2 as pb
from jit.preservation.v1 import preservation_pb2_grpc
from jitlib import auth
from jitlib.errors import Aborted, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from jitlib.ids import is_uuid, new_id
from jitlib.policy import CASE_ROLES, PRESERVATION_ORDER_RULES, Operation, visibility_scope
from jitlib.runtime import Runtime, UnitOfWork
from services.preservation import domain, events, store
from services.preservation.domain import Actor, Rules, TransitionInput
from services.preservation.mapping import (
    new_order_from_pb,
    not_executed_reason_from_pb,
    order_to_pb,
    provider_to_pb,
    request_digest,
    state_from_pb,
    ts_to_dt,
)

DEFAULT_PAGE = 50
MAX_PAGE = 200
RECORD = events.RECORD
RULES = PRESERVATION_ORDER_RULES


def _actor(p: auth.Principal) -> Actor:
    return Actor(p.user_id, p.username, p.jurisdiction)


def _filter_fingerprint(req: pb.ListOrdersRequest) -> str:
    clone = pb.ListOrdersRequest()
    clone.CopyFrom(req)
    clone.page_token = ""
    clone.page_size = 0
    return hashlib.sha256(clone.SerializeToString(deterministic=True)).hexdigest()[:16]


def _encode_token(order: domain.Order, fingerprint: str) -> str:
    expires = order.expires_at.isoformat() if order.expires_at else ""
    data = {"n": 0 if order.expires_at else 1, "e": expires, "a": order.id, "f": fingerprint}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _decode_token(token: str, fingerprint: str) -> tuple[int, str, str]:
    bad = InvalidArgument.one("page_token", "is not a token this service issued")
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        flag, expires, after, fp = int(data["n"]), str(data["e"]), data["a"], data["f"]
        if not flag:
            datetime.fromisoformat(expires)
    except (ValueError, KeyError, TypeError):
        raise bad from None
    if fp != fingerprint:
        raise InvalidArgument.one("page_token", "belongs to a list with other filters")
    if not isinstance(after, str) or not is_uuid(after):
        raise bad
    return flag, expires, after


class PreservationServicer(preservation_pb2_grpc.PreservationServiceServicer):
    def __init__(self, rt: Runtime, rules: Rules) -> None:
        self.rt = rt
        self.rules = rules

    def _pb(self, order: domain.Order, now: datetime) -> pb.PreservationOrder:
        return order_to_pb(order, now, self.rules.confirmation_overdue_after)

    # -- create and read --------------------------------------------------------------------------

    async def CreateOrder(
        self, request: pb.CreateOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateOrderResponse:
        rt, principal = self.rt, auth.current()
        now = rt.clock.now()
        cmd = new_order_from_pb(request)
        InvalidArgument.raise_for(domain.new_order_violations(cmd, self.rules.providers))
        await rt.authorize(
            principal,
            Operation.CREATE,
            RULES,
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
                return self._replayed(replay, digest, now)
            raise
        order = domain.create(cmd, order_id=new_id(), actor=_actor(principal), now=now)
        state = self._pb(order, now)
        members = workspace.members

        def write(uow: UnitOfWork) -> None:
            store.insert_order(uow.session, order, request_id=cmd.request_id, request_digest=digest)
            uow.emit(
                events.subject(order, "created"),
                events.envelope(order, state, events.event_type("created"), members, now),
            )
            uow.audit(RECORD, order.id, order.workspace_id)

        try:
            await rt.change(principal, write)
        except IntegrityError:
            # The request_id was used before (a retry, or a concurrent duplicate): the unique index on
            # (creator, request_id) refused the insert, so return what the first call stored.
            replay = await rt.read(lambda s: store.find_by_request(s, principal.user_id, cmd.request_id))
            if replay is None:
                raise
            return self._replayed(replay, digest, now)
        return pb.CreateOrderResponse(order=state)

    def _replayed(self, replay: store.StoredRequest, digest: str, now: datetime) -> pb.CreateOrderResponse:
        if replay.digest != digest:
            raise FailedPrecondition(
                "REQUEST_ID_REUSED",
                "request_id was already used for a different preservation order; generate a new one",
                {"field": "request_id", "order_id": replay.order.id},
            )
        return pb.CreateOrderResponse(order=self._pb(replay.order, now))

    async def _load_visible(
        self, principal: auth.Principal, order_id: str, operation: Operation, action: str = ""
    ) -> domain.Order:
        if not is_uuid(order_id):
            raise InvalidArgument.one("id", "must be a UUID")
        order = await self.rt.read(lambda session: store.get(session, order_id))
        await self.rt.authorize(
            principal,
            operation,
            RULES,
            record_type=RECORD,
            record_id=order_id,
            record=order.access() if order is not None else None,
            action=action,
        )
        assert order is not None  # authorize refuses a missing record as NOT_FOUND
        return order

    async def GetOrder(self, request: pb.GetOrderRequest, context: grpc.aio.ServicerContext) -> pb.GetOrderResponse:
        principal = auth.current()
        order = await self._load_visible(principal, request.id, Operation.READ)
        await self.rt.change(principal, lambda uow: uow.audit(RECORD, order.id, order.workspace_id))
        return pb.GetOrderResponse(order=self._pb(order, self.rt.clock.now()))

    async def ListOrders(
        self, request: pb.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListOrdersResponse:
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
                violations.append(FieldViolation(f"states[{i}]", "is not a preservation order state"))
            else:
                states.add(st)
        if request.workspace_id and not domain.WORKSPACE_ID.match(request.workspace_id):
            violations.append(FieldViolation("workspace_id", "must be a workspace id"))
        if request.provider_id and request.provider_id not in self.rules.providers:
            violations.append(FieldViolation("provider_id", "is not in the provider register"))
        after_ts = ts_to_dt(request.expires_after, request.HasField("expires_after"))
        before_ts = ts_to_dt(request.expires_before, request.HasField("expires_before"))
        if after_ts and before_ts and after_ts >= before_ts:
            violations.append(FieldViolation("expires_before", "must be later than expires_after"))
        InvalidArgument.raise_for(violations)
        fingerprint = _filter_fingerprint(request)
        after = _decode_token(request.page_token, fingerprint) if request.page_token else None
        if request.workspace_id:
            await rt.authorize(
                principal, Operation.READ, None, record_type=RECORD, record_id="", workspace_id=request.workspace_id
            )
            workspaces = frozenset({request.workspace_id})
        else:
            if not principal.workspaces and principal.roles & CASE_ROLES:
                return pb.ListOrdersResponse()
            await rt.authorize(
                principal,
                Operation.READ,
                None,
                record_type=RECORD,
                record_id="",
                workspace_id=next(iter(principal.workspaces), "-"),
            )
            workspaces = principal.workspaces
        flt = store.OrderFilter(
            workspace_ids=workspaces,
            states=frozenset(states),
            provider_id=request.provider_id,
            expires_after=after_ts,
            expires_before=before_ts,
            issued_before=now - self.rules.confirmation_overdue_after if request.confirmation_overdue_only else None,
        )
        scope = visibility_scope(principal)

        def list_and_log(uow: UnitOfWork) -> list[domain.Order]:
            uow.audit(RECORD, "*", request.workspace_id or "*")
            return store.list_visible(uow.session, scope, flt, after=after, limit=size + 1)

        orders = await rt.change(principal, list_and_log)
        token = _encode_token(orders[size - 1], fingerprint) if len(orders) > size else ""
        return pb.ListOrdersResponse(orders=[self._pb(o, now) for o in orders[:size]], next_page_token=token)

    # -- transitions ------------------------------------------------------------------------------

    async def _transition(
        self, action: str, order_id: str, expected_version: int, data: TransitionInput
    ) -> pb.PreservationOrder:
        rt, principal = self.rt, auth.current()
        t = domain.TRANSITIONS[action]
        now = rt.clock.now()
        violations = domain.transition_violations(action, data, now)
        if not is_uuid(order_id):
            violations.insert(0, FieldViolation("id", "must be a UUID"))
        if expected_version < 0:
            violations.append(FieldViolation("expected_version", "must not be negative"))
        InvalidArgument.raise_for(violations)
        order = await self._load_visible(principal, order_id, t.operation, action.replace("_", " "))
        if expected_version and expected_version != order.version:
            raise Aborted(
                "VERSION_MISMATCH",
                f"preservation order is at version {order.version}, not {expected_version}; re-read it",
                {"current_version": str(order.version)},
            )
        updated = domain.apply(order, action, data, actor=_actor(principal), now=now, rule=self.rules.clock_for(order))
        members = events.members_of(rt, order)

        def write(uow: UnitOfWork) -> pb.PreservationOrder:
            return events.write_change(uow, order, updated, t.event, rules=self.rules, members=members, now=now)

        state = await rt.change(principal, write)
        return state

    async def IssueOrder(self, request: pb.IssueOrderRequest, context: Any) -> pb.IssueOrderResponse:
        data = TransitionInput(issued_at=ts_to_dt(request.issued_at, request.HasField("issued_at")))
        return pb.IssueOrderResponse(order=await self._transition("issue", request.id, request.expected_version, data))

    async def ConfirmOrder(self, request: pb.ConfirmOrderRequest, context: Any) -> pb.ConfirmOrderResponse:
        data = TransitionInput(
            confirmed_at=ts_to_dt(request.confirmed_at, request.HasField("confirmed_at")),
            provider_reference=request.provider_reference,
        )
        return pb.ConfirmOrderResponse(
            order=await self._transition("confirm", request.id, request.expected_version, data)
        )

    async def ExtendOrder(self, request: pb.ExtendOrderRequest, context: Any) -> pb.ExtendOrderResponse:
        return pb.ExtendOrderResponse(
            order=await self._transition("extend", request.id, request.expected_version, TransitionInput())
        )

    async def MarkProductionRequested(
        self, request: pb.MarkProductionRequestedRequest, context: Any
    ) -> pb.MarkProductionRequestedResponse:
        data = TransitionInput(follow_up_request_id=request.follow_up_request_id)
        return pb.MarkProductionRequestedResponse(
            order=await self._transition("request_production", request.id, request.expected_version, data)
        )

    async def MarkProduced(self, request: pb.MarkProducedRequest, context: Any) -> pb.MarkProducedResponse:
        return pb.MarkProducedResponse(
            order=await self._transition("mark_produced", request.id, request.expected_version, TransitionInput())
        )

    async def LiftOrder(self, request: pb.LiftOrderRequest, context: Any) -> pb.LiftOrderResponse:
        data = TransitionInput(reason=request.reason)
        return pb.LiftOrderResponse(order=await self._transition("lift", request.id, request.expected_version, data))

    async def RecordNotExecuted(
        self, request: pb.RecordNotExecutedRequest, context: Any
    ) -> pb.RecordNotExecutedResponse:
        data = TransitionInput(reason=request.details, not_executed_reason=not_executed_reason_from_pb(request.reason))
        return pb.RecordNotExecutedResponse(
            order=await self._transition("record_not_executed", request.id, request.expected_version, data)
        )

    # -- the provider register (reference data, no case content: any authenticated user) -----------

    async def ListProviders(self, request: pb.ListProvidersRequest, context: Any) -> pb.ListProvidersResponse:
        providers = sorted(self.rules.providers.values(), key=lambda p: p.id)
        return pb.ListProvidersResponse(providers=[provider_to_pb(p) for p in providers])

    async def GetProvider(self, request: pb.GetProviderRequest, context: Any) -> pb.GetProviderResponse:
        provider = self.rules.providers.get(request.id)
        if provider is None:
            raise NotFound("provider", request.id)
        return pb.GetProviderResponse(provider=provider_to_pb(provider))
