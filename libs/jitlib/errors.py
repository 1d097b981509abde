"""Domain errors and their mapping to rich gRPC statuses.

Services raise these; the server bootstrap turns them into google.rpc.Status with BadRequest field
violations or an ErrorInfo reason. Anything else becomes INTERNAL with a generic message (never a bare
UNKNOWN, never a traceback to the client).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

ERROR_DOMAIN = "jit.platform"


def bounded(value: str, limit: int = 128) -> str:
    """``value`` cut to ``limit`` characters, marked when cut: for what a caller sent that is echoed in a
    status or kept in the audit log before (or without) being validated."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class JitError(Exception):
    """Base class: an expected failure with a gRPC code and a message safe to show the caller."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> list[any_pb2.Any]:
        return []

    def to_status(self) -> status_pb2.Status:
        return status_pb2.Status(code=self.code.value[0], message=self.message, details=self.details())


#: The violations a status names at most: a request with thousands of wrong values in a list (each its own
#: violation) is answered with the first ones and a count of the rest, in a status of bounded size (gRPC
#: refuses to deliver a status whose message and details exceed its metadata limit, 16 KiB by default).
MAX_VIOLATIONS = 20


class InvalidArgument(JitError):
    """One or more request fields are wrong. Nothing was written."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, violations: Iterable[FieldViolation]) -> None:
        self.violations = list(violations)
        if not self.violations:
            raise ValueError("InvalidArgument needs at least one violation")
        if len(self.violations) > MAX_VIOLATIONS:
            rest = len(self.violations) - MAX_VIOLATIONS + 1
            first = self.violations[: MAX_VIOLATIONS - 1]
            self.violations = [*first, FieldViolation("request", f"and {rest} more problems, not listed")]
        text = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(f"invalid request: {text}")

    @classmethod
    def one(cls, field: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(field, description)])

    @classmethod
    def raise_for(cls, violations: Iterable[FieldViolation]) -> None:
        """Raise with every violation found, or do nothing when there is none."""
        found = list(violations)
        if found:
            raise cls(found)

    def details(self) -> list[any_pb2.Any]:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in self.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        return [packed]


class _WithReason(JitError):
    def __init__(self, reason: str, message: str, metadata: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.metadata = dict(metadata or {})

    def details(self) -> list[any_pb2.Any]:
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata)
        packed = any_pb2.Any()
        packed.Pack(info)
        return [packed]


class FailedPrecondition(_WithReason):
    """The record is not in a state that allows this operation (e.g. an illegal transition)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(_WithReason):
    """The caller can see the record but may not do this to it."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Aborted(_WithReason):
    """Lost an optimistic-concurrency race: re-read and retry."""

    code = grpc.StatusCode.ABORTED


class Unauthenticated(_WithReason):
    code = grpc.StatusCode.UNAUTHENTICATED


class OwnerUnreachable(_WithReason):
    """A command on another node's record could not reach that node (federation): nothing was done."""

    code = grpc.StatusCode.UNAVAILABLE


class NotFound(JitError):
    """The record does not exist, or the caller may not know that it exists: the two are the same answer."""

    code = grpc.StatusCode.NOT_FOUND

    def __init__(self, kind: str, record_id: str) -> None:
        # Never echo unbounded input: an id is validated before it is looked up, but be safe anyway.
        super().__init__(f"{kind} {bounded(record_id)} not found")


class Unavailable(JitError):
    code = grpc.StatusCode.UNAVAILABLE


def status_code_of(status: status_pb2.Status) -> int:
    return status.code if status.code else code_pb2.UNKNOWN
