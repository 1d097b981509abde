"""jit.audit.v1.AuditService, served by every service: auditors verify and export the hash chain."""

from __future__ import annotations

import base64

import grpc
from google.protobuf import timestamp_pb2
from sqlalchemy import select

from jit.audit.v1 import audit_pb2, audit_pb2_grpc
from jitlib import audit, auth
from jitlib.clock import as_utc
from jitlib.errors import InvalidArgument, PermissionDenied
from jitlib.policy import Decision, Operation, decide
from jitlib.runtime import Runtime

MAX_PAGE = 1000


def _require_auditor() -> auth.Principal:
    principal = auth.current()
    if decide(principal, Operation.READ_AUDIT) is not Decision.ALLOW:
        raise PermissionDenied("AUDITOR_ONLY", "only the auditor role may read the audit log")
    return principal


#: The longest page token this service issues: the base64 of a 64-bit number.
_TOKEN_MAX = 32


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    async def _linked(self) -> None:
        """Link what changes recorded until now, so the auditor reads the chain with every entry committed
        before the call (up to about 50 milliseconds' worth are pending at any time: ``jitlib.audit.record``)."""
        if self._rt.chainer is not None:
            await self._rt.chainer.flush()

    async def VerifyAuditChain(
        self, request: audit_pb2.VerifyAuditChainRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.VerifyAuditChainResponse:
        _require_auditor()
        await self._linked()
        report = await self._rt.read(lambda session: audit.verify(session, self._rt.tables), streamed=True)
        out = audit_pb2.VerifyAuditChainResponse(
            intact=report.intact,
            entries_checked=report.entries_checked,
            first_bad_seq=report.first_bad_seq,
            problem=report.problem,
            head_hash=report.head_hash,
            head_seq=report.head_seq,
        )
        cp = report.checkpoint
        if cp is not None:
            out.checkpoint.seq = cp.seq
            out.checkpoint.hash = cp.hash
            out.checkpoint.pruned_at.FromDatetime(cp.pruned_at)
            out.checkpoint.pruned_by = cp.pruned_by
            out.checkpoint.entries_pruned = cp.entries_pruned
        return out

    async def ListAuditEntries(
        self, request: audit_pb2.ListAuditEntriesRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.ListAuditEntriesResponse:
        _require_auditor()
        size = request.page_size or 100
        if not 1 <= size <= MAX_PAGE:
            raise InvalidArgument.one("page_size", f"must be between 1 and {MAX_PAGE}")
        after = 0
        if request.page_token:
            # A token this service issued names an entry's seq: a short, non-negative 64-bit number.
            try:
                after = int(base64.urlsafe_b64decode(request.page_token[:_TOKEN_MAX].encode()).decode())
            except ValueError:
                after = -1
            if len(request.page_token) > _TOKEN_MAX or not 0 <= after < 2**63:
                raise InvalidArgument.one("page_token", "is not a token this service issued")
        await self._linked()
        log = self._rt.tables.audit_log
        query = select(log).where(log.c.seq > after).order_by(log.c.seq).limit(size + 1)
        rows = await self._rt.read(lambda session: session.execute(query).mappings().all())
        entries = []
        for r in rows[:size]:
            ts = timestamp_pb2.Timestamp()
            ts.FromDatetime(as_utc(r["occurred_at"]))
            entries.append(
                audit_pb2.AuditEntry(
                    seq=r["seq"],
                    occurred_at=ts,
                    time_zone=r["time_zone"],
                    user_id=r["user_id"],
                    username=r["username"],
                    jurisdiction=r["jurisdiction"],
                    operation=r["operation"],
                    record_type=r["record_type"],
                    record_id=r["record_id"],
                    workspace_id=r["workspace_id"],
                    outcome=r["outcome"],
                    prev_hash=r["prev_hash"],
                    hash=r["hash"],
                )
            )
        token = ""
        if len(rows) > size:
            token = base64.urlsafe_b64encode(str(rows[size - 1]["seq"]).encode()).decode()
        return audit_pb2.ListAuditEntriesResponse(entries=entries, next_page_token=token)
