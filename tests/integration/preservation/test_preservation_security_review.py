"""Findings of the security review (issue 10) in the preservation service, end to end with real tokens,
NATS and a real database (each module runs on SQLite and on PostgreSQL): an evidence request of another
party never moves an order (the consumer's own check), and a closed workspace takes no user change while
the service's clock and its consumer go on. The closing test runs on a NATS of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as epb
from jit.preservation.v1 import preservation_pb2 as pb
from jitdev.nats import NatsInstance
from jitlib.bus import stream_for
from jitlib.clock import ManualClock
from jitlib.config import CommonSettings
from jitlib.ids import new_id
from services.preservation.app import PreservationSettings, spec
from services.preservation.store import RUNTIME, OrderRow
from tests.conftest import wait_for_workspace
from tests.harness import RunningService, close_workspace, error_reason, eventually, start_service
from tests.integration.preservation.conftest import DAY, WS, Client, evidence_event, publish, scan_now

pytestmark = pytest.mark.integration


def send(nats_url: str, env: Envelope) -> None:
    subject = f"jit.evidence.{env.origin_jurisdiction}.issued"
    publish(nats_url, stream_for("evidence"), subject, env.SerializeToString(), env.id)


def get(client: Client, order_id: str) -> pb.PreservationOrder:
    return client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order_id)).order


def dead_letters(svc: RunningService, event_ids: set[str]) -> set[str]:
    t = RUNTIME.dead_letters
    rows = svc.loop.run(svc.rt.read(lambda s: list(s.scalars(select(t.c.event_id).where(t.c.event_id.in_(event_ids))))))
    return set(rows)


def test_an_evidence_request_of_another_party_never_moves_the_order(
    preservation_svc: RunningService, tokens: Any, pnats: Any
) -> None:
    """Finding #1 (High), the consumer's check: a DE request linked to an NL order moved it to
    PRODUCTION_REQUESTED (its warnings stopped, NL could no longer extend it) and on to PRODUCED. Only a
    request of the order's origin jurisdiction and workspace moves it; any other event is set aside as a
    dead letter and the order does not change."""
    client = Client(preservation_svc, tokens)
    order = client.confirmed(visibility=common_pb2.VISIBILITY_WORKSPACE)
    E = epb
    forged = [
        evidence_event(order.id, E.EVIDENCE_REQUEST_STATE_ISSUED, origin="DE"),
        evidence_event(order.id, E.EVIDENCE_REQUEST_STATE_EXECUTED, origin="DE"),
        # The request says NL, the envelope (and the subject) another origin.
        evidence_event(order.id, E.EVIDENCE_REQUEST_STATE_ISSUED, event_origin="DE"),
        # The order's workspace is another one than the request's.
        evidence_event(order.id, E.EVIDENCE_REQUEST_STATE_ISSUED, workspace="other-ws"),
        evidence_event(order.id, E.EVIDENCE_REQUEST_STATE_ISSUED, event_workspace="other-ws"),
    ]
    for env in forged:
        send(pnats.url, env)
    # The consumer takes events in order: once a later, legitimate event has moved another order, the
    # forged ones were handled.
    other = client.confirmed()
    send(pnats.url, evidence_event(other.id, E.EVIDENCE_REQUEST_STATE_ISSUED))
    eventually(lambda: get(client, other.id).state == pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED, timeout=30)

    after = get(client, order.id)
    assert after.state == pb.PRESERVATION_ORDER_STATE_CONFIRMED and after.version == order.version
    assert after.expires_at == order.expires_at and not after.follow_up_request_id
    assert dead_letters(preservation_svc, {e.id for e in forged}) == {e.id for e in forged}
    # NL may still extend its order: nothing took it out of its clock.
    extended = client.call("nl-liaison", "ExtendOrder", pb.ExtendOrderRequest(id=order.id)).order
    assert extended.state == pb.PRESERVATION_ORDER_STATE_EXTENDED


# -- finding 4: a closed workspace -------------------------------------------------------------------


@pytest.fixture(scope="module")
def closing(
    db_url: str,
    keycloak: Any,
    own_nats: NatsInstance,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[RunningService, ManualClock]]:
    """A preservation service of this module's own, on its own NATS and a new database on the module's
    backend, with a manual clock."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('pclosed') / 'p.db'}"
    else:
        url = str(request.getfixturevalue("postgres").create_database(f"pres_closed_{uuid.uuid4().hex[:10]}"))
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    common = CommonSettings(
        nats_url=own_nats.url, oidc_issuer=keycloak.issuer, state_dir=tmp_path_factory.mktemp("pstate-closing")
    )
    settings = PreservationSettings(
        listen="127.0.0.1:0",
        database_url=url,
        consumer_group=f"preservation-closed-{uuid.uuid4().hex[:8]}",
        scan_interval_seconds=3600,
    )
    svc = start_service(spec(settings), settings, common, clock=clock)
    wait_for_workspace(svc, WS)
    yield svc, clock
    svc.stop()


