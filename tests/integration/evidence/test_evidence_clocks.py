"""The legal clocks of evidence requests through the gRPC service, time moved by the service's test clock
(this module's own service: its clock only moves forward, so each test counts from its own request's
moments, never from the wall clock). Each module runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import grpc
import pytest

from jit.evidence.v1 import evidence_pb2 as pb
from tests.harness import error_reason
from tests.integration.evidence.conftest import DAY, Client
from tests.integration.evidence.test_evidence_items import upload

pytestmark = pytest.mark.integration


def allowed(client: Client, user: str, request_id: str) -> list[str]:
    return list(client.call(user, "GetRequest", pb.GetRequestRequest(id=request_id)).request.allowed_actions)


def test_epoc_silence_is_consent_after_ten_days(client: Client, evidence_svc: Any) -> None:
    """EPOC_SILENCE_IS_CONSENT (Reg. (EU) 2023/1543 Art. 10(2), 12(1)): the notified enforcing state (IE)
    stays silent; before its 10 days end the provider's execution cannot be recorded, after them the issuer
    records it, receives the data and completes, and IE's late ground is refused."""
    clock = evidence_svc.app.clock
    r = client.epoc(pb.EPOC_PROCEDURE_WITH_NOTIFICATION)
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    r = client.call("nl-prosecutor", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id)).request
    window_end = r.received_at.ToDatetime(tzinfo=UTC) + 10 * DAY
    err = client.error("nl-prosecutor", "StartExecution", pb.StartExecutionRequest(id=r.id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "REVIEW_REQUIRED"
    assert window_end.isoformat() in (err.details() or "") and "Art. 10(2)" in (err.details() or "")
    assert "start_execution" not in allowed(client, "nl-prosecutor", r.id)

    clock.advance(10 * DAY + timedelta(minutes=1))
    assert "start_execution" in allowed(client, "nl-prosecutor", r.id)
    assert "refuse" not in allowed(client, "ie-prosecutor", r.id)
    late = client.error(
        "ie-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_NE_BIS_IN_IDEM, detail="raised too late"),
    )
    assert late.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(late) == "REVIEW_WINDOW_PASSED"

    r = client.call("nl-prosecutor", "StartExecution", pb.StartExecutionRequest(id=r.id)).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_IN_EXECUTION
    assert [d.kind for d in r.deadlines] == [pb.DEADLINE_KIND_PRODUCE]  # the review window is over
    item = upload(client, "nl-liaison", r.id, b"the provider's export")
    assert item.request_id == r.id
    r = client.call("nl-prosecutor", "CompleteExecution", pb.CompleteExecutionRequest(id=r.id)).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_EXECUTED and not r.deadlines  # delivery met the deadline
