"""jit.preservation.v1.PreservationService: turns RPCs into domain decisions and store calls, in that
order: validate input -> load -> policy -> domain rule -> write change + event + audit in one transaction.
The steps every record shares (idempotent create, load-visible, the List preamble, the version check) are
``jitlib.records.RecordPath``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc

from jit.preservation.v1 import preservation_pb2 as pb
from jit.preservation.v1 import preservation_pb2_grpc
from jitlib import auth, validate
from jitlib.errors import FieldViolation, InvalidArgument, NotFound
from jitlib.ids import new_id
from jitlib.mapping import window_from_pb
from jitlib.policy import PRESERVATION_ENFORCEMENT_RULES, PRESERVATION_ORDER_RULES, PRESERVATION_USER_NOTICE_RULES
from jitlib.records import RecordPath, get_rpc, page, transition_rpc
from jitlib.runtime import Runtime, UnitOfWork
from jitlib.wire import ListWire
from jitlib.workspaces import WorkspaceInfo
from services.preservation import domain, events, store
from services.preservation.domain import Order, Rules
from services.preservation.mapping import (
    ORDER_FIELDS,
    new_order_from_pb,
    order_to_pb,
    page_token,
    position_from_token,
    provider_to_pb,
    transition_input,
)

#: A ``ListOrders`` answer written from the orders' stored answers (``store.list_answered``).
_LIST = ListWire(pb.PreservationOrder, pb.ListOrdersResponse, "orders")
_OVERDUE = _LIST.true("confirmation_overdue")
_ACTIONS = _LIST.strings("allowed_actions")
_FOLLOW_UP = _LIST.strings("follow_up_request_id")  # one string: the same bytes as a singular field
_LAPSED = _LIST.true("user_notice_suppression_lapsed")
_ISSUER_OUT = _LIST.true("issuer_taken_out")


class PreservationServicer(preservation_pb2_grpc.PreservationServiceServicer):
    def __init__(self, rt: Runtime, rules: Rules) -> None:
        self.rt = rt
        self.rules = rules
        self.orders = RecordPath(
            rt, PRESERVATION_ORDER_RULES, store.get, Order.access, store.find_by_request, victims=store.VICTIMS
        )
        #: The same orders, changed by the issuing side's prosecutor alone: their user notice.
        self.notices = RecordPath(rt, PRESERVATION_USER_NOTICE_RULES, store.get, Order.access)
        #: The same orders, in their enforcement (an EPOC-PR, Reg. (EU) 2023/1543 Art. 16): a prosecutor's acts.
        self.enforcement = RecordPath(rt, PRESERVATION_ENFORCEMENT_RULES, store.get, Order.access)

    def _pb(self, order: Order, now: datetime) -> pb.PreservationOrder:
        return order_to_pb(order, now, self.rules.confirmation_overdue_after)

    def _view(self, principal: auth.Principal, order: Order, now: datetime) -> pb.PreservationOrder:
        """The order as an answer to ``principal``: with the actions they may take on it now, under the clock
        rule this node applies to it, and its follow-up request's id only if they may read that request
        (``domain.follow_up_shown``). An event's state is ``_pb`` without the actions (they are the caller's)."""
        view = order_to_pb(
            order,
            now,
            self.rules.confirmation_overdue_after,
            self._allowed(principal, order, now),
            follow_up_shown=domain.follow_up_shown(principal, order),
        )
        view.issuer_taken_out = self._issuer_out(order.workspace_id, order.origin_jurisdiction)
        return view

    def _issuer_out(self, workspace_id: str, issuer: str) -> bool:
        """Whether the order's issuing jurisdiction was taken out of its workspace, as this node's directory
        says now (``domain.issuer_taken_out``; never for a workspace it does not know yet)."""
        workspace = self.rt.workspaces.get(workspace_id)
        return workspace is not None and domain.issuer_taken_out(issuer, workspace.members)

    def _allowed(self, principal: auth.Principal, order: Order, now: datetime) -> tuple[str, ...]:
        allowed = domain.allowed_actions(
            order, principal, self.rules.clock_for(order), now, overdue_after=self.rules.confirmation_overdue_after
        )
        return self.orders.allowed_actions(order, allowed)

    def _listed(self, principal: auth.Principal, order: store.Listed, now: datetime) -> bytes:
        """A listed order's message (``_view``'s, serialized) from its stored answer: the follow-up request's
        id for a caller who may read that request, the clock's ``confirmation_overdue`` and the caller's
        actions written after it."""
        body = order.answer or b""
        if domain.follow_up_shown(principal, order):
            body += _FOLLOW_UP((order.follow_up_request_id,))
        if domain.confirmation_overdue(order.state, order.issued_at, now, self.rules.confirmation_overdue_after):
            body += _OVERDUE
        if domain.suppression_lapsed(order, now):
            body += _LAPSED
        if self._issuer_out(order.workspace_id, order.facts.origin_jurisdiction):
            body += _ISSUER_OUT
        allowed = domain.allowed_actions(
            order, principal, self.rules.clock_for(order), now, overdue_after=self.rules.confirmation_overdue_after
        )
        actions = self.orders.actions_in(order.workspace_id, allowed)
        return body + _ACTIONS(actions) if actions else body

    # -- create and read --------------------------------------------------------------------------

    async def CreateOrder(
        self, request: pb.CreateOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateOrderResponse:
        _, principal, now = self.rt.call()
        cmd = new_order_from_pb(request)
        InvalidArgument.raise_for(
            domain.new_order_violations(cmd, self.rules.providers) + domain.new_notice_violations(cmd, now)
        )

        def admit(workspace: WorkspaceInfo) -> list[FieldViolation]:
            members = domain.membership_violations(cmd, workspace.members, workspace.lead)
            return members + domain.issuer_violations(cmd, principal.jurisdiction, self.rules.providers)

        def build(workspace: WorkspaceInfo) -> Order:
            return domain.create(cmd, order_id=new_id(), actor=principal.actor, now=now)

        states: list[pb.PreservationOrder] = []

        def announce(uow: UnitOfWork, order: Order, workspace: WorkspaceInfo) -> None:
            state = self._pb(order, now)
            uow.emit(
                events.subject(order, "created"),
                events.envelope(order, state, events.event_type("created"), workspace.members, now),
            )
            states.append(state)

        created = await self.orders.create_record(principal, request, cmd, build, store.ORDERS, announce, admit=admit)
        if created.replayed or not states:
            return pb.CreateOrderResponse(order=self._view(principal, created.record, now))
        # The answer is the event's state (made once: a new order follows no request) with what the caller may
        # do now.
        answer = pb.CreateOrderResponse()
        answer.order.CopyFrom(states[-1])
        answer.order.allowed_actions.extend(self._allowed(principal, created.record, now))
        return answer

    GetOrder = get_rpc("orders", pb.GetOrderResponse, "order")

    async def ListOrders(self, request: pb.ListOrdersRequest, context: grpc.aio.ServicerContext) -> bytes:
        """A page of orders, as the serialized ``ListOrdersResponse``: each order's stored answer with
        whether its confirmation is overdue now and what the caller may do on it (``jitlib.answers``); an
        order whose answer does not open (written before, its workspace shredded) made from its row as
        ``_view`` makes it."""
        _, principal, now = self.rt.call()
        size, states, violations = ORDER_FIELDS.list_filters(request)
        violations += domain.provider_id_violations(
            "provider_id", request.provider_id, self.rules.providers, required=False
        )
        expires = window_from_pb(request, "expires_after", "expires_before", violations)
        InvalidArgument.raise_for(violations)
        after = position_from_token(request)
        flt = store.OrderFilter(
            states=states,
            provider_id=request.provider_id,
            expires=expires,
            issued_before=now - self.rules.confirmation_overdue_after if request.confirmation_overdue_only else None,
            victim_ref=request.victim_ref,
        )
        # The orders of the caller's workspaces and, wherever they are, those transferred for enforcement to its
        # jurisdiction, a member of their workspace or not (EPOC_PR_ENFORCING_STATE_SEES_THE_ORDER).
        found = await self.orders.list_addressed(
            principal, request.workspace_id, store.addressed_in, store.list_answered, flt, after=after, limit=size + 1
        )
        listed, token = page(found, size, lambda o: page_token(o, request))
        elements = []
        for o in listed:
            if o.answer is not None:
                body = self._listed(principal, o, now)
            elif o.order is not None:
                body = self._view(principal, o.order, now).SerializeToString()
            else:
                continue
            elements.append(_LIST.element(body))
        return _LIST.response(elements, token)

    # -- transitions ------------------------------------------------------------------------------

    async def _transition(self, action: str, request: Any) -> pb.PreservationOrder:
        if action == "update_user_notice":
            return await self._update_user_notice(request)
        rt, principal = self.rt, auth.current()
        t = domain.TRANSITIONS[action]
        now = rt.clock.now()
        data = transition_input(request)
        violations = domain.transition_violations(action, data, now)
        # A user's change of an order of a closed workspace is refused (WORKSPACE_CLOSED); the service's own
        # clock and the evidence consumer go on (Runtime.members_of).
        path = self.enforcement if action in domain.ENFORCEMENT_ACTIONS else self.orders
        order, members = await path.load_for_change(
            principal, request, t.operation, violations, action=action.replace("_", " ")
        )
        updated = domain.apply(
            order,
            action,
            data,
            actor=principal.actor,
            now=now,
            rule=self.rules.clock_for(order),
            overdue_after=self.rules.confirmation_overdue_after,
        )

        def write(uow: UnitOfWork) -> None:
            events.write_change(uow, order, updated, t.event, rules=self.rules, members=members, now=now)

        await rt.change(principal, write)
        return self._view(principal, updated, now)

    IssueOrder = transition_rpc("issue", pb.IssueOrderResponse, "order")
    ConfirmOrder = transition_rpc("confirm", pb.ConfirmOrderResponse, "order")
    ExtendOrder = transition_rpc("extend", pb.ExtendOrderResponse, "order")
    MarkProductionRequested = transition_rpc("request_production", pb.MarkProductionRequestedResponse, "order")
    MarkProduced = transition_rpc("mark_produced", pb.MarkProducedResponse, "order")
    LiftOrder = transition_rpc("lift", pb.LiftOrderResponse, "order")
    RecordNotExecuted = transition_rpc("record_not_executed", pb.RecordNotExecutedResponse, "order")

    UpdateUserNotice = transition_rpc("update_user_notice", pb.UpdateUserNoticeResponse, "order")
    TransferForEnforcement = transition_rpc("transfer_for_enforcement", pb.TransferForEnforcementResponse, "order")
    RecogniseEnforcement = transition_rpc("recognise_enforcement", pb.RecogniseEnforcementResponse, "order")
    RefuseEnforcement = transition_rpc("refuse_enforcement", pb.RefuseEnforcementResponse, "order")

    async def _update_user_notice(self, request: pb.UpdateUserNoticeRequest) -> pb.PreservationOrder:
        """The provider's notice to the account holder, by the issuing side's prosecutor alone
        (PRESERVATION_USER_NOTICE_RULES). A retry that asks for what the order records already writes nothing
        and answers the order as it is, whatever version it names; any other change is version-checked."""
        rt, principal = self.rt, auth.current()
        action = "update_user_notice"
        t = domain.TRANSITIONS[action]
        now = rt.clock.now()
        data = transition_input(request)
        InvalidArgument.raise_for(
            validate.uuid("id", request.id)
            + domain.transition_violations(action, data, now)
            + validate.expected_version(request.expected_version)
        )
        order = await self.notices.load_visible(principal, request.id, t.operation, action="update user notice")
        if domain.notice_unchanged(order, data):
            return self._view(principal, order, now)
        await self.notices.check_change(principal, order, request.expected_version)
        members = self.notices.members_for_change(order)
        updated = domain.apply(order, action, data, actor=principal.actor, now=now, rule=self.rules.clock_for(order))

        def write(uow: UnitOfWork) -> None:
            events.write_change(uow, order, updated, t.event, rules=self.rules, members=members, now=now)

        await rt.change(principal, write)
        return self._view(principal, updated, now)

    # -- the provider register (reference data, no case content: any authenticated user) -----------

    async def ListProviders(self, request: pb.ListProvidersRequest, context: Any) -> pb.ListProvidersResponse:
        providers = sorted(self.rules.providers.values(), key=lambda p: p.id)
        return pb.ListProvidersResponse(providers=[provider_to_pb(p) for p in providers])

    async def GetProvider(self, request: pb.GetProviderRequest, context: Any) -> pb.GetProviderResponse:
        InvalidArgument.raise_for(domain.provider_id_violations("id", request.id, None, required=True))
        provider = self.rules.providers.get(request.id)
        if provider is None:
            raise NotFound("provider", request.id)
        return pb.GetProviderResponse(provider=provider_to_pb(provider))