def written(svc: RunningService) -> tuple[Any, ...]:
    """Every order's state and version, and the outbox rows."""

    def q(s: Any) -> tuple[Any, ...]:
        orders = sorted(s.execute(select(OrderRow.id, OrderRow.state, OrderRow.version)).all())
        return tuple(orders), int(s.scalar(select(func.count()).select_from(RUNTIME.outbox)) or 0)

    return svc.loop.run(svc.rt.read(q))


def test_a_closed_workspace_refuses_every_user_change_but_the_clock_and_consumer_go_on(
    closing: tuple[RunningService, ManualClock], tokens: Any, own_nats: NatsInstance
) -> None:
    """Finding #4 (Medium): in a closed workspace, order transitions went on. Every user change is now
    FAILED_PRECONDITION WORKSPACE_CLOSED and writes nothing; the expiry clock still expires a running
    order, and the evidence consumer still moves a linked order (system paths)."""
    svc, clock = closing
    client = Client(svc, tokens)
    draft = client.create()
    confirmed = client.confirmed()
    expiring = client.confirmed()
    linked = client.confirmed()
    close_workspace(svc, own_nats.url)
    before = written(svc)

    def closed(method: str, request: Any) -> None:
        with pytest.raises(grpc.RpcError) as info:
            client.call("nl-liaison", method, request)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION, info.value
        assert error_reason(info.value) == "WORKSPACE_CLOSED", method

    closed("IssueOrder", pb.IssueOrderRequest(id=draft.id))
    closed("LiftOrder", pb.LiftOrderRequest(id=draft.id, reason="case closed"))
    closed("ConfirmOrder", pb.ConfirmOrderRequest(id=draft.id))
    closed("ExtendOrder", pb.ExtendOrderRequest(id=confirmed.id))
    closed("MarkProductionRequested", pb.MarkProductionRequestedRequest(id=confirmed.id, follow_up_request_id=new_id()))
    closed("MarkProduced", pb.MarkProducedRequest(id=confirmed.id))
    closed("RecordNotExecuted", pb.RecordNotExecutedRequest(id=confirmed.id, reason=pb.NOT_EXECUTED_REASON_OTHER))
    closed(
        "CreateOrder",
        pb.CreateOrderRequest(
            request_id=new_id(),
            workspace_id=WS,
            legal_basis=pb.LEGAL_BASIS_PROVIDER_VOLUNTARY,
            provider_id="socialnet-ie",
            targets=[pb.TargetIdentifier(kind=pb.TARGET_KIND_ACCOUNT_HANDLE, value="@harasser_x")],
            data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
        ),
    )
    assert written(svc) == before
    assert get(client, confirmed.id).state == pb.PRESERVATION_ORDER_STATE_CONFIRMED  # reading goes on
    # Neither a read nor a list offers an action the workspace would refuse.
    listed = client.call("nl-liaison", "ListOrders", pb.ListOrdersRequest(workspace_id=WS, page_size=100)).orders
    assert {o.id for o in listed} >= {draft.id, confirmed.id} and not any(o.allowed_actions for o in listed)
    assert not get(client, draft.id).allowed_actions

    # The evidence consumer reacts to another service: a linked production request still moves its order.
    send(own_nats.url, evidence_event(linked.id, epb.EVIDENCE_REQUEST_STATE_ISSUED))
    eventually(lambda: get(client, linked.id).state == pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED, timeout=30)

    # The service's clock: a running order still expires at its time (and is warned about before).
    clock.advance(91 * DAY)
    scan_now(svc)
    eventually(lambda: get(client, expiring.id).state == pb.PRESERVATION_ORDER_STATE_EXPIRED, timeout=30)
