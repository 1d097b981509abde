"""Evidence requests end to end with real Keycloak tokens, NATS JetStream and a real database (each module
runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as pb
from jit.preservation.v1 import preservation_pb2 as ppb
from jitlib import sealing
from jitlib.bus import stream_for
from services.evidence.deadlines import period_end
from services.evidence.store import RUNTIME, RequestRow
from tests.conftest import read_stream
from tests.harness import (
    announce_victim,
    error_reason,
    eventually,
    field_violations,
    new_pseudonym,
    registered_victims,
    rid,
    victims_known,
)
from tests.integration.evidence.conftest import DAY, WS, Client, new_request, now_utc, publish, scan_now, ts

pytestmark = pytest.mark.integration


def count_rows(svc: Any) -> tuple[int, int]:
    def q(s: Any) -> tuple[int, int]:
        return (
            int(s.scalar(select(func.count()).select_from(RequestRow)) or 0),
            int(s.scalar(select(func.count()).select_from(RUNTIME.outbox)) or 0),
        )

    return svc.loop.run(svc.rt.read(q))


def envelopes(url: str, subject: str, aggregate_id: str, events: tuple[str, ...] = ()) -> list[Envelope]:
    """Events of one aggregate on ``subject``; ``events``: keep only these last subject tokens."""
    msgs = [m for m in read_stream(url, "JIT_EVIDENCE", subject) if not events or m.subject.rsplit(".", 1)[1] in events]
    return [e for e in (Envelope.FromString(m.data) for m in msgs) if e.aggregate_id == aggregate_id]


def test_eio_lifecycle_nl_to_de_with_deadlines_and_events(client: Client, nats_server: Any) -> None:
    r = client.create()
    assert r.state == pb.EVIDENCE_REQUEST_STATE_DRAFT and not r.deadlines
    assert r.visibility == common_pb2.VISIBILITY_RESTRICTED  # need to know by default
    r = client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id, expected_version=1)).request
    kinds = {d.kind: d for d in r.deadlines}
    assert set(kinds) == {pb.DEADLINE_KIND_ACKNOWLEDGE, pb.DEADLINE_KIND_DECIDE}
    ack = kinds[pb.DEADLINE_KIND_ACKNOWLEDGE]
    # Counted as Reg. 1182/71 Art. 3 counts (deadlines.period_end): to the end of the 7th day in Germany.
    issued = r.issued_at.ToDatetime(tzinfo=UTC)
    assert ack.due_at.ToDatetime(tzinfo=UTC) == period_end(issued, 7 * DAY, "DE") and "Art. 16" in ack.source
    r = client.call("de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id)).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_ACKNOWLEDGED and r.updated_by.jurisdiction == "DE"
    assert [d.kind for d in r.deadlines] == [pb.DEADLINE_KIND_DECIDE]
    r = client.call("de-prosecutor", "StartExecution", pb.StartExecutionRequest(id=r.id)).request
    assert [d.kind for d in r.deadlines] == [pb.DEADLINE_KIND_EXECUTE]
    decided = r.decided_at.ToDatetime(tzinfo=UTC)
    assert r.deadlines[0].due_at.ToDatetime(tzinfo=UTC) == period_end(decided, 90 * DAY, "DE")
    client.call("de-liaison", "CompleteExecution", pb.CompleteExecutionRequest(id=r.id, note="data sent"))
    r = client.call("nl-prosecutor", "CloseRequest", pb.CloseRequestRequest(id=r.id)).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_CLOSED and r.version == 6 and not r.deadlines

    def published() -> list[Envelope]:
        found = envelopes(nats_server.url, "jit.evidence.NL.*", r.id)
        return found if len(found) == 6 else []

    evs = eventually(published, timeout=30)
    assert [e.type.rsplit(".", 1)[1] for e in evs] == [
        "EvidenceRequestCreated",
        "EvidenceRequestIssued",
        "EvidenceRequestAcknowledged",
        "EvidenceRequestExecutionStarted",
        "EvidenceRequestExecuted",
        "EvidenceRequestClosed",
    ]
    # What a caller may do is in the answers, never in the events (it is per caller).
    for e in evs:
        each = pb.EvidenceRequest()
        assert e.state.Unpack(each) and list(each.allowed_actions) == []
    state = pb.EvidenceRequest()
    assert evs[-1].state.Unpack(state)
    # The contract fields 1-9 the preservation service reads.
    assert (state.id, state.workspace_id, state.origin_jurisdiction) == (r.id, WS, "NL")
    assert state.state == pb.EVIDENCE_REQUEST_STATE_CLOSED and state.version == 6
    assert state.addressee_jurisdiction == "DE" and state.visibility == common_pb2.VISIBILITY_RESTRICTED
    assert sorted(evs[-1].audience) == ["DE", "NL"]


def test_epoc_with_notification_is_reviewed_by_the_enforcing_state(client: Client) -> None:
    r = client.epoc(pb.EPOC_PROCEDURE_WITH_NOTIFICATION)
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    # The provider is no user: the issuer records its acknowledgement; the enforcing state (IE) may not.
    assert (
        client.code_of("ie-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    r = client.call("nl-prosecutor", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id)).request
    assert {d.kind for d in r.deadlines} == {pb.DEADLINE_KIND_REVIEW, pb.DEADLINE_KIND_PRODUCE}
    err = client.error("nl-prosecutor", "StartExecution", pb.StartExecutionRequest(id=r.id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "REVIEW_REQUIRED"
    assert (
        client.code_of("nl-prosecutor", "OpenReview", pb.OpenReviewRequest(id=r.id))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    client.call("ie-prosecutor", "OpenReview", pb.OpenReviewRequest(id=r.id))
    r = client.call(
        "ie-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_NO_DOUBLE_CRIMINALITY, detail="not an offence in IE"),
    ).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_REFUSED and r.refusal_ground == pb.REFUSAL_GROUND_NO_DOUBLE_CRIMINALITY
    assert not r.deadlines


def test_an_epoc_without_notification_is_not_seen_by_the_establishment_state(client: Client) -> None:
    r = client.epoc(pb.EPOC_PROCEDURE_STANDARD)
    assert client.code_of("ie-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)) == grpc.StatusCode.NOT_FOUND
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    r = client.call(
        "nl-prosecutor",
        "ReportNotExecuted",
        pb.ReportNotExecutedRequest(id=r.id, reason=pb.NON_EXECUTION_REASON_DATA_NOT_HELD, detail="account deleted"),
    ).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_NOT_EXECUTED
    assert r.non_execution_reason == pb.NON_EXECUTION_REASON_DATA_NOT_HELD


def test_user_notice_is_suppressed_until_a_date(client: Client) -> None:
    r = client.create(
        legal_basis=pb.LEGAL_BASIS_VOLUNTARY,
        addressee_kind=pb.ADDRESSEE_KIND_SERVICE_PROVIDER,
        addressee_jurisdiction="US",
        provider_name="X Corp.",
    )
    assert r.user_notice_status == pb.USER_NOTICE_STATUS_PENDING
    until = now_utc() + 90 * DAY
    r = client.call(
        "nl-prosecutor",
        "UpdateUserNotice",
        pb.UpdateUserNoticeRequest(id=r.id, status=pb.USER_NOTICE_STATUS_SUPPRESSED, suppressed_until=ts(until)),
    ).request
    assert r.user_notice_status == pb.USER_NOTICE_STATUS_SUPPRESSED
    assert r.user_notice_suppressed_until.ToSeconds() == int(until.timestamp())
    err = client.error(
        "nl-prosecutor",
        "UpdateUserNotice",
        pb.UpdateUserNoticeRequest(id=r.id, status=pb.USER_NOTICE_STATUS_SUPPRESSED),
    )
    assert "suppressed_until" in field_violations(err)


def test_eio_postpone_resume_and_extension(client: Client) -> None:
    r = client.create()
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    client.call("de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id))
    r = client.call(
        "de-prosecutor", "ExtendDecisionDeadline", pb.ExtendDecisionDeadlineRequest(id=r.id, reason="complex case")
    ).request
    assert r.decision_deadline_extended
    received = r.received_at.ToDatetime(tzinfo=UTC)
    assert r.deadlines[0].due_at.ToDatetime(tzinfo=UTC) == period_end(received, 60 * DAY, "DE")
    r = client.call(
        "de-prosecutor", "PostponeRequest", pb.PostponeRequestRequest(id=r.id, reason="ongoing domestic investigation")
    ).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_POSTPONED and not r.deadlines
    r = client.call("de-prosecutor", "ResumeRequest", pb.ResumeRequestRequest(id=r.id)).request
    # Postponed before the recognition decision: it resumes before it, with its (extended) decision deadline.
    assert r.state == pb.EVIDENCE_REQUEST_STATE_ACKNOWLEDGED
    assert [d.kind for d in r.deadlines] == [pb.DEADLINE_KIND_DECIDE] and r.decision_deadline_extended


def test_create_is_idempotent_by_request_id(client: Client, evidence_svc: Any) -> None:
    request_id = rid()
    first = client.create(request_id=request_id)
    before = count_rows(evidence_svc)
    again = client.create(request_id=request_id)
    assert again.id == first.id and count_rows(evidence_svc) == before
    err = client.error(
        "nl-prosecutor",
        "CreateRequest",
        new_request(request_id=request_id, legal_basis=pb.LEGAL_BASIS_MLA, title="other"),
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "REQUEST_ID_REUSED"


def test_a_stale_version_is_aborted_and_an_illegal_transition_refused(client: Client) -> None:
    r = client.create()
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    err = client.error("de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id, expected_version=1))
    assert err.code() == grpc.StatusCode.ABORTED
    err = client.error("de-liaison", "CompleteExecution", pb.CompleteExecutionRequest(id=r.id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "ILLEGAL_TRANSITION"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"legal_basis": pb.LEGAL_BASIS_UNSPECIFIED}, "legal_basis"),
        ({"legal_basis": 99}, "legal_basis"),
        ({"legal_basis": pb.LEGAL_BASIS_JIT_DIRECT, "addressee_jurisdiction": "FR"}, "addressee_jurisdiction"),
        ({"targets": [pb.TargetIdentifier(type=pb.TARGET_TYPE_PHONE_NUMBER, value="0612")]}, "targets[0].value"),
        ({"targets": [pb.TargetIdentifier(type=pb.TARGET_TYPE_URL, value="ftp://x")]}, "targets[0].value"),
        ({"data_categories": []}, "data_categories"),
        ({"request_id": "not-a-uuid"}, "request_id"),
        ({"shared_with": ["IE"], "visibility": common_pb2.VISIBILITY_WORKSPACE}, "shared_with"),
        ({"epoc_procedure": pb.EPOC_PROCEDURE_EMERGENCY}, "epoc_procedure"),
        ({"victim_refs": ["V-NL-0007", "her name and address"]}, "victim_refs[1]"),
        ({"victim_refs": ["V-NL-0007", "V-NL-0007"]}, "victim_refs[1]"),
        ({"victim_refs": ["V-DE-0007"]}, "victim_refs[0]"),  # jit-demo is led by NL: its victims are V-NL-...
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(client: Client, evidence_svc: Any, over: Any, field: str) -> None:
    before = count_rows(evidence_svc)
    err = client.error("nl-prosecutor", "CreateRequest", new_request(**over))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(err)
    assert count_rows(evidence_svc) == before


# -- the access matrix -----------------------------------------------------------------------------

OK, NF, PD = grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED
#: user -> (read restricted NL->DE, read workspace-visible, acknowledge restricted NL->DE)
MATRIX = {
    "nl-prosecutor": (OK, OK, PD),
    "nl-liaison": (OK, OK, PD),
    "de-prosecutor": (OK, OK, OK),
    "de-liaison": (OK, OK, OK),
    "ie-liaison": (NF, OK, NF),
    "ie-prosecutor": (NF, OK, NF),
    "eurojust-analyst": (NF, OK, NF),
    "fr-prosecutor": (NF, NF, NF),
    "nl-operator": (PD, PD, PD),
    "nl-auditor": (PD, PD, PD),
}


def _code(client: Client, user: str, method: str, request: Any) -> grpc.StatusCode:
    try:
        client.call(user, method, request)
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.mark.parametrize("user", sorted(MATRIX))
def test_access_matrix(client: Client, user: str) -> None:
    restricted = client.create()
    open_ = client.create(visibility=common_pb2.VISIBILITY_WORKSPACE)
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=restricted.id))
    read_r, read_w, ack = MATRIX[user]
    assert _code(client, user, "GetRequest", pb.GetRequestRequest(id=restricted.id)) == read_r
    assert _code(client, user, "GetRequest", pb.GetRequestRequest(id=open_.id)) == read_w
    assert _code(client, user, "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=restricted.id)) == ack
    listed = _code(client, user, "ListRequests", pb.ListRequestsRequest(workspace_id=WS, page_size=200))
    if read_w == OK:
        ids = {
            r.id
            for r in client.call(user, "ListRequests", pb.ListRequestsRequest(workspace_id=WS, page_size=200)).requests
        }
        assert open_.id in ids and (restricted.id in ids) == (read_r == OK)
    else:
        assert listed == read_w


@pytest.mark.parametrize("user", ["nl-liaison", "eurojust-analyst", "nl-operator", "nl-auditor"])
def test_only_a_prosecutor_issues_requests(client: Client, user: str) -> None:
    assert (
        _code(
            client,
            user,
            "CreateRequest",
            new_request(),
        )
        == PD
    )


def test_unknown_ids_are_not_found(client: Client) -> None:
    assert _code(client, "nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=rid())) == NF
    assert _code(client, "nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=rid())) == NF


# -- deadline alerts -------------------------------------------------------------------------------

ALERT_EVENTS = ("deadline_approaching", "deadline_passed")


def test_deadline_alerts_are_published_once_across_restarts_and_replicas(
    client: Client, evidence_svc: Any, launcher: Any, db_url: str, nats_server: Any
) -> None:
    r = client.epoc(pb.EPOC_PROCEDURE_EMERGENCY)
    r = client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id)).request
    (produce,) = r.deadlines
    due = produce.due_at.ToDatetime(tzinfo=UTC)
    # 8 hours from the full hour after receipt (Reg. 1182/71 Art. 3(1), 3(2)(a)).
    assert due == period_end(r.received_at.ToDatetime(tzinfo=UTC), timedelta(hours=8), "IE", in_hours=True)
    clock = evidence_svc.app.clock

    def alerts() -> list[Envelope]:
        return envelopes(nats_server.url, "jit.evidence.NL.*", r.id, ALERT_EVENTS)

    clock.advance(due - clock.now() - timedelta(hours=1, minutes=59))  # within the last 2 hours: one warning
    scan_now(evidence_svc)
    scan_now(evidence_svc)
    eventually(lambda: len(alerts()) == 1, timeout=30)
    # A new instance on the same database (a restart, and from now on a second replica in the same consumer
    # group, sharing the clock): its scan at start and its scans below send the warning again never.
    replica = launcher.start(db_url, clock=clock, group=evidence_svc.app.settings.consumer_group)
    try:
        scan_now(replica)
        clock.advance(timedelta(hours=2))  # past the deadline: both replicas scan
        for svc in (replica, evidence_svc, replica, evidence_svc):
            scan_now(svc)
        eventually(lambda: len(alerts()) == 2, timeout=30)
    finally:
        launcher.stop(replica)
    found = envelopes(nats_server.url, "jit.evidence.NL.*", r.id, ALERT_EVENTS)
    assert [e.type for e in found] == ["jit.evidence.v1.DeadlineAlert"] * 2
    first, second = (pb.DeadlineAlert(), pb.DeadlineAlert())
    assert found[0].state.Unpack(first) and found[1].state.Unpack(second)
    assert first.seconds_before == 2 * 3600 and not first.passed
    assert second.passed and second.deadline.kind == pb.DEADLINE_KIND_PRODUCE
    assert second.request.id == r.id

    def staged(session: Any) -> int:
        ob = RUNTIME.outbox
        rows = session.execute(select(ob.c.id, ob.c.payload).where(ob.c.subject.like("%.deadline_%")))
        # The outbox keeps each envelope sealed (jitlib.sealing): opened as the relay opens it.
        return sum(
            1
            for event_id, payload in rows
            if Envelope.FromString(sealing.open_payload(session, payload, event_id) or b"").aggregate_id == r.id
        )

    assert evidence_svc.loop.run(evidence_svc.rt.read(staged)) == 2  # written once each, not only deduplicated


def _listed(client: Client, request_id: str) -> pb.EvidenceRequest:
    """The request as ListRequests answers it (from its stored answer), walking the workspace's pages."""
    token = ""
    while True:
        page = client.call(
            "nl-prosecutor", "ListRequests", pb.ListRequestsRequest(workspace_id=WS, page_size=200, page_token=token)
        )
        found = [x for x in page.requests if x.id == request_id]
        if found:
            return found[0]
        assert page.next_page_token, f"request {request_id} not listed"
        token = page.next_page_token


