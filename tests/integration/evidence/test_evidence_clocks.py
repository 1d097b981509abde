"""The legal clocks of evidence requests through the gRPC service, time moved by the service's test clock
(this module's own service: its clock only moves forward, so each test counts from its own request's
moments, never from the wall clock). Each module runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import grpc
import pytest

from jit.audit.v1 import audit_pb2
from jit.evidence.v1 import evidence_pb2 as pb
from services.evidence.deadlines import period_end
from tests.harness import error_reason, eventually, field_violations, md, rid
from tests.integration.evidence.conftest import DAY, Client, scan_now, ts
from tests.integration.evidence.test_evidence_items import download, upload
from tests.integration.evidence.test_evidence_requests import envelopes

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
    (window_end,) = [d.due_at.ToDatetime(tzinfo=UTC) for d in r.deadlines if d.kind == pb.DEADLINE_KIND_REVIEW]
    # 10 days counted as Reg. 1182/71 Art. 3 counts them in Ireland (deadlines.period_end).
    assert window_end == period_end(r.received_at.ToDatetime(tzinfo=UTC), 10 * DAY, "IE")
    err = client.error("nl-prosecutor", "StartExecution", pb.StartExecutionRequest(id=r.id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "REVIEW_REQUIRED"
    assert window_end.isoformat() in (err.details() or "") and "Art. 10(2)" in (err.details() or "")
    assert "start_execution" not in allowed(client, "nl-prosecutor", r.id)

    clock.advance(window_end - clock.now() + timedelta(minutes=1))
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


def test_eio_postponement_before_recognition_resumes_with_its_decision_deadline(
    client: Client, evidence_svc: Any
) -> None:
    """EIO_POSTPONEMENT (Directive 2014/41/EU Art. 15, 12(3)): DE postpones an EIO before deciding on it;
    resumed five days later it is back before the decision (not in execution) and its 30 days run on from
    the resumption with what was left: the decision deadline is as much later as it was postponed."""
    clock = evidence_svc.app.clock
    r = client.create()
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    r = client.call("de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id)).request
    (decide,) = r.deadlines
    r = client.call(
        "de-prosecutor", "PostponeRequest", pb.PostponeRequestRequest(id=r.id, reason="a domestic search first")
    ).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_POSTPONED and not r.deadlines
    assert r.postponed_from == pb.EVIDENCE_REQUEST_STATE_ACKNOWLEDGED and r.HasField("postponed_at")
    assert allowed(client, "de-prosecutor", r.id) == ["resume"]

    clock.advance(5 * DAY)
    r = client.call("de-prosecutor", "ResumeRequest", pb.ResumeRequestRequest(id=r.id)).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_ACKNOWLEDGED and not r.postponed_from
    held = r.decision_suspended_seconds
    assert 5 * 86400 <= held < 5 * 86400 + 600
    (resumed,) = r.deadlines
    assert resumed.kind == pb.DEADLINE_KIND_DECIDE and not resumed.overdue
    # Counted as if received as much later as it was held, to the end of a working day in Germany.
    received = r.received_at.ToDatetime(tzinfo=UTC)
    assert resumed.due_at.ToDatetime(tzinfo=UTC) == period_end(received + timedelta(seconds=held), 30 * DAY, "DE")
    assert resumed.due_at.ToDatetime(tzinfo=UTC) > decide.due_at.ToDatetime(tzinfo=UTC)
    assert "while postponed" in resumed.source and "Art. 15" in resumed.source
    assert "start_execution" in r.allowed_actions
    r = client.call("de-prosecutor", "StartExecution", pb.StartExecutionRequest(id=r.id)).request
    assert [d.kind for d in r.deadlines] == [pb.DEADLINE_KIND_EXECUTE]


def test_eio_delay_notice_is_shown_and_the_legal_deadline_keeps_its_alerts(
    client: Client, evidence_svc: Any, nats_server: Any
) -> None:
    """EIO_DELAY_NOTICE (Directive 2014/41/EU Art. 12(6)): DE cannot execute in the 90 days and says why and
    when it expects to; NL sees the delay next to the legal deadline, which does not move: its alert goes
    out when the law says, and the notice is an event and an audit entry."""
    clock = evidence_svc.app.clock
    r = client.executing()
    (execute,) = r.deadlines
    expected = clock.now() + 120 * DAY
    bad = client.error(
        "de-prosecutor",
        "NotifyDelay",
        pb.NotifyDelayRequest(id=r.id, reason="seized server", expected_at=ts(clock.now() - DAY)),
    )
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT and "expected_at" in field_violations(bad)
    issuer = client.error(
        "nl-prosecutor", "NotifyDelay", pb.NotifyDelayRequest(id=r.id, reason="x", expected_at=ts(expected))
    )
    assert issuer.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "notify_delay" in allowed(client, "de-prosecutor", r.id)

    r = client.call(
        "de-prosecutor",
        "NotifyDelay",
        pb.NotifyDelayRequest(id=r.id, reason="the server is held abroad", expected_at=ts(expected)),
    ).request
    seen = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)).request
    for view in (r, seen):
        assert view.state == pb.EVIDENCE_REQUEST_STATE_IN_EXECUTION
        assert view.delay.deadline == pb.DEADLINE_KIND_EXECUTE and view.delay.reason == "the server is held abroad"
        assert view.delay.notified_by.jurisdiction == "DE"
        assert view.delay.expected_at.ToSeconds() == int(expected.timestamp())
        (d,) = view.deadlines
        assert d.due_at == execute.due_at and d.expected_at.ToSeconds() == int(expected.timestamp())
    assert eventually(lambda: envelopes(nats_server.url, "jit.evidence.NL.delay_notified", r.id), timeout=30)
    auditor = md(client.tokens("nl-auditor"))
    entries = client.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_size=1000), metadata=auditor)
    assert any(e.operation.endswith("/NotifyDelay") and e.record_id == r.id for e in entries.entries)

    # The alert counts against the law, not against the notified date.
    clock.advance(execute.due_at.ToDatetime(tzinfo=UTC) - clock.now() + timedelta(minutes=1))
    scan_now(evidence_svc)

    (alert,) = eventually(lambda: envelopes(nats_server.url, "jit.evidence.NL.deadline_passed", r.id), timeout=30)
    state = pb.DeadlineAlert()
    assert alert.state.Unpack(state) and state.deadline.kind == pb.DEADLINE_KIND_EXECUTE
    assert state.deadline.due_at == execute.due_at and state.deadline.HasField("expected_at")


def _download_error(client: Client, user: str, item_id: str) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        download(client, user, item_id)
    return info.value


def _emergency_delivered(client: Client) -> tuple[pb.EvidenceRequest, pb.EvidenceItem]:
    """An emergency EPOC with notification of IE, executed: the provider's data received as one item."""
    r = client.epoc(pb.EPOC_PROCEDURE_EMERGENCY_WITH_NOTIFICATION)
    for method, msg in (
        ("IssueRequest", pb.IssueRequestRequest(id=r.id)),
        ("AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id)),
        ("StartExecution", pb.StartExecutionRequest(id=r.id)),
    ):
        client.call("nl-prosecutor", method, msg)
    item = upload(client, "nl-liaison", r.id, b"messages exported by the provider")
    r = client.call("nl-prosecutor", "CompleteExecution", pb.CompleteExecutionRequest(id=r.id)).request
    return r, item


def test_epoc_emergency_objection_within_96_hours_restricts_the_items_of_a_closed_request(
    client: Client, evidence_svc: Any, nats_server: Any
) -> None:
    """EPOC_EMERGENCY_OBJECTION (Reg. (EU) 2023/1543 Art. 10(4), 12(1)): IE objects 90 hours after receipt,
    after NL received the data and closed the request: the request is refused, the item is kept but
    restricted (no download or export for anyone; a seal stays possible) and its chain of custody says so,
    once, by the system."""
    clock = evidence_svc.app.clock
    r, item = _emergency_delivered(client)
    assert download(client, "nl-prosecutor", item.id)[1] == b"messages exported by the provider"
    r = client.call("nl-prosecutor", "CloseRequest", pb.CloseRequestRequest(id=r.id)).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_CLOSED
    assert [d.kind for d in r.deadlines] == [pb.DEADLINE_KIND_OBJECTION]

    clock.advance(timedelta(hours=90))
    assert "refuse" in allowed(client, "ie-prosecutor", r.id)
    r = client.call(
        "ie-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE, detail="a journalist's"),
    ).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_REFUSED and r.HasField("items_restricted_at")
    for user in ("nl-prosecutor", "nl-liaison", "ie-prosecutor"):
        err = _download_error(client, user, item.id)
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "ITEM_RESTRICTED"
        assert "Art. 10(4)" in (err.details() or "")
    export = client.error(
        "nl-prosecutor",
        "RecordCustodyEvent",
        pb.RecordCustodyEventRequest(
            request_id=rid(),
            item_id=item.id,
            action=pb.CUSTODY_ACTION_EXPORTED,
            purpose="court file",
            recipient="Rechtbank",
        ),
    )
    assert export.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(export) == "ITEM_RESTRICTED"
    client.call(
        "nl-prosecutor",
        "RecordCustodyEvent",
        pb.RecordCustodyEventRequest(
            request_id=rid(), item_id=item.id, action=pb.CUSTODY_ACTION_SEALED, purpose="sealed as objected"
        ),
    )
    (listed,) = client.call("nl-prosecutor", "ListItems", pb.ListItemsRequest(evidence_request_id=r.id)).items
    assert listed.restricted and listed.sha256 == item.sha256  # kept, not deleted
    entries = client.call("nl-prosecutor", "ListCustody", pb.ListCustodyRequest(item_id=item.id)).entries
    assert [e.action for e in entries] == [
        pb.CUSTODY_ACTION_RECEIVED,
        pb.CUSTODY_ACTION_DOWNLOADED,
        pb.CUSTODY_ACTION_RESTRICTED,
        pb.CUSTODY_ACTION_SEALED,
    ]
    restricted = entries[2]
    assert restricted.actor.username == "jit-system" and "IE objected" in restricted.purpose
    assert eventually(lambda: envelopes(nats_server.url, "jit.evidence.NL.item_restricted", item.id), timeout=30)


def test_epoc_emergency_objection_after_96_hours_is_refused(client: Client, evidence_svc: Any) -> None:
    """EPOC_EMERGENCY_OBJECTION (Reg. (EU) 2023/1543 Art. 12(1)): a ground raised more than 96 hours after
    receipt of the emergency EPOC is refused, naming the rule; the data received stays readable."""
    clock = evidence_svc.app.clock
    r, item = _emergency_delivered(client)
    (end,) = [d.due_at.ToDatetime(tzinfo=UTC) for d in r.deadlines if d.kind == pb.DEADLINE_KIND_OBJECTION]
    clock.advance(end - clock.now() + timedelta(minutes=1))
    assert "refuse" not in allowed(client, "ie-prosecutor", r.id)
    late = client.error(
        "ie-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_FUNDAMENTAL_RIGHTS, detail="raised too late"),
    )
    assert late.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(late) == "OBJECTION_WINDOW_PASSED"
    assert "Art. 10(4), 12(1)" in (late.details() or "")
    got = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)).request
    assert got.state == pb.EVIDENCE_REQUEST_STATE_EXECUTED and not got.HasField("items_restricted_at")
    assert download(client, "nl-prosecutor", item.id)[1] == b"messages exported by the provider"
