"""A retried change of an evidence request answers as its first call did (``jitlib.changes``), on real servers,
SQLite and PostgreSQL: the same request with the same ``expected_version`` is answered with the request as it
is now, no second event; another user's identical request, a changed body, or a request changed in between are
ABORTED VERSION_MISMATCH as before. A delay notice sent with ``expected_version`` 0 and retried is notified
once, not twice (its second run was a second notice, a second event and a version more). A retry sent while
its first call is still in flight, whose write loses the race to it, is answered the same
(``RecordPath.check_race``)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from jit.evidence.v1 import evidence_pb2 as pb
from services.evidence.store import RUNTIME
from tests import harness
from tests.harness import RunningService, error_reason
from tests.integration.evidence.conftest import DAY, Client, ts

pytestmark = pytest.mark.integration


def events(svc: RunningService) -> int:
    """The events the service wrote (its outbox rows)."""
    count = select(func.count()).select_from(RUNTIME.outbox)
    return int(svc.loop.run(svc.rt.read(lambda s: s.scalar(count))))


def aborted(client: Client, user: str, method: str, request: Any) -> str:
    err = client.error(user, method, request)
    assert err.code() == grpc.StatusCode.ABORTED
    return error_reason(err)


def same(a: pb.EvidenceRequest, b: pb.EvidenceRequest) -> bool:
    return (a.id, a.version, a.state, a.updated_at, a.delay) == (b.id, b.version, b.state, b.updated_at, b.delay)


def test_a_retried_transition_answers_the_request_as_its_first_call_did_and_writes_nothing(
    client: Client, evidence_svc: RunningService
) -> None:
    r = client.create()
    issue = pb.IssueRequestRequest(id=r.id, expected_version=r.version)
    first = client.call("nl-prosecutor", "IssueRequest", issue).request
    assert first.version == r.version + 1 and first.state == pb.EVIDENCE_REQUEST_STATE_ISSUED
    before = events(evidence_svc)
    assert same(client.call("nl-prosecutor", "IssueRequest", issue).request, first)
    assert events(evidence_svc) == before
    # Another member of the addressed side acknowledging from the same version: its own change, refused.
    ack = pb.AcknowledgeRequestRequest(id=r.id, expected_version=first.version)
    acked = client.call("de-liaison", "AcknowledgeRequest", ack).request
    assert aborted(client, "de-prosecutor", "AcknowledgeRequest", ack) == "VERSION_MISMATCH"
    assert same(client.call("de-liaison", "AcknowledgeRequest", ack).request, acked)
    # The issue retried once the request moved on: ABORTED as before.
    assert aborted(client, "nl-prosecutor", "IssueRequest", issue) == "VERSION_MISMATCH"


def test_a_retry_with_another_body_is_aborted(client: Client) -> None:
    r = client.executing()
    partial = pb.RecordPartialExecutionRequest(id=r.id, expected_version=r.version, note="subscriber data sent")
    client.call("de-prosecutor", "RecordPartialExecution", partial)
    other = pb.RecordPartialExecutionRequest(id=r.id, expected_version=r.version, note="the IP logs sent")
    assert aborted(client, "de-prosecutor", "RecordPartialExecution", other) == "VERSION_MISMATCH"


def test_a_delay_notice_at_version_0_retried_is_notified_once(client: Client, evidence_svc: RunningService) -> None:
    r = client.executing()
    expected = evidence_svc.app.clock.now() + 120 * DAY
    notify = pb.NotifyDelayRequest(id=r.id, reason="the server is held abroad", expected_at=ts(expected))
    first = client.call("de-prosecutor", "NotifyDelay", notify).request
    before = events(evidence_svc)
    again = client.call("de-prosecutor", "NotifyDelay", notify).request
    assert same(again, first) and again.version == r.version + 1
    assert events(evidence_svc) == before
    # Another user's identical notice at 0 is a notice of its own, as before.
    other = client.call("de-liaison", "NotifyDelay", notify).request
    assert other.version == first.version + 1 and other.delay.notified_by.username == "de-liaison"


ROUNDS = 6


def at_once(client: Client, user: str, method: str, request: Any) -> list[Any]:
    """The same call sent twice at once, without waiting for either answer: each answer's request, or the error."""
    return harness.at_once(client.stub, client.tokens, [(user, method, request)] * 2, "request")


def test_an_issue_sent_twice_at_once_is_made_once_and_both_are_answered_with_it(
    client: Client, evidence_svc: RunningService
) -> None:
    for _ in range(ROUNDS):
        r = client.create()
        before = events(evidence_svc)
        issue = pb.IssueRequestRequest(id=r.id, expected_version=r.version)
        one, other = at_once(client, "nl-prosecutor", "IssueRequest", issue)
        assert isinstance(one, pb.EvidenceRequest) and isinstance(other, pb.EvidenceRequest), (one, other)
        assert same(one, other) and one.version == r.version + 1 and one.state == pb.EVIDENCE_REQUEST_STATE_ISSUED
        assert events(evidence_svc) == before + 1


def test_a_delay_notice_at_version_0_sent_twice_at_once_is_notified_once(
    client: Client, evidence_svc: RunningService
) -> None:
    expected = evidence_svc.app.clock.now() + 120 * DAY
    for _ in range(ROUNDS):
        r = client.executing()
        before = events(evidence_svc)
        notify = pb.NotifyDelayRequest(id=r.id, reason="the server is held abroad", expected_at=ts(expected))
        one, other = at_once(client, "de-prosecutor", "NotifyDelay", notify)
        assert isinstance(one, pb.EvidenceRequest) and isinstance(other, pb.EvidenceRequest), (one, other)
        assert same(one, other) and one.version == r.version + 1
        assert events(evidence_svc) == before + 1