def test_the_issuer_is_warned_once_before_and_when_a_non_disclosure_order_lapses_and_the_request_shows_it(
    client: Client, evidence_svc: Any, launcher: Any, db_url: str, nats_server: Any
) -> None:
    """USER_NOTICE_SUPPRESSION_LAPSES: a request to a provider whose user notice is suppressed until a day
    carries the order's end as its NON_DISCLOSURE deadline; its warning and its passing are published once
    each across restarts and replicas (the deadline alerts' events), and from the end on GetRequest and
    ListRequests show the suppression lapsed (derived when read: nothing is written at that instant)."""
    clock = evidence_svc.app.clock
    until = clock.now() + 3 * DAY
    r = client.epoc(user_notice_status=pb.USER_NOTICE_STATUS_SUPPRESSED, user_notice_suppressed_until=ts(until))
    r = client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id)).request
    (suppression,) = [d for d in r.deadlines if d.kind == pb.DEADLINE_KIND_NON_DISCLOSURE]
    assert suppression.due_at == ts(until)
    assert not r.user_notice_suppression_lapsed and not _listed(client, r.id).user_notice_suppression_lapsed

    def alerts() -> list[pb.DeadlineAlert]:
        out = []
        for e in envelopes(nats_server.url, "jit.evidence.NL.*", r.id, ALERT_EVENTS):
            alert = pb.DeadlineAlert()
            assert e.state.Unpack(alert)
            if alert.deadline.kind == pb.DEADLINE_KIND_NON_DISCLOSURE:
                out.append(alert)
        return out

    clock.advance(until - clock.now() - timedelta(hours=47))  # within the last 48 hours: one warning
    scan_now(evidence_svc)
    scan_now(evidence_svc)
    eventually(lambda: len(alerts()) == 1, timeout=30)
    replica = launcher.start(db_url, clock=clock, group=evidence_svc.app.settings.consumer_group)
    try:
        scan_now(replica)
        clock.advance(timedelta(hours=47, minutes=1))  # past the end: the 8 h warning and the passing
        for svc in (replica, evidence_svc, replica, evidence_svc):
            scan_now(svc)
        eventually(lambda: len(alerts()) == 3, timeout=30)
    finally:
        launcher.stop(replica)
    warned, last_warned, lapsed = alerts()
    assert (warned.seconds_before, last_warned.seconds_before) == (48 * 3600, 8 * 3600)
    assert not warned.passed and not warned.request.user_notice_suppression_lapsed
    assert lapsed.passed and lapsed.request.user_notice_suppression_lapsed and lapsed.request.id == r.id
    got = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)).request
    assert got.user_notice_status == pb.USER_NOTICE_STATUS_SUPPRESSED and got.user_notice_suppression_lapsed
    assert got.version == r.version  # derived when read: the request did not change
    assert _listed(client, r.id).user_notice_suppression_lapsed


