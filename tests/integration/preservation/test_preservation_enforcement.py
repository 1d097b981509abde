"""The enforcement of a European Preservation Order by the enforcing state (Reg. (EU) 2023/1543 Art. 16), end to
end with real Keycloak tokens, NATS JetStream and a real database (SQLite and PostgreSQL): the issuer's transfer
once the provider is in default, the enforcing state's view and events from then on only, its 5 working days
warned once each, and its decision.

Time is a ManualClock the test moves; the scanner is woken and run at each step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from jit.evidence.v1 import evidence_pb2 as epb
from jit.preservation.v1 import preservation_pb2 as pb
from jitlib.bus import stream_for
from jitlib.clock import ManualClock
from jitlib.ids import new_id
from jitlib.periods import enforcement_decision_due
from tests.harness import RunningService, error_reason, eventually, field_violations
from tests.integration.preservation.conftest import (
    DAY,
    Client,
    Launcher,
    evidence_event,
    publish,
    scan_now,
    stream_envelopes,
)

pytestmark = pytest.mark.integration
HOUR = timedelta(hours=1)
S = pb.PreservationOrderState


@pytest.fixture(scope="module")
def clocked(db_url: str, launcher: Launcher) -> Iterator[tuple[RunningService, ManualClock]]:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    svc = launcher.start(db_url, clock=clock, scan_interval_seconds=3600)
    yield svc, clock
    launcher.stop(svc)


@pytest.fixture
def client(clocked: tuple[RunningService, ManualClock], tokens: Any) -> Client:
    return Client(clocked[0], tokens)


def _error(client: Client, user: str, method: str, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        client.call(user, method, request)
    return info.value


def _issued(client: Client) -> pb.PreservationOrder:
    """A restricted EPOC-PR of NL to socialnet-ie (established in IE, a member of the workspace that may not see
    it), issued now."""
    order = client.create("nl-prosecutor", legal_basis=pb.LEGAL_BASIS_EPOC_PR)
    return client.call("nl-prosecutor", "IssueOrder", pb.IssueOrderRequest(id=order.id)).order


def _get(client: Client, user: str, order_id: str) -> pb.PreservationOrder:
    return client.call(user, "GetOrder", pb.GetOrderRequest(id=order_id)).order


def _events(url: str, order_id: str) -> list[Any]:
    return [e for e in stream_envelopes(url, "JIT_PRESERVATION", "jit.preservation.NL.>") if e.aggregate_id == order_id]


def test_an_epoc_pr_unconfirmed_is_transferred_seen_by_the_enforcing_state_from_then_on_and_recognised(
    client: Client, clocked: tuple[RunningService, ManualClock], pnats: Any
) -> None:
    """EPOC_PR_ENFORCEMENT_TRANSFER, EPOC_PR_ENFORCING_STATE_SEES_THE_ORDER, EPOC_PR_ENFORCEMENT_RECOGNISED,
    EPOC_PR_ENFORCEMENT_NOT_TRANSFERRED_AGAIN: refused while the provider may still confirm, by a liaison, to the
    issuer's own state or a malformed one (nothing written); IE finds nothing and its node gets no event before
    the transfer, reads and lists the order after it and gets its events; DE (a member, no party) and FR (no
    member) still find nothing; IE's liaison may not decide, its prosecutor recognises; never transferred again."""
    _, clock = clocked
    order = _issued(client)
    assert client.code_of("ie-prosecutor", "GetOrder", pb.GetOrderRequest(id=order.id)) == grpc.StatusCode.NOT_FOUND
    err = _error(client, "nl-prosecutor", "TransferForEnforcement", pb.TransferForEnforcementRequest(id=order.id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "PROVIDER_NOT_IN_DEFAULT"

    clock.advance(4 * DAY)  # past the node's 3 days to confirm (JIT_PRESERVATION_CONFIRMATION_OVERDUE_DAYS)
    assert (
        client.code_of("nl-liaison", "TransferForEnforcement", pb.TransferForEnforcementRequest(id=order.id))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    for given in ("NL", "ireland"):
        err = _error(
            client,
            "nl-prosecutor",
            "TransferForEnforcement",
            pb.TransferForEnforcementRequest(id=order.id, enforcing_jurisdiction=given),
        )
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert list(field_violations(err)) == ["enforcing_jurisdiction"] and given not in err.details()
    assert _get(client, "nl-prosecutor", order.id).version == order.version
    assert "transfer_for_enforcement" in _get(client, "nl-prosecutor", order.id).allowed_actions
    before = eventually(lambda: _events(pnats.url, order.id) or None)
    assert all("IE" not in e.audience for e in before)

    t = client.call(
        "nl-prosecutor",
        "TransferForEnforcement",
        pb.TransferForEnforcementRequest(id=order.id, expected_version=order.version, note="no confirmation"),
    ).order
    assert (t.state, t.enforcing_jurisdiction, t.version) == (S.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT, "IE", 3)
    assert t.enforcement_requested_at.ToDatetime(tzinfo=UTC) == clock.now()
    transferred = eventually(
        lambda: [e for e in _events(pnats.url, order.id) if e.type.endswith("EnforcementRequested")] or None
    )
    assert [e.aggregate_version for e in transferred] == [3] and "IE" in transferred[0].audience

    seen = _get(client, "ie-prosecutor", order.id)
    assert list(seen.allowed_actions) == ["recognise_enforcement", "refuse_enforcement"]
    assert list(_get(client, "ie-liaison", order.id).allowed_actions) == []
    listed = client.call("ie-prosecutor", "ListOrders", pb.ListOrdersRequest()).orders
    assert order.id in {o.id for o in listed}
    for outsider in ("de-prosecutor", "fr-prosecutor"):
        assert client.code_of(outsider, "GetOrder", pb.GetOrderRequest(id=order.id)) == grpc.StatusCode.NOT_FOUND
        assert (
            client.code_of(outsider, "RecogniseEnforcement", pb.RecogniseEnforcementRequest(id=order.id))
            == grpc.StatusCode.NOT_FOUND
        )
    assert (
        client.code_of("ie-liaison", "RecogniseEnforcement", pb.RecogniseEnforcementRequest(id=order.id))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert (
        client.code_of("nl-prosecutor", "RecogniseEnforcement", pb.RecogniseEnforcementRequest(id=order.id))
        == grpc.StatusCode.PERMISSION_DENIED
    )

    r = client.call("ie-prosecutor", "RecogniseEnforcement", pb.RecogniseEnforcementRequest(id=order.id)).order
    assert r.state == S.PRESERVATION_ORDER_STATE_ISSUED and r.HasField("enforcement_decided_at")
    err = _error(client, "nl-prosecutor", "TransferForEnforcement", pb.TransferForEnforcementRequest(id=order.id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(err) == "ENFORCEMENT_ALREADY_RECOGNISED"
    # The provider preserves under the recognised order: its confirmation is recorded as before.
    c = client.call("nl-liaison", "ConfirmOrder", pb.ConfirmOrderRequest(id=order.id)).order
    assert c.state == S.PRESERVATION_ORDER_STATE_CONFIRMED


def test_a_refusal_needs_a_ground_of_the_closed_list_and_ends_the_order(client: Client) -> None:
    """EPOC_ENFORCEMENT_REFUSAL_GROUNDS, EPOC_PR_ENFORCEMENT_RECOGNISED: an order recorded not executed is
    transferred at once; a refusal without a ground is INVALID_ARGUMENT naming ground, nothing written; with one
    the order is NOT_ENFORCED, its ground shown, and nobody may act on it but its notice; another basis is
    EPOC_PR_ONLY."""
    order = _issued(client)
    order = client.call(
        "nl-liaison",
        "RecordNotExecuted",
        pb.RecordNotExecutedRequest(id=order.id, reason=pb.NOT_EXECUTED_REASON_OTHER, details="refused to act"),
    ).order
    t = client.call("nl-prosecutor", "TransferForEnforcement", pb.TransferForEnforcementRequest(id=order.id)).order
    assert t.state == S.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT
    err = _error(client, "ie-prosecutor", "RefuseEnforcement", pb.RefuseEnforcementRequest(id=order.id))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and list(field_violations(err)) == ["ground"]
    assert _get(client, "ie-prosecutor", order.id).version == t.version
    refused = client.call(
        "ie-prosecutor",
        "RefuseEnforcement",
        pb.RefuseEnforcementRequest(
            id=order.id, ground=pb.ENFORCEMENT_REFUSAL_GROUND_DATA_NOT_STORED, detail="nothing stored at receipt"
        ),
    ).order
    assert refused.state == S.PRESERVATION_ORDER_STATE_NOT_ENFORCED
    assert refused.enforcement_refusal_ground == pb.ENFORCEMENT_REFUSAL_GROUND_DATA_NOT_STORED
    assert list(_get(client, "nl-prosecutor", order.id).allowed_actions) == ["update_user_notice"]
    assert list(_get(client, "ie-prosecutor", order.id).allowed_actions) == []

    national = client.create("nl-prosecutor", legal_basis=pb.LEGAL_BASIS_NATIONAL)
    client.call("nl-prosecutor", "IssueOrder", pb.IssueOrderRequest(id=national.id))
    err = _error(client, "nl-prosecutor", "TransferForEnforcement", pb.TransferForEnforcementRequest(id=national.id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "EPOC_PR_ONLY"


def _enforcement_warnings(url: str, order_id: str) -> list[pb.ExpiryWarning]:
    out = []
    for env in _events(url, order_id):
        w = pb.ExpiryWarning()
        if env.type.endswith("ExpiryWarning") and env.state.Unpack(w) and w.kind in _ENFORCEMENT_KINDS:
            out.append((w, list(env.audience)))
    return out


_ENFORCEMENT_KINDS = {pb.WARNING_KIND_ENFORCEMENT_DECISION_DUE, pb.WARNING_KIND_ENFORCEMENT_DECISION_PASSED}


def test_the_enforcing_states_five_working_days_are_warned_once_each(
    client: Client, clocked: tuple[RunningService, ManualClock], pnats: Any
) -> None:
    """EPOC_PR_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS: 48 h and 8 h before the end of the enforcing state's
    5 working days (counted as the evidence service counts them) and when they passed, one warning each, to IE's
    node too, never first; scanning again sends none."""
    svc, clock = clocked
    order = _issued(client)
    order = client.call(
        "nl-liaison",
        "RecordNotExecuted",
        pb.RecordNotExecutedRequest(id=order.id, reason=pb.NOT_EXECUTED_REASON_OTHER),
    ).order
    t = client.call("nl-prosecutor", "TransferForEnforcement", pb.TransferForEnforcementRequest(id=order.id)).order
    due = enforcement_decision_due(t.enforcement_requested_at.ToDatetime(tzinfo=UTC), "IE")
    for at in (due - 48 * HOUR, due - 8 * HOUR, due, due + HOUR):
        clock.advance(at - clock.now())
        scan_now(svc)
        scan_now(svc)
    got = eventually(lambda: (lambda w: w if len(w) >= 3 else None)(_enforcement_warnings(pnats.url, order.id)))
    assert [(w.kind, w.offset_seconds, w.first) for w, _ in got] == [
        (pb.WARNING_KIND_ENFORCEMENT_DECISION_DUE, 48 * 3600, False),
        (pb.WARNING_KIND_ENFORCEMENT_DECISION_DUE, 8 * 3600, False),
        (pb.WARNING_KIND_ENFORCEMENT_DECISION_PASSED, 0, False),
    ]
    assert all(w.expires_at.ToDatetime(tzinfo=UTC) == due and "IE" in audience for w, audience in got)
    assert "5 working days" in got[-1][0].reason


def _when(client: Client, order_id: str, state: int) -> pb.PreservationOrder:
    return eventually(lambda: (lambda o: o if o.state == state else None)(_get(client, "nl-prosecutor", order_id)))


def _request_event(url: str, order_id: str, request_id: str, state: int, version: int) -> None:
    """The order's production request (an MLA to IE, where its provider is established) as the evidence service
    publishes it, on the stream the preservation service consumes."""
    env = evidence_event(order_id, state, request_id=request_id, version=version)
    event = epb.EvidenceRequestState.Name(state).removeprefix("EVIDENCE_REQUEST_STATE_").lower()
    publish(url, stream_for("evidence"), f"jit.evidence.NL.{event}", env.SerializeToString(), env.id)


def test_a_production_request_while_in_enforcement_stops_the_clock_and_a_failed_one_brings_it_back(
    client: Client, clocked: tuple[RunningService, ManualClock], pnats: Any
) -> None:
    """EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION: a linked production request issued while the order is
    IN_ENFORCEMENT moves it to PRODUCTION_REQUESTED (its clock stops, the time left kept) and the issuer may
    record one there too; the enforcing state's 48 h warning comes while production is requested, and IE may
    still decide; the request refused, the order is IN_ENFORCEMENT again with the time left from then, and the
    8 h warning follows, each once; IE then recognises it."""
    svc, clock = clocked
    order = _issued(client)
    client.call(
        "nl-liaison", "RecordNotExecuted", pb.RecordNotExecutedRequest(id=order.id, reason=pb.NOT_EXECUTED_REASON_OTHER)
    )
    t = client.call("nl-prosecutor", "TransferForEnforcement", pb.TransferForEnforcementRequest(id=order.id)).order
    assert "request_production" in t.allowed_actions
    due = enforcement_decision_due(t.enforcement_requested_at.ToDatetime(tzinfo=UTC), "IE")

    request_id = new_id()
    _request_event(pnats.url, order.id, request_id, epb.EVIDENCE_REQUEST_STATE_ISSUED, 2)
    asked = _when(client, order.id, S.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED)
    assert asked.follow_up_request_id == request_id and not asked.HasField("expires_at")
    left = timedelta(seconds=asked.clock_remaining_seconds)
    assert left == t.expires_at.ToDatetime(tzinfo=UTC) - clock.now()
    assert list(_get(client, "ie-prosecutor", order.id).allowed_actions) == [
        "recognise_enforcement",
        "refuse_enforcement",
    ]

    clock.advance(due - 48 * HOUR - clock.now())
    scan_now(svc)
    scan_now(svc)
    (early,) = eventually(lambda: _enforcement_warnings(pnats.url, order.id) or None)
    assert (
        early[0].offset_seconds == 48 * 3600 and early[0].order.state == S.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED
    )
    _request_event(pnats.url, order.id, request_id, epb.EVIDENCE_REQUEST_STATE_REFUSED, 3)
    back = _when(client, order.id, S.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT)
    assert back.expires_at.ToDatetime(tzinfo=UTC) == clock.now() + left and not back.HasField("enforcement_decided_at")

    clock.advance(due - 8 * HOUR - clock.now())
    scan_now(svc)
    scan_now(svc)
    got = eventually(lambda: (lambda w: w if len(w) >= 2 else None)(_enforcement_warnings(pnats.url, order.id)))
    assert [(w.kind, w.offset_seconds) for w, _ in got] == [
        (pb.WARNING_KIND_ENFORCEMENT_DECISION_DUE, 48 * 3600),
        (pb.WARNING_KIND_ENFORCEMENT_DECISION_DUE, 8 * 3600),
    ]
    r = client.call("ie-prosecutor", "RecogniseEnforcement", pb.RecogniseEnforcementRequest(id=order.id)).order
    assert r.state == S.PRESERVATION_ORDER_STATE_ISSUED


def test_an_enforcing_state_outside_the_workspace_reads_lists_and_recognises_the_order_from_the_transfer_on(
    client: Client, pnats: Any
) -> None:
    """EPOC_PR_ENFORCING_STATE_SEES_THE_ORDER for a state that is no member of the JIT (FR, a member of no
    workspace, where the provider's legal representative is, say): NOT_FOUND to FR's prosecutor and no event in
    FR's audience before the transfer; from it on FR reads the order, its own list shows it (the READ rule's
    ``addressed_to``) and its node is in the audience of the order's events; its prosecutor recognises it. IE,
    a member of the workspace and the provider's establishment, still finds nothing: it is not the enforcing
    state."""
    order = _issued(client)
    order = client.call(
        "nl-liaison", "RecordNotExecuted", pb.RecordNotExecutedRequest(id=order.id, reason=pb.NOT_EXECUTED_REASON_OTHER)
    ).order
    assert client.code_of("fr-prosecutor", "GetOrder", pb.GetOrderRequest(id=order.id)) == grpc.StatusCode.NOT_FOUND
    assert order.id not in {o.id for o in client.call("fr-prosecutor", "ListOrders", pb.ListOrdersRequest()).orders}
    before = eventually(lambda: _events(pnats.url, order.id) or None)
    assert all("FR" not in e.audience for e in before)

    t = client.call(
        "nl-prosecutor",
        "TransferForEnforcement",
        pb.TransferForEnforcementRequest(id=order.id, enforcing_jurisdiction="FR", note="its representative is in FR"),
    ).order
    assert (t.state, t.enforcing_jurisdiction) == (S.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT, "FR")
    transferred = eventually(
        lambda: [e for e in _events(pnats.url, order.id) if e.type.endswith("EnforcementRequested")] or None
    )
    assert "FR" in transferred[0].audience and "IE" not in transferred[0].audience

    seen = _get(client, "fr-prosecutor", order.id)
    assert seen.enforcing_jurisdiction == "FR"
    assert list(seen.allowed_actions) == ["recognise_enforcement", "refuse_enforcement"]
    listed = client.call("fr-prosecutor", "ListOrders", pb.ListOrdersRequest()).orders
    assert [o.id for o in listed if o.id == order.id] == [order.id]
    for other in ("ie-prosecutor", "de-prosecutor"):
        assert client.code_of(other, "GetOrder", pb.GetOrderRequest(id=order.id)) == grpc.StatusCode.NOT_FOUND

    r = client.call(
        "fr-prosecutor", "RecogniseEnforcement", pb.RecogniseEnforcementRequest(id=order.id, expected_version=t.version)
    ).order
    assert r.state == S.PRESERVATION_ORDER_STATE_ISSUED and r.HasField("enforcement_decided_at")
    recognised = eventually(
        lambda: [e for e in _events(pnats.url, order.id) if e.type.endswith("EnforcementRecognised")] or None
    )
    assert "FR" in recognised[0].audience
