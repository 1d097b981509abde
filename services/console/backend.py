"""The gRPC services, called with the user's own token. One channel per service for the process.

A refusal comes back as :class:`Refused` with the reason in words, built from the service's rich status
(field violations, the reason code); NOT_FOUND says only that the record is not there for this user.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from jit.audit.v1 import audit_pb2_grpc
from jit.evidence.v1 import evidence_pb2_grpc
from jit.messaging.v1 import messaging_pb2_grpc
from jit.preservation.v1 import preservation_pb2_grpc, removal_pb2_grpc, scorecard_pb2_grpc
from jit.retention.v1 import retention_pb2_grpc
from jit.tasks.v1 import tasks_pb2_grpc
from jit.victims.v1 import statistics_pb2_grpc, victims_pb2_grpc
from services.console.settings import SERVICES, ConsoleSettings

RPC_TIMEOUT_S = 10.0
_STUBS: dict[str, Callable[[grpc.aio.Channel], Any]] = {
    "tasks": tasks_pb2_grpc.TaskServiceStub,
    "evidence": evidence_pb2_grpc.EvidenceServiceStub,
    "preservation": preservation_pb2_grpc.PreservationServiceStub,
    "messaging": messaging_pb2_grpc.MessagingServiceStub,
    "victims": victims_pb2_grpc.VictimServiceStub,
}

_CODE_WORDS = {
    grpc.StatusCode.NOT_FOUND: "Not found: there is no such record, or it is not shared with you.",
    grpc.StatusCode.PERMISSION_DENIED: "Refused: your role or jurisdiction may not do this.",
    grpc.StatusCode.UNAUTHENTICATED: "Your session is not accepted any more: log in again.",
    grpc.StatusCode.ABORTED: "Someone changed this record meanwhile: reload the page and try again.",
    grpc.StatusCode.UNAVAILABLE: "The service is not reachable just now: try again in a moment.",
    grpc.StatusCode.DEADLINE_EXCEEDED: "The service did not answer in time: try again in a moment.",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "Too much at once: try again in a moment.",
}
#: The longest text of a service's answer shown to the user.
_SHOWN_MAX = 300


class Refused(Exception):
    """A service refused a call; ``words`` is what the user reads."""

    def __init__(self, code: grpc.StatusCode, words: str, reason: str = "") -> None:
        super().__init__(words)
        self.code = code
        self.words = words
        self.reason = reason


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…"


def refusal(err: grpc.aio.AioRpcError) -> Refused:
    """The user's words for a failed call."""
    code = err.code()
    violations: list[str] = []
    reason = ""
    status = rpc_status.from_call(cast(Any, err)) if err.trailing_metadata() is not None else None
    for detail in status.details if status is not None else ():
        bad, info = error_details_pb2.BadRequest(), error_details_pb2.ErrorInfo()
        if detail.Unpack(bad):
            violations += [f"{v.field} {v.description}" for v in bad.field_violations]
        elif detail.Unpack(info):
            reason = info.reason
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS):
        text = "; ".join(violations) or (err.details() or "")
        return Refused(code, _clip(f"Refused: {text}." if text else "Refused."), reason)
    words = _CODE_WORDS.get(code, f"The service failed ({code.name}).")
    if code is grpc.StatusCode.PERMISSION_DENIED and err.details():
        words = _clip(f"Refused: {err.details()}.")
    return Refused(code, words, reason)


class Backend:
    """Stubs of every service on one shared channel each; every call carries the user's bearer token."""

    def __init__(self, settings: ConsoleSettings) -> None:
        creds = settings.grpc_credentials()
        self._channels = {
            name: (
                grpc.aio.insecure_channel(settings.service_addr(name), interceptors=aio_client_interceptors())
                if creds is None
                else grpc.aio.secure_channel(settings.service_addr(name), creds, interceptors=aio_client_interceptors())
            )
            for name in SERVICES
        }
        self._stubs = {name: _STUBS[name](ch) for name, ch in self._channels.items()}
        # The victims service's second service: statistics and the JIT's evaluation (aggregates only).
        self._stubs["statistics"] = statistics_pb2_grpc.StatisticsServiceStub(self._channels["victims"])
        # The preservation service's scorecard per platform (aggregates only).
        self._stubs["scorecard"] = scorecard_pb2_grpc.ScorecardServiceStub(self._channels["preservation"])
        # And its removal requests to platforms.
        self._stubs["removal"] = removal_pb2_grpc.RemovalServiceStub(self._channels["preservation"])
        self._audit = {name: audit_pb2_grpc.AuditServiceStub(ch) for name, ch in self._channels.items()}
        # Each service's legal holds on its own data (``<service>.retention``).
        for name, ch in self._channels.items():
            self._stubs[f"{name}.retention"] = retention_pb2_grpc.RetentionServiceStub(ch)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close(grace=None)

    @staticmethod
    def _md(token: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {token}"),)

    async def call(self, service: str, method: str, request: Any, token: str) -> Any:
        rpc = getattr(self._stubs[service], method)
        try:
            return await rpc(request, metadata=self._md(token), timeout=RPC_TIMEOUT_S)
        except grpc.aio.AioRpcError as err:
            raise refusal(err) from None

    async def audit(self, service: str, method: str, request: Any, token: str) -> Any:
        try:
            return await getattr(self._audit[service], method)(request, metadata=self._md(token), timeout=30)
        except grpc.aio.AioRpcError as err:
            raise refusal(err) from None

    async def stream_out(self, service: str, method: str, request: Any, token: str) -> AsyncIterator[Any]:
        """A server-streaming call, message by message (no deadline: a live feed or a long download)."""
        call = getattr(self._stubs[service], method)(request, metadata=self._md(token))
        try:
            async for message in call:
                yield message
        except grpc.aio.AioRpcError as err:
            raise refusal(err) from None
        finally:
            call.cancel()

    async def stream_in(self, service: str, method: str, requests: AsyncIterator[Any], token: str) -> Any:
        """A client-streaming call (an upload)."""
        try:
            return await getattr(self._stubs[service], method)(requests, metadata=self._md(token), timeout=3600)
        except grpc.aio.AioRpcError as err:
            raise refusal(err) from None