# -- preservation orders ---------------------------------------------------------------------------


def _order_event(order: ppb.PreservationOrder, event: str) -> tuple[str, bytes, str]:
    from google.protobuf import any_pb2

    from jitlib.ids import new_id

    packed = any_pb2.Any()
    packed.Pack(order)
    env = Envelope(
        id=new_id(),
        type=f"jit.preservation.v1.PreservationOrder{event.capitalize()}",
        workspace_id=order.workspace_id,
        origin_jurisdiction=order.origin_jurisdiction,
        aggregate_type="preservation_order",
        aggregate_id=order.id,
        aggregate_version=order.version,
        state=packed,
    )
    return f"jit.preservation.{order.origin_jurisdiction}.{event}", env.SerializeToString(), env.id


def test_a_production_request_and_its_preservation_order_are_linked_both_ways(client: Client, nats_server: Any) -> None:
    order_id = rid()
    expires = now_utc() + 60 * DAY
    # Only an order this service has heard of, issued by the caller's side, can be linked (issue 10, #1).
    issued = ppb.PreservationOrder(
        id=order_id, workspace_id=WS, origin_jurisdiction="NL", state=ppb.PRESERVATION_ORDER_STATE_ISSUED, version=2
    )
    subject, payload, msg_id = _order_event(issued, "issued")
    publish(nats_server.url, stream_for("preservation"), subject, payload, msg_id)

    def linkable() -> Any:
        try:
            return client.epoc(preservation_order_id=order_id)
        except grpc.RpcError as exc:
            assert error_reason(exc) == "PRESERVATION_ORDER_NOT_LINKABLE"
            return None

    linked = eventually(linkable, timeout=30)
    order = ppb.PreservationOrder(
        id=order_id,
        workspace_id=WS,
        origin_jurisdiction="NL",
        state=ppb.PRESERVATION_ORDER_STATE_CONFIRMED,
        version=3,
        expires_at=ts(expires),
    )
    subject, payload, msg_id = _order_event(order, "confirmed")
    publish(nats_server.url, stream_for("preservation"), subject, payload, msg_id)

    def shown() -> Any:
        got = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=linked.id)).request
        return got if got.linked_order.version == 3 else None

    got = eventually(shown, timeout=30)
    assert got.linked_order.state == ppb.PRESERVATION_ORDER_STATE_CONFIRMED
    assert got.linked_order.state_name == "PRESERVATION_ORDER_STATE_CONFIRMED"
    assert got.linked_order.expires_at.ToSeconds() == int(expires.timestamp())

    # An order that names a request as its follow-up: the request records the reverse link, once.
    follow_up = client.epoc()
    other = ppb.PreservationOrder(
        id=rid(),
        workspace_id=WS,
        origin_jurisdiction="NL",
        state=ppb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED,
        version=5,
        follow_up_request_id=follow_up.id,
    )
    subject, payload, msg_id = _order_event(other, "production_requested")
    publish(nats_server.url, stream_for("preservation"), subject, payload, msg_id)
    publish(nats_server.url, stream_for("preservation"), subject, payload, msg_id)  # deduplicated by the broker

    def relinked() -> Any:
        got = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=follow_up.id)).request
        return got if got.preservation_order_id == other.id else None

    got = eventually(relinked, timeout=30)
    assert got.linked_order.names_this_request and got.version == follow_up.version + 1
    evs = eventually(lambda: envelopes(nats_server.url, "jit.evidence.NL.order_linked", follow_up.id), timeout=30)
    assert len(evs) == 1


