"""jit.preservation.v1.RemovalService: removal requests to platforms, turned from RPCs into domain decisions
and store calls: validate input -> load -> policy -> domain rule -> write change + event + audit in one
transaction (``jitlib.records.RecordPath``, as for preservation orders)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from jit.preservation.v1 import removal_pb2 as pb
from jit.preservation.v1 import removal_pb2_grpc
from jitlib import auth, validate
from jitlib.errors import FieldViolation, InvalidArgument
from jitlib.ids import new_id
from jitlib.policy import REMOVAL_REQUEST_RULES
from jitlib.records import RecordPath, get_rpc, page, transition_rpc
from jitlib.runtime import Runtime, UnitOfWork
from jitlib.workspaces import WorkspaceInfo
from services.preservation import removal_domain as domain
from services.preservation import removal_events as events
from services.preservation import store
from services.preservation.domain import Order, Provider, provider_id_violations
from services.preservation.removal_domain import Removal, RemovalRules
from services.preservation.removal_mapping import (
    REMOVAL_FIELDS,
    answer_from_pb,
    new_removal_from_pb,
    page_token,
    position_from_token,
    removal_to_pb,
)


class RemovalServicer(removal_pb2_grpc.RemovalServiceServicer):
    def __init__(self, rt: Runtime, rules: RemovalRules, providers: dict[str, Provider]) -> None:
        self.rt = rt
        self.rules = rules
        self.providers = providers
        self.removals = RecordPath(
            rt,
            REMOVAL_REQUEST_RULES,
            store.get_removal,
            Removal.access,
            store.find_removal_by_request,
            victims=store.VICTIMS,
        )

    async def _linked_orders(self, removals: Sequence[Removal]) -> dict[str, Order]:
        """The preservation orders ``removals`` link, by id (one read; none when they link none)."""
        ids = {r.preservation_order_id for r in removals if r.preservation_order_id}
        return await self.rt.read(lambda s: store.orders_by_id(s, ids)) if ids else {}

    def _message(
        self, principal: auth.Principal, removal: Removal, now: Any, orders: dict[str, Order]
    ) -> pb.RemovalRequest:
        """The request as ``principal`` sees it: its allowed actions, its preservation order's id only when
        the policy lets the caller read that order (``domain.order_shown``), and the reason to go on without
        one only to the issuing jurisdiction (``domain.reason_shown``): to anyone else a removal linked to an
        order they may not read is the same as one sent without preservation."""
        allowed = self.removals.allowed_actions(removal, domain.allowed_actions(removal, principal))
        shown = domain.order_shown(principal, removal, orders.get(removal.preservation_order_id))
        return removal_to_pb(
            removal, now, allowed, order_shown=shown, reason_shown=domain.reason_shown(principal, removal)
        )

    async def _view(self, principal: auth.Principal, removal: Removal, now: Any) -> pb.RemovalRequest:
        return self._message(principal, removal, now, await self._linked_orders([removal]))

    async def CreateRemoval(
        self, request: pb.CreateRemovalRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateRemovalResponse:
        rt, principal, now = self.rt.call()
        cmd = new_removal_from_pb(request)
        InvalidArgument.raise_for(domain.new_removal_violations(cmd, self.providers, now))
        orders = await rt.read(lambda s: store.orders_of_provider(s, cmd.workspace_id, cmd.provider_id))

        def admit(workspace: WorkspaceInfo) -> list[FieldViolation]:
            return validate.victim_refs_of_workspace(cmd.victim_refs, workspace.lead)

        def build(workspace: WorkspaceInfo) -> Removal:
            order, problem = domain.live_preservation(cmd, orders, principal)
            if problem is not None:
                raise problem
            return domain.create(
                cmd, removal_id=new_id(), actor=principal.actor, now=now, rules=self.rules, order=order
            )

        def announce(uow: UnitOfWork, removal: Removal, workspace: WorkspaceInfo) -> None:
            events.announce(uow, removal, "created", workspace.members, now)

        created = await self.removals.create_record(
            principal, request, cmd, build, store.REMOVALS, announce, admit=admit
        )
        return pb.CreateRemovalResponse(removal=await self._view(principal, created.record, now))

    GetRemoval = get_rpc("removals", pb.GetRemovalResponse, "removal")

    async def ListRemovals(
        self, request: pb.ListRemovalsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRemovalsResponse:
        _, principal, now = self.rt.call()
        size, states, violations = REMOVAL_FIELDS.list_filters(request)
        violations += provider_id_violations("provider_id", request.provider_id, self.providers, required=False)
        InvalidArgument.raise_for(violations)
        after = position_from_token(request)
        flt = store.RemovalFilter(states=states, provider_id=request.provider_id, victim_ref=request.victim_ref)
        found = await self.removals.list_in_workspaces(
            principal, request.workspace_id, store.list_removals, flt, after=after, limit=size + 1
        )
        removals, token = page(found, size, lambda r: page_token(r, request))
        orders = await self._linked_orders(removals)
        return pb.ListRemovalsResponse(
            removals=[self._message(principal, r, now, orders) for r in removals], next_page_token=token
        )

    async def _transition(self, action: str, request: Any) -> pb.RemovalRequest:
        rt, principal = self.rt, auth.current()
        t = domain.TRANSITIONS[action]
        now = rt.clock.now()
        data = answer_from_pb(request)
        violations = domain.answer_violations(action, data, now)
        removal, members = await self.removals.load_for_change(
            principal, request, domain.OPERATION, violations, action=t.event
        )
        updated = domain.apply(removal, action, data, actor=principal.actor, now=now, rules=self.rules)
        await rt.change(
            principal, lambda uow: events.write_change(uow, removal, updated, t.event, members=members, now=now)
        )
        return await self._view(principal, updated, now)

    AcknowledgeRemoval = transition_rpc("ack", pb.AcknowledgeRemovalResponse, "removal")
    RecordRemoved = transition_rpc("removed", pb.RecordRemovedResponse, "removal")
    RecordGeoBlocked = transition_rpc("geoblocked", pb.RecordGeoBlockedResponse, "removal")
    RecordRefused = transition_rpc("refused", pb.RecordRefusedResponse, "removal")
    RecordAppealed = transition_rpc("appealed", pb.RecordAppealedResponse, "removal")
    RecordRestored = transition_rpc("restored", pb.RecordRestoredResponse, "removal")
    RecordReupload = transition_rpc("reupload", pb.RecordReuploadResponse, "removal")
