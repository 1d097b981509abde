"""A retried change of a preservation order answers as its first call did (``jitlib.changes``), on real
servers, SQLite and PostgreSQL: the same request with the same ``expected_version`` is answered with the order
as it is now, no second event; another user's identical request, a changed body, or an order changed in
between are ABORTED VERSION_MISMATCH as before."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from jit.preservation.v1 import preservation_pb2 as pb
from services.preservation.store import RUNTIME
from tests.harness import RunningService, error_reason
from tests.integration.preservation.conftest import Client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(preservation_svc: RunningService, tokens: Any) -> Client:
    return Client(preservation_svc, tokens)


def events(svc: RunningService) -> int:
    """The events the service wrote (its outbox rows)."""
    count = select(func.count()).select_from(RUNTIME.outbox)
    return int(svc.loop.run(svc.rt.read(lambda s: s.scalar(count))))


def aborted(client: Client, user: str, method: str, request: Any) -> str:
    with pytest.raises(grpc.RpcError) as info:
        client.call(user, method, request)
    assert info.value.code() == grpc.StatusCode.ABORTED
    return error_reason(info.value)


def same(a: pb.PreservationOrder, b: pb.PreservationOrder) -> bool:
    return (a.id, a.version, a.state, a.updated_at) == (b.id, b.version, b.state, b.updated_at)


def test_a_retried_order_change_answers_as_its_first_call_did_and_others_are_aborted(
    client: Client, preservation_svc: RunningService
) -> None:
    order = client.create()
    issue = pb.IssueOrderRequest(id=order.id, expected_version=order.version)
    issued = client.call("nl-liaison", "IssueOrder", issue).order
    before = events(preservation_svc)
    assert same(client.call("nl-liaison", "IssueOrder", issue).order, issued)
    assert events(preservation_svc) == before
    # The NL prosecutor may issue it too, but did not make this change.
    assert aborted(client, "nl-prosecutor", "IssueOrder", issue) == "VERSION_MISMATCH"

    confirm = pb.ConfirmOrderRequest(id=order.id, expected_version=issued.version, provider_reference="SN-1")
    confirmed = client.call("nl-liaison", "ConfirmOrder", confirm).order
    assert same(client.call("nl-liaison", "ConfirmOrder", confirm).order, confirmed)
    other = pb.ConfirmOrderRequest(id=order.id, expected_version=issued.version, provider_reference="SN-2")
    assert aborted(client, "nl-liaison", "ConfirmOrder", other) == "VERSION_MISMATCH"
    # The issue retried once the order moved on: ABORTED as before.
    assert aborted(client, "nl-liaison", "IssueOrder", issue) == "VERSION_MISMATCH"