def test_issuer_and_addressee_are_told_what_each_may_do_now(client: Client) -> None:
    """One EIO, two sides: each is told its own actions (transitions and uploads), from the one policy and
    the request's state and instrument; an action listed goes through, one not listed is refused."""
    r = client.create()
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))

    def allowed(user: str) -> list[str]:
        return list(client.call(user, "GetRequest", pb.GetRequestRequest(id=r.id)).request.allowed_actions)

    assert allowed("nl-prosecutor") == ["withdraw"]
    assert allowed("de-liaison") == ["acknowledge", "refuse", "report_not_executed", "extend_decision", "notify_delay"]
    assert allowed("nl-liaison") == []  # a liaison acts on requests only on the addressed side
    # Not listed for the issuer: refused by the policy.
    assert (
        client.code_of("nl-prosecutor", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    acked = client.call("de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id)).request
    assert list(acked.allowed_actions) == [
        "start_execution",
        "refuse",
        "report_not_executed",
        "postpone",
        "extend_decision",
        "notify_delay",
    ]
    # An EIO is not reviewed: open_review is never listed, and refused by the instrument.
    assert (
        client.code_of("de-liaison", "OpenReview", pb.OpenReviewRequest(id=r.id)) == grpc.StatusCode.FAILED_PRECONDITION
    )
    started = client.call("de-prosecutor", "StartExecution", pb.StartExecutionRequest(id=r.id)).request
    assert "upload_item" in started.allowed_actions
    assert allowed("nl-prosecutor") == ["withdraw", "upload_item"]
    listed = client.call("nl-prosecutor", "ListRequests", pb.ListRequestsRequest(workspace_id=WS, page_size=200))
    assert [list(x.allowed_actions) for x in listed.requests if x.id == r.id] == [["withdraw", "upload_item"]]


def test_a_request_refers_to_its_victims_by_pseudonym_and_lists_filter_by_one(
    client: Client, evidence_svc: Any, nats_server: Any
) -> None:
    """VICTIM_BY_PSEUDONYM (issue 16): requests refer to the victim's pseudonym (Directive 2012/29/EU
    Art. 21), not to words about her in a title; ListRequests finds a victim's requests, and a bad filter names
    victim_ref."""
    (victim,) = registered_victims(evidence_svc, nats_server.url)
    longer = victim + "1"
    announce_victim(nats_server.url, longer)
    eventually(lambda: victims_known(evidence_svc, WS, longer))
    unknown = client.error("nl-prosecutor", "CreateRequest", new_request(victim_refs=[new_pseudonym()]))
    assert unknown.code() == grpc.StatusCode.INVALID_ARGUMENT and "victim_refs[0]" in field_violations(unknown)
    r = client.create(victim_refs=[victim])
    other = client.create(victim_refs=[longer])
    client.create()
    assert list(client.call("de-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)).request.victim_refs) == [
        victim
    ]

    def listed(ref: str) -> list[str]:
        req = pb.ListRequestsRequest(workspace_id=WS, victim_ref=ref, page_size=200)
        return [x.id for x in client.call("nl-prosecutor", "ListRequests", req).requests]

    assert listed(victim) == [r.id] and listed(longer) == [other.id]
    err = client.error("nl-prosecutor", "ListRequests", pb.ListRequestsRequest(victim_ref="Anna"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "victim_ref" in field_violations(err)
    # The event carries them: a replica elsewhere refers to the same victim.
    created = eventually(lambda: envelopes(nats_server.url, "jit.evidence.NL.created", r.id))
    state = pb.EvidenceRequest()
    assert created[0].state.Unpack(state) and list(state.victim_refs) == [victim]
