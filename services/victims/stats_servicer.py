"""jit.victims.v1.StatisticsService: statistics and the JIT's evaluation, and the victims' special-category
attributes. Validate input -> the one policy -> read the projection and the victims -> ``jitlib.stats``.

Only aggregates leave here, small cells suppressed (SMALL_CELLS_SUPPRESSED); a victim's attributes leave
only to need-to-know (SPECIAL_CATEGORIES_NEED_TO_KNOW, the policy's READ_PERSONAL on the victim), and a
table grouped by one answers alike whatever one victim's value is (``jitlib.stats``). Every call that reads
or writes attributes, and every export, is in the audit chain: a table's read with its measure and
groupings (``statistics``) and its period (``statistics_period``)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import grpc

from jit.victims.v1 import statistics_pb2 as pb
from jit.victims.v1 import statistics_pb2_grpc
from jitlib import auth, stats, validate
from jitlib.actors import Actor
from jitlib.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from jitlib.mapping import actor_pb, dt_to_ts, ts_to_dt
from jitlib.policy import VICTIM_RULES, Decision, Operation, statistics_decision, statistics_workspaces
from jitlib.runtime import Runtime, UnitOfWork
from services.victims import stats_domain, stats_store, store
from services.victims.domain import Victim

STATISTICS_RECORD = "statistics"
#: The audit entry beside a table's: the period it counted (an ISO 8601 interval).
PERIOD_RECORD = "statistics_period"
CATEGORIES_RECORD = "victim_special_categories"


def _table_pb(table: stats.Table, name: str = "") -> pb.StatisticsTable:
    def cell(c: stats.Cell) -> pb.StatisticsCell:
        out = pb.StatisticsCell(key=list(c.key), suppressed=c.suppressed)
        if not c.suppressed:
            out.count = c.count or 0
            out.met = c.met or 0
            out.missed = c.missed or 0
            out.open = c.open or 0
            if c.median_seconds is not None:
                out.median_seconds = c.median_seconds
        return out

    return pb.StatisticsTable(
        name=name,
        measure=table.measure.value,
        groupings=list(table.groupings),
        k=table.k,
        cells=[cell(c) for c in table.cells],
        total=cell(table.total),
    )


def _attributes_pb(values: dict[str, str]) -> pb.SpecialCategories:
    return pb.SpecialCategories(**{name: values.get(name, "") for name in stats.SPECIAL_CATEGORIES})


def _record_pb(record: stats_domain.SpecialCategories) -> pb.SpecialCategoriesRecord:
    out = pb.SpecialCategoriesRecord(
        victim_ref=record.victim_ref,
        workspace_id=record.workspace_id,
        attributes=_attributes_pb(dict(record.attributes)),
        purpose=record.purpose,
        consent_given_at=dt_to_ts(record.consent_given_at),
        recorded_by=actor_pb(Actor(record.recorded_by_id, record.recorded_by_name, record.recorded_by_jurisdiction)),
    )
    if record.recorded_at is not None:
        out.recorded_at.CopyFrom(dt_to_ts(record.recorded_at))
    return out


class StatisticsServicer(statistics_pb2_grpc.StatisticsServiceServicer):
    def __init__(self, rt: Runtime, *, k_floor: int = stats.DEFAULT_K) -> None:
        self.rt = rt
        self.k_floor = max(stats.DEFAULT_K, k_floor)

    # -- access ---------------------------------------------------------------------------------------

    async def _refuse(self, principal: auth.Principal, decision: Decision, workspace_id: str, what: str) -> None:
        """Audit a refusal and raise it: NOT_FOUND for a workspace the caller is not a member of, else
        PERMISSION_DENIED saying who may."""
        outcome = "not_found" if decision is Decision.NOT_FOUND else "denied"
        await self.rt.change(
            principal, lambda uow: uow.audit(STATISTICS_RECORD, workspace_id or "-", workspace_id, outcome=outcome)
        )
        if decision is Decision.NOT_FOUND:
            raise NotFound("workspace", workspace_id)
        raise PermissionDenied(
            "NOT_ALLOWED",
            f"{principal.username} ({principal.jurisdiction}) may not {what}: {WHO[what]}",
            {"jurisdiction": principal.jurisdiction},
        )

    async def _workspaces(self, principal: auth.Principal, workspace_id: str) -> frozenset[str]:
        if workspace_id:
            decision = statistics_decision(principal, workspace_id)
            if decision is not Decision.ALLOW:
                await self._refuse(principal, decision, workspace_id, "count case records")
            return frozenset({workspace_id})
        scope = statistics_workspaces(principal)
        if not scope:
            await self._refuse(principal, Decision.DENY, "", "count case records")
        return scope

    def _query(self, measure: str, groupings: list[str], k: int, period: stats.Period | None = None) -> stats.Query:
        try:
            return stats.query(measure, groupings, k, k_floor=self.k_floor, period=period)
        except stats.StatsError as exc:
            raise InvalidArgument([FieldViolation(f, r) for f, r in exc.problems]) from None

    async def _facts(self, principal: auth.Principal, workspaces: frozenset[str]) -> stats.Facts:
        def read(session: object) -> stats.Facts:
            return stats_domain.facts(
                principal,
                workspaces,
                stats_store.counted_in(session, workspaces),  # type: ignore[arg-type]
                stats_store.victims_in(session, workspaces),  # type: ignore[arg-type]
                stats_store.attributes_in(session, workspaces),  # type: ignore[arg-type]
            )

        return await self.rt.read(read)

    # -- statistics -----------------------------------------------------------------------------------

    async def GetStatistics(
        self, request: pb.GetStatisticsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetStatisticsResponse:
        _, principal, now = self.rt.call()
        violations = validate.workspace_id("workspace_id", request.workspace_id, required=False)
        start = ts_to_dt(request.period_start, request.HasField("period_start"))
        end = ts_to_dt(request.period_end, request.HasField("period_end"))
        period = stats.Period()
        if start is not None and end is not None and end <= start:
            violations.append(FieldViolation("period_end", "must be after period_start"))
        else:
            period = stats.Period(start, end)
        try:
            q = self._query(request.measure, list(request.groupings), request.k, period)
        except InvalidArgument as exc:
            violations += exc.violations
        InvalidArgument.raise_for(violations)
        workspaces = await self._workspaces(principal, request.workspace_id)
        # The read opens every counted victim's attributes: audited before it, with what it asks for, so
        # that narrowing periods or groupings to single someone out leaves its trace.
        what, period_text = stats.audit_names(q)
        logged_as = request.workspace_id or "*"

        def audit(uow: UnitOfWork) -> None:
            uow.audit(STATISTICS_RECORD, what, logged_as)
            uow.audit(PERIOD_RECORD, period_text, logged_as)

        await self.rt.change(principal, audit)
        facts = await self._facts(principal, workspaces)
        table = await asyncio.to_thread(stats.compute, facts, q, now=now)
        return pb.GetStatisticsResponse(
            table=_table_pb(table), workspace_ids=sorted(workspaces), computed_at=dt_to_ts(now)
        )

    async def ExportEvaluation(
        self, request: pb.ExportEvaluationRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportEvaluationResponse:
        """The JIT's evaluation (JIT_EVALUATION): its lead's prosecutors only; audited as an export."""
        rt, principal, now = self.rt.call()
        InvalidArgument.raise_for(validate.workspace_id("workspace_id", request.workspace_id))
        k = self._query("requests", [], request.k).k
        workspace = rt.workspaces.get(request.workspace_id)
        lead = workspace.lead if workspace is not None else ""
        decision = statistics_decision(principal, request.workspace_id, evaluation_lead=lead)
        if decision is not Decision.ALLOW:
            await self._refuse(principal, decision, request.workspace_id, "export the JIT's evaluation")
        facts = await self._facts(principal, frozenset({request.workspace_id}))
        name = workspace.name if workspace is not None and workspace.name else request.workspace_id

        def render() -> tuple[list[tuple[str, stats.Table]], str, bytes]:
            tables = stats.evaluation(facts, now=now, k=k)
            return tables, stats.evaluation_csv(tables), stats.chart_png(tables, f"JIT evaluation: {name}")

        tables, csv_text, png = await asyncio.to_thread(render)
        await rt.change(principal, lambda uow: uow.audit(STATISTICS_RECORD, request.workspace_id, request.workspace_id))
        return pb.ExportEvaluationResponse(
            workspace_id=request.workspace_id,
            tables=[_table_pb(t, n) for n, t in tables],
            csv=csv_text.encode(),
            chart_png=png,
            computed_at=dt_to_ts(now),
        )

    # -- special-category attributes -------------------------------------------------------------------

    async def _victim_for_personal(self, principal: auth.Principal, victim_ref: str, action: str) -> Victim:
        """The victim ``victim_ref`` when the caller has need to know (the policy's READ_PERSONAL: the victim's
        jurisdiction's prosecutors and liaisons who are members); NOT_FOUND, audited, for anyone else."""
        rt = self.rt

        def load(session: object) -> Victim | None:
            row = stats_store.victim_by_ref(session, victim_ref)  # type: ignore[arg-type]
            return store.to_domain(row) if row is not None else None

        victim = await rt.read(load)
        await rt.authorize(
            principal,
            Operation.READ_PERSONAL,
            VICTIM_RULES,
            record_type=CATEGORIES_RECORD,
            record_id=victim_ref,
            record=victim.access() if victim is not None else None,
            action=action,
        )
        assert victim is not None  # authorize refuses a missing victim as NOT_FOUND
        rt.require_owner(victim.origin_jurisdiction, "victim")
        return victim

    async def RecordSpecialCategories(
        self, request: pb.RecordSpecialCategoriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordSpecialCategoriesResponse:
        """SPECIAL_CATEGORIES_CONSENT: consent and purpose required; stored apart, sealed."""
        rt, principal, now = self.rt.call()
        values = {name: getattr(request.attributes, name) for name in stats.SPECIAL_CATEGORIES}
        violations = stats_domain.victim_ref_violations("victim_ref", request.victim_ref)
        violations += stats_domain.special_category_violations(
            request.consent_given,
            ts_to_dt(request.consent_given_at, request.HasField("consent_given_at")),
            request.purpose,
            values,
            now,
        )
        InvalidArgument.raise_for(violations)
        victim = await self._victim_for_personal(principal, request.victim_ref, "record special categories of")
        record = stats_domain.SpecialCategories(
            victim_ref=victim.pseudonym,
            workspace_id=victim.workspace_id,
            attributes={k: v for k, v in values.items() if v},
            purpose=request.purpose,
            consent_given_at=request.consent_given_at.ToDatetime(tzinfo=now.tzinfo),
            recorded_by_id=principal.user_id,
            recorded_by_name=principal.username,
            recorded_by_jurisdiction=principal.jurisdiction,
            recorded_at=now,
        )

        def write(uow: UnitOfWork) -> None:
            stats_store.put_categories(uow.session, record)
            uow.audit(CATEGORIES_RECORD, victim.id, victim.workspace_id)

        await rt.change(principal, write)
        return pb.RecordSpecialCategoriesResponse(record=_record_pb(record))

    async def GetSpecialCategories(
        self, request: pb.GetSpecialCategoriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSpecialCategoriesResponse:
        """SPECIAL_CATEGORIES_NEED_TO_KNOW: per person to need-to-know only, each read audited."""
        rt, principal = self.rt, auth.current()
        violations = stats_domain.victim_ref_violations("victim_ref", request.victim_ref)
        violations += validate.text("purpose", request.purpose, required=True, maximum=stats_domain.PURPOSE_MAX)
        InvalidArgument.raise_for(violations)
        victim = await self._victim_for_personal(principal, request.victim_ref, "read special categories of")

        def read_and_log(uow: UnitOfWork) -> stats_domain.SpecialCategories | None:
            found = stats_store.get_categories(uow.session, victim.pseudonym)
            uow.audit(CATEGORIES_RECORD, victim.id, victim.workspace_id, outcome="ok" if found else "not_found")
            return found

        record = await rt.change(principal, read_and_log)
        if record is None:  # none recorded, or destroyed when consent was withdrawn
            raise NotFound(CATEGORIES_RECORD, victim.pseudonym)
        return pb.GetSpecialCategoriesResponse(record=_record_pb(record))

    async def WithdrawConsent(
        self, request: pb.WithdrawConsentRequest, context: grpc.aio.ServicerContext
    ) -> pb.WithdrawConsentResponse:
        """SPECIAL_CATEGORIES_WITHDRAWN: the attributes are destroyed and count as not recorded; a retry answers
        as the first call did (``stats_store.withdraw_consent``)."""
        rt, principal, now = self.rt.call()
        InvalidArgument.raise_for(stats_domain.victim_ref_violations("victim_ref", request.victim_ref))
        victim = await self._victim_for_personal(principal, request.victim_ref, "withdraw the consent of")

        def destroy(uow: UnitOfWork) -> datetime | None:
            at = stats_store.withdraw_consent(uow.session, victim.pseudonym, victim.workspace_id, now)
            uow.audit(CATEGORIES_RECORD, victim.id, victim.workspace_id, outcome="ok" if at else "not_found")
            return at

        # A retry (its answer lost) finds the attributes gone: it answers with when the first call destroyed them.
        destroyed_at = await rt.change(principal, destroy)
        out = pb.WithdrawConsentResponse(victim_ref=victim.pseudonym)
        if destroyed_at is not None:
            out.destroyed_at.CopyFrom(dt_to_ts(destroyed_at))
        return out


WHO = {
    "count case records": "a workspace's prosecutors and participants may",
    "export the JIT's evaluation": "the prosecutors of the workspace's lead jurisdiction may",
}
