"""The enforcement of a European Production Order by the enforcing state (Reg. (EU) 2023/1543 Art. 16), end to
end with real Keycloak tokens, NATS JetStream and a real database (SQLite and PostgreSQL): the issuer's
transfer, the enforcing state's view (the order, not its items), its 5 working days warned once across two
instances, its decision, and the provider's delivery going on."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import grpc
import pytest

from jit.evidence.v1 import evidence_pb2 as pb
from jitlib.periods import period_end
from tests.harness import error_reason, eventually, field_violations
from tests.integration.evidence.conftest import DAY, Client, scan_now
from tests.integration.evidence.test_evidence_items import upload
from tests.integration.evidence.test_evidence_requests import ALERT_EVENTS, envelopes

pytestmark = pytest.mark.integration

TRANSFERRED = pb.EVIDENCE_REQUEST_STATE_IN_ENFORCEMENT


def _issued(client: Client) -> pb.EvidenceRequest:
    """A restricted EPOC without notification from NL to a provider established in IE (a member of the
    workspace that may not see it), issued."""
    r = client.epoc()
    return client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id)).request


def _transferred(
    client: Client,
    reason: pb.NonExecutionReason.ValueType = pb.NON_EXECUTION_REASON_DATA_NOT_HELD,
    detail: str = "says none",
) -> pb.EvidenceRequest:
    """``_issued``, reported not executed by the provider (``reason``, ``detail``) and so transferred to IE for
    enforcement at once: the request as the transfer answers it (IN_ENFORCEMENT)."""
    r = _issued(client)
    client.call(
        "nl-prosecutor", "ReportNotExecuted", pb.ReportNotExecutedRequest(id=r.id, reason=reason, detail=detail)
    )
    return client.call("nl-prosecutor", "TransferForEnforcement", pb.TransferForEnforcementRequest(id=r.id)).request


def _get(client: Client, user: str, request_id: str) -> pb.EvidenceRequest:
    return client.call(user, "GetRequest", pb.GetRequestRequest(id=request_id)).request


def test_an_epoc_past_its_deadline_is_transferred_recognised_and_delivered_and_the_enforcing_state_sees_only_the_order(
    client: Client, evidence_svc: Any, nats_server: Any
) -> None:
    """EPOC_ENFORCEMENT_TRANSFER, EPOC_ENFORCING_STATE_SEES_THE_ORDER, EPOC_ENFORCEMENT_RECOGNISED: the provider
    delivered part of the data, then nothing by its deadline; the transfer is refused before it, by a liaison,
    to the issuer's own state or a malformed one (nothing written); then IE reads the request (not its item),
    its prosecutor recognises it, and the delivery goes on. A non-party finds it NOT_FOUND; a retry of the
    transfer changes nothing."""
    clock = evidence_svc.app.clock
    r = _issued(client)
    r = client.call("nl-prosecutor", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id)).request
    r = client.call("nl-prosecutor", "StartExecution", pb.StartExecutionRequest(id=r.id)).request
    r = client.call(
        "nl-prosecutor",
        "RecordPartialExecution",
        pb.RecordPartialExecutionRequest(id=r.id, data_categories=[pb.DATA_CATEGORY_SUBSCRIBER]),
    ).request
    item = upload(client, "nl-liaison", r.id, b"subscriber record of @harasser_x")
    assert client.code_of("ie-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)) == grpc.StatusCode.NOT_FOUND

    # Before the provider's 10 days have passed: refused, nothing written.
    err = client.error("nl-prosecutor", "TransferForEnforcement", pb.TransferForEnforcementRequest(id=r.id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "PRODUCTION_DEADLINE_RUNNING"
    (produce,) = [d for d in r.deadlines if d.kind == pb.DEADLINE_KIND_PRODUCE]
    clock.advance(produce.due_at.ToDatetime(tzinfo=UTC) - clock.now() + timedelta(hours=1))
    assert (
        client.code_of("nl-liaison", "TransferForEnforcement", pb.TransferForEnforcementRequest(id=r.id))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    for given in ("NL", "ireland"):
        err = client.error(
            "nl-prosecutor",
            "TransferForEnforcement",
            pb.TransferForEnforcementRequest(id=r.id, enforcing_jurisdiction=given),
        )
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert list(field_violations(err)) == ["enforcing_jurisdiction"] and given not in err.details()
    assert _get(client, "nl-prosecutor", r.id).version == r.version

    t = client.call(
        "nl-prosecutor",
        "TransferForEnforcement",
        pb.TransferForEnforcementRequest(id=r.id, expected_version=r.version, note="no traffic data by the deadline"),
    ).request
    assert (t.state, t.enforcing_jurisdiction, t.version) == (TRANSFERRED, "IE", r.version + 1)
    (deadline,) = t.deadlines
    received = t.enforcement_requested_at.ToDatetime(tzinfo=UTC)
    assert deadline.kind == pb.DEADLINE_KIND_ENFORCEMENT and deadline.working_days
    assert deadline.due_at.ToDatetime(tzinfo=UTC) == period_end(received, 5 * DAY, "IE", working_days=True)
    # A retry (the answer lost): refused by the state, nothing written, one event.
    err = client.error("nl-prosecutor", "TransferForEnforcement", pb.TransferForEnforcementRequest(id=r.id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert _get(client, "nl-prosecutor", r.id).version == t.version

    # IE, the enforcing state, now reads the order; not the item received before; DE (a member, no party) and
    # FR (no member) still find nothing.
    seen = _get(client, "ie-prosecutor", r.id)
    assert list(seen.allowed_actions) == ["recognise_enforcement", "refuse_enforcement"]
    # Not even how many items it received (``decide_received``); the issuer's view counts the one.
    assert seen.item_count == 0 and _get(client, "nl-prosecutor", r.id).item_count == 1
    assert list(_get(client, "ie-liaison", r.id).allowed_actions) == []
    listed = client.call("ie-prosecutor", "ListRequests", pb.ListRequestsRequest()).requests
    assert r.id in {x.id for x in listed}
    assert not client.call("ie-prosecutor", "ListItems", pb.ListItemsRequest(evidence_request_id=r.id)).items
    assert client.code_of("ie-prosecutor", "GetItem", pb.GetItemRequest(item_id=item.id)) == grpc.StatusCode.NOT_FOUND
    for outsider in ("de-prosecutor", "fr-prosecutor"):
        assert client.code_of(outsider, "GetRequest", pb.GetRequestRequest(id=r.id)) == grpc.StatusCode.NOT_FOUND
        assert (
            client.code_of(
                outsider, "RecogniseEnforcement", pb.RecogniseEnforcementRequest(id=r.id, compliance_days=10)
            )
            == grpc.StatusCode.NOT_FOUND
        )

    # Its liaison may not decide; its prosecutor recognises: back to partial execution, delivery goes on.
    assert (
        client.code_of(
            "ie-liaison", "RecogniseEnforcement", pb.RecogniseEnforcementRequest(id=r.id, compliance_days=10)
        )
        == grpc.StatusCode.PERMISSION_DENIED
    )
    # EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE: without the days to comply, or past 90, refused and nothing written.
    for days in (0, 91):
        err = client.error(
            "ie-prosecutor", "RecogniseEnforcement", pb.RecogniseEnforcementRequest(id=r.id, compliance_days=days)
        )
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and list(field_violations(err)) == ["compliance_days"]
    assert _get(client, "nl-prosecutor", r.id).version == t.version
    ok = client.call(
        "ie-prosecutor", "RecogniseEnforcement", pb.RecogniseEnforcementRequest(id=r.id, compliance_days=10)
    ).request
    assert ok.state == pb.EVIDENCE_REQUEST_STATE_PARTIALLY_EXECUTED and ok.HasField("enforcement_decided_at")
    assert ok.item_count == 0 and ok.compliance_days == 10
    # The provider's deadline is now the enforcing state's, not overdue; the first PRODUCE no longer shows.
    (comply,) = ok.deadlines
    decided = ok.enforcement_decided_at.ToDatetime(tzinfo=UTC)
    assert comply.kind == pb.DEADLINE_KIND_COMPLIANCE and not comply.overdue
    assert comply.due_at.ToDatetime(tzinfo=UTC) == period_end(decided, 10 * DAY, "IE")
    listed = client.call("nl-prosecutor", "ListRequests", pb.ListRequestsRequest()).requests
    assert [[(d.kind, d.overdue) for d in x.deadlines] for x in listed if x.id == r.id] == [
        [(pb.DEADLINE_KIND_COMPLIANCE, False)]
    ]
    assert "upload_item" not in _get(client, "ie-prosecutor", r.id).allowed_actions
    later = upload(client, "nl-liaison", r.id, b"traffic data of @harasser_x, produced under enforcement")
    done = client.call("nl-prosecutor", "CompleteExecution", pb.CompleteExecutionRequest(id=r.id)).request
    assert done.state == pb.EVIDENCE_REQUEST_STATE_EXECUTED

    # The events: the request's reach IE's node, the items' do not.
    def requested() -> list[Any]:
        return envelopes(nats_server.url, "jit.evidence.NL.*", r.id, ("enforcement_requested",))

    (event,) = eventually(requested, timeout=30)
    assert "IE" in event.audience
    items = eventually(lambda: [e for e in read_items(nats_server.url, (item.id, later.id)) if e] or None, timeout=30)
    assert items and all("IE" not in e.audience for e in items)


def read_items(url: str, ids: tuple[str, ...]) -> list[Any]:
    out = []
    for item_id in ids:
        out += envelopes(url, "jit.evidence.NL.*", item_id, ("item_received",))
    return out if len(out) == len(ids) else []


def test_the_enforcing_state_refuses_recognition_on_a_ground_of_the_closed_list(client: Client) -> None:
    """EPOC_ENFORCEMENT_REFUSAL_GROUNDS: reported not executed, the order is transferred at once; the enforcing
    state's refusal needs a ground and the facts, and ends the request NOT_ENFORCED."""
    r = t = _transferred(client)
    assert t.state == TRANSFERRED
    err = client.error("ie-prosecutor", "RefuseEnforcement", pb.RefuseEnforcementRequest(id=r.id))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and set(field_violations(err)) == {"ground", "detail"}
    out = client.call(
        "ie-prosecutor",
        "RefuseEnforcement",
        pb.RefuseEnforcementRequest(
            id=r.id, ground=pb.ENFORCEMENT_REFUSAL_GROUND_DATA_NOT_STORED, detail="the account was deleted before"
        ),
    ).request
    assert out.state == pb.EVIDENCE_REQUEST_STATE_NOT_ENFORCED
    assert out.enforcement_refusal_ground == pb.ENFORCEMENT_REFUSAL_GROUND_DATA_NOT_STORED
    assert not out.deadlines and out.version == t.version + 1


