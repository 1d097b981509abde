"""jit.preservation.v1.ScorecardService: the scorecard per platform. Validate input -> the workspaces the
caller may list (the one policy, as ListOrders: NOT_FOUND, PERMISSION_DENIED, the read audited) -> read the
orders and removal requests the caller may see (``scorecard_store``) -> ``scorecard_domain`` -> the message."""

from __future__ import annotations

import asyncio

import grpc

from jit.preservation.v1 import scorecard_pb2 as pb
from jit.preservation.v1 import scorecard_pb2_grpc
from jitlib import auth, stats, validate
from jitlib.errors import FieldViolation, InvalidArgument
from jitlib.mapping import dt_to_ts, window_from_pb
from jitlib.policy import RecordRules
from jitlib.records import RecordPath
from jitlib.runtime import Runtime
from services.preservation import scorecard_domain, scorecard_store, store
from services.preservation.domain import Order, Rules

#: The scorecard is read as a list of the workspaces' records: any case role of a member (no act on a
#: record, so no side's roles), the READ rule deciding which records count. Its reads are audited as this.
SCORECARD = RecordRules(
    kind="platform_scorecard", creator_roles=frozenset(), issuer_roles=frozenset(), addressee_roles=frozenset()
)


def _figures_pb(f: scorecard_domain.Figures) -> pb.AnswerFigures:
    out = pb.AnswerFigures(kind=f.kind.value, suppressed=f.suppressed)
    if f.suppressed:
        return out
    out.asked = f.asked or 0
    for name in ("answered", "median_seconds", "p90_seconds", "decided", "share_late"):
        value = getattr(f, name)
        if value is not None:
            setattr(out, name, value)
    return out


def scorecard_pb(card: scorecard_domain.Scorecard) -> list[pb.PlatformScore]:
    return [
        pb.PlatformScore(
            provider_id=p.provider_id,
            provider_name=p.name,
            answers=[_figures_pb(f) for f in p.figures],
            refusals=[
                pb.RefusalCount(refused=r.of.value, reason=r.reason, suppressed=r.suppressed, count=r.count or 0)
                for r in p.refusals
            ],
            reuploads_suppressed=p.reuploads_suppressed,
            reuploads=p.reuploads or 0,
        )
        for p in card.platforms
    ]


class ScorecardServicer(scorecard_pb2_grpc.ScorecardServiceServicer):
    def __init__(self, rt: Runtime, rules: Rules, *, k_floor: int = stats.DEFAULT_K) -> None:
        self.rt = rt
        self.rules = rules
        self.k_floor = max(stats.DEFAULT_K, k_floor)
        self.path = RecordPath(rt, SCORECARD, store.get, Order.access)

    async def GetScorecard(
        self, request: pb.GetScorecardRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetScorecardResponse:
        rt, principal = self.rt, auth.current()
        now = rt.clock.now()
        violations = validate.workspace_id("workspace_id", request.workspace_id, required=False)
        window = window_from_pb(request, "period_start", "period_end", violations)
        period = stats.Period(window.start, window.end) if not violations else stats.Period()
        k = self.k_floor
        try:
            k = stats.query(stats.Measure.ORDERS.value, (), request.k, k_floor=self.k_floor).k
        except stats.StatsError as exc:
            violations += [FieldViolation(f, r) for f, r in exc.problems]
        InvalidArgument.raise_for(violations)
        records = await self.path.list_in_workspaces(principal, request.workspace_id, scorecard_store.visible_records)
        orders = [r for r in records if isinstance(r, Order)]
        removals = [r for r in records if isinstance(r, scorecard_domain.Removal)]
        workspaces = {request.workspace_id} if request.workspace_id else set(principal.workspaces)
        names = {p.id: p.name for p in self.rules.providers.values()}
        target = self.rules.confirmation_overdue_after

        def compute() -> scorecard_domain.Scorecard:
            facts = scorecard_domain.facts(orders, removals, confirmation_target=target)
            return scorecard_domain.score(facts, k=k, now=now, names=names, period=period)

        card = await asyncio.to_thread(compute)
        return pb.GetScorecardResponse(
            k=card.k, platforms=scorecard_pb(card), workspace_ids=sorted(workspaces), computed_at=dt_to_ts(now)
        )