def test_epoc_enforcement_not_transferred_again_once_recognised(client: Client, evidence_svc: Any) -> None:
    """EPOC_ENFORCEMENT_NOT_TRANSFERRED_AGAIN: reported not executed, transferred and recognised by IE with 2 days
    to comply; past them the provider is still silent: a second transfer is FAILED_PRECONDITION
    ENFORCEMENT_ALREADY_RECOGNISED naming IE, nothing written, and not among the issuer's actions; the late
    delivery is recorded."""
    clock = evidence_svc.app.clock
    r = _transferred(client)
    ok = client.call(
        "ie-prosecutor", "RecogniseEnforcement", pb.RecogniseEnforcementRequest(id=r.id, compliance_days=2)
    ).request
    (comply,) = ok.deadlines
    clock.advance(comply.due_at.ToDatetime(tzinfo=UTC) - clock.now() + timedelta(days=1))
    seen = _get(client, "nl-prosecutor", r.id)
    assert [(d.kind, d.overdue) for d in seen.deadlines] == [(pb.DEADLINE_KIND_COMPLIANCE, True)]
    assert "transfer_for_enforcement" not in seen.allowed_actions
    err = client.error("nl-prosecutor", "TransferForEnforcement", pb.TransferForEnforcementRequest(id=r.id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(err) == "ENFORCEMENT_ALREADY_RECOGNISED" and "IE recognised this order" in err.details()
    assert _get(client, "nl-prosecutor", r.id).version == ok.version
    done = client.call("nl-prosecutor", "CompleteExecution", pb.CompleteExecutionRequest(id=r.id)).request
    assert done.state == pb.EVIDENCE_REQUEST_STATE_EXECUTED and not done.deadlines


def test_the_enforcing_state_is_warned_once_before_and_when_its_5_working_days_pass_across_two_instances(
    client: Client, evidence_svc: Any, launcher: Any, db_url: str, nats_server: Any
) -> None:
    """EPOC_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS: its warnings (48 h, 8 h) and its passing are
    published once each, though two instances of the service scan, one started after the first warning."""
    clock = evidence_svc.app.clock
    r = t = _transferred(client, pb.NON_EXECUTION_REASON_OTHER, "no answer")
    due = t.deadlines[0].due_at.ToDatetime(tzinfo=UTC)

    def alerts() -> list[pb.DeadlineAlert]:
        out = []
        for e in envelopes(nats_server.url, "jit.evidence.NL.*", r.id, ALERT_EVENTS):
            alert = pb.DeadlineAlert()
            assert e.state.Unpack(alert)
            if alert.deadline.kind == pb.DEADLINE_KIND_ENFORCEMENT:
                assert "IE" in e.audience
                out.append(alert)
        return out

    clock.advance(due - clock.now() - timedelta(hours=47))
    scan_now(evidence_svc)
    scan_now(evidence_svc)
    eventually(lambda: len(alerts()) == 1, timeout=30)
    replica = launcher.start(db_url, clock=clock, group=evidence_svc.app.settings.consumer_group)
    try:
        scan_now(replica)
        clock.advance(timedelta(hours=47, minutes=1))
        for svc in (replica, evidence_svc, replica, evidence_svc):
            scan_now(svc)
        eventually(lambda: len(alerts()) == 3, timeout=30)
    finally:
        launcher.stop(replica)
    warned, last_warned, passed = alerts()
    assert (warned.seconds_before, last_warned.seconds_before) == (48 * 3600, 8 * 3600)
    assert passed.passed and not warned.passed
    got = _get(client, "ie-prosecutor", r.id)
    assert got.deadlines[0].overdue and got.state == TRANSFERRED


def test_epoc_emergency_objection_during_enforcement_runs_on_and_restricts_what_was_received(
    client: Client, evidence_svc: Any
) -> None:
    """EPOC_EMERGENCY_OBJECTION_DURING_ENFORCEMENT: an emergency EPOC with notification of IE, part delivered,
    then nothing by its 8 hours, is transferred to IE; its 96 hours to object still run (listed, a deadline) and
    IE's objection within them is honoured: refused, the item received before restricted."""
    clock = evidence_svc.app.clock
    r = client.epoc(pb.EPOC_PROCEDURE_EMERGENCY_WITH_NOTIFICATION)
    for method, msg in (
        ("IssueRequest", pb.IssueRequestRequest(id=r.id)),
        ("AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id)),
        ("StartExecution", pb.StartExecutionRequest(id=r.id)),
        (
            "RecordPartialExecution",
            pb.RecordPartialExecutionRequest(id=r.id, data_categories=[pb.DATA_CATEGORY_SUBSCRIBER]),
        ),
    ):
        r = client.call("nl-prosecutor", method, msg).request
    upload(client, "nl-liaison", r.id, b"subscriber record exported by the provider")
    clock.advance(timedelta(hours=10))
    t = client.call("nl-prosecutor", "TransferForEnforcement", pb.TransferForEnforcementRequest(id=r.id)).request
    assert t.state == TRANSFERRED
    assert {d.kind for d in t.deadlines} == {pb.DEADLINE_KIND_ENFORCEMENT, pb.DEADLINE_KIND_OBJECTION}
    seen = _get(client, "ie-prosecutor", r.id)
    assert "refuse" in seen.allowed_actions and "recognise_enforcement" in seen.allowed_actions
    objected = client.call(
        "ie-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE, detail="a journalist's"),
    ).request
    assert objected.state == pb.EVIDENCE_REQUEST_STATE_REFUSED and objected.HasField("items_restricted_at")
