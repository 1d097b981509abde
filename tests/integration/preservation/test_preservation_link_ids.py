"""The ids of linked records, through the real evidence and preservation services on one NATS (security
review: ids of records the reader may not see). Each module runs on SQLite and on PostgreSQL.

(a) An evidence request's events name its linked preservation order (``preservation_order_id``) for this
node's own consumers (the preservation service moves the order on them), but the copy of an event for a
peer's node names it only when that peer's country may read the order (``Envelope.field_audiences``, made per
recipient by the outbox: ``OutboxRelay._send_to_peers``, run here on the event as stored on the stream).

(b) A preservation order names its follow-up request (``follow_up_request_id``) to a caller only when the
policy lets them read that request (GetOrder, ListOrders), and its events to the nodes entitled to the
request only."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as epb
from jit.preservation.v1 import preservation_pb2 as pb
from jitlib.federation import Federation
from jitlib.outbox import OutboxRelay
from tests.harness import RunningService, error_reason, eventually, rid
from tests.integration.preservation.conftest import WS, Client, Launcher, stream_envelopes
from tests.integration.preservation.test_preservation_clocks import Evidence, _start_evidence

pytestmark = pytest.mark.integration

#: The demo register's providers: established in DE and in IE (where a production request is addressed).
DE_PROVIDER, IE_PROVIDER = "videohost-de", "socialnet-ie"


@pytest.fixture(scope="module")
def evidence_svc(
    launcher: Launcher, db_url: str, request: pytest.FixtureRequest, tmp_path_factory: Any
) -> Iterator[RunningService]:
    svc = _start_evidence(launcher, db_url, request, tmp_path_factory)
    yield svc
    svc.stop()


class _Peers:
    """Records what the outbox sends each peer (the bus of an ``OutboxRelay`` on NL's node)."""

    def __init__(self) -> None:
        self.sent: dict[str, Envelope] = {}

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str], *, timeout: float = 2.0) -> None:
        self.sent[subject.split(".")[2].upper()] = Envelope.FromString(payload)


def peer_copies(event: Envelope, peers: str = "DE,IE,FR") -> dict[str, Envelope]:
    """The copy of ``event`` (as NL's node stored it on its own stream) that NL's outbox sends each peer."""
    bus = _Peers()
    relay = OutboxRelay(None, None, bus, federation=Federation.parse("NL", peers))  # type: ignore[arg-type]
    payload = event.SerializeToString(deterministic=True)
    asyncio.run(relay._send_to_peers(event.id, "jit.x.NL.y", payload, {}, event))
    return bus.sent


def request_state(event: Envelope) -> epb.EvidenceRequest:
    state = epb.EvidenceRequest()
    assert event.state.Unpack(state)
    return state


def order_state(event: Envelope) -> pb.PreservationOrder:
    state = pb.PreservationOrder()
    assert event.state.Unpack(state)
    return state


def linked_request(
    evidence: Evidence, order_id: str, *, addressee: str, basis: int, visibility: int
) -> epb.EvidenceRequest:
    """NL's prosecutor's request to ``addressee`` for what ``order_id`` preserves, linked to it (once the
    evidence service has heard of the order from its events), then issued."""

    def create() -> epb.EvidenceRequest | None:
        req = epb.CreateRequestRequest(
            request_id=rid(),
            workspace_id=WS,
            legal_basis=basis,
            issuing_authority="Openbaar Ministerie, Arrondissementsparket Amsterdam",
            addressee_kind=epb.ADDRESSEE_KIND_MEMBER_STATE,
            addressee_jurisdiction=addressee,
            data_categories=[epb.DATA_CATEGORY_SUBSCRIBER],
            targets=[epb.TargetIdentifier(type=epb.TARGET_TYPE_ACCOUNT_HANDLE, value="@harasser_x")],
            offence_category=epb.OFFENCE_CATEGORY_CYBERSTALKING,
            urgency=epb.URGENCY_NORMAL,
            title="Subscriber data of @harasser_x",
            preservation_order_id=order_id,
            visibility=visibility,
        )
        try:
            return evidence.call("nl-prosecutor", "CreateRequest", req)
        except grpc.RpcError as exc:
            if error_reason(exc) != "PRESERVATION_ORDER_NOT_LINKABLE":
                raise
            return None  # the order's events have not reached the evidence service yet

    created = eventually(create, timeout=30)
    return evidence.call("nl-prosecutor", "IssueRequest", epb.IssueRequestRequest(id=created.id))


def production_requested(client: Client, order_id: str) -> pb.PreservationOrder:
    def get() -> pb.PreservationOrder | None:
        o = client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order_id)).order
        return o if o.state == pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED else None

    return eventually(get, timeout=30)


def request_event(url: str, request_id: str, suffix: str) -> Envelope:
    (event,) = [
        e
        for e in stream_envelopes(url, "JIT_EVIDENCE", "jit.evidence.NL.*")
        if e.aggregate_id == request_id and e.type.endswith(suffix)
    ]
    return event


# -- (a) an evidence request's events and its linked order -------------------------------------------------


def test_a_request_event_names_a_restricted_order_to_this_nodes_preservation_service_only(
    preservation_svc: RunningService, evidence_svc: RunningService, tokens: Any, pnats: Any
) -> None:
    """NL's prosecutor links a workspace-visible EIO to DE to NL's restricted order, and issues it: NL's own
    stream carries the link and NL's preservation service moves the order on it; the copies for the nodes of
    DE and IE (members: the request's audience, neither entitled to the order) name no order, and say nothing
    of who may read it (FR's node, not a member, gets nothing). The request itself reaches them whole."""
    client, evidence = Client(preservation_svc, tokens), Evidence(evidence_svc, tokens)
    order = client.confirmed(provider_id=DE_PROVIDER)  # restricted: NL's alone
    assert order.visibility != common_pb2.VISIBILITY_WORKSPACE
    issued = linked_request(
        evidence, order.id, addressee="DE", basis=epb.LEGAL_BASIS_EIO, visibility=common_pb2.VISIBILITY_WORKSPACE
    )
    moved = production_requested(client, order.id)  # the local consumer had the link
    assert moved.follow_up_request_id == issued.id

    for suffix in ("Created", "Issued"):
        event = request_event(pnats.url, issued.id, suffix)
        assert request_state(event).preservation_order_id == order.id  # this node's stream: whole
        assert {"DE", "IE"} <= set(event.audience)
        copies = peer_copies(event)
        assert sorted(copies) == ["DE", "IE"]
        for peer, copy in copies.items():
            state = request_state(copy)
            assert (state.id, state.title, state.version) == (issued.id, issued.title, request_state(event).version)
            assert not state.preservation_order_id, (peer, suffix)
            assert not copy.field_audiences and order.id.encode() not in copy.SerializeToString()
    # DE's own view of the request (answered by NL's node) names no order either.
    seen = evidence.call("de-liaison", "GetRequest", epb.GetRequestRequest(id=issued.id))
    assert not seen.preservation_order_id


def test_a_request_event_names_a_workspace_visible_order_to_every_member_node(
    preservation_svc: RunningService, evidence_svc: RunningService, tokens: Any, pnats: Any
) -> None:
    """The same with an order open to the workspace: every member's node may read it, and its replica of the
    request keeps the link."""
    client, evidence = Client(preservation_svc, tokens), Evidence(evidence_svc, tokens)
    order = client.confirmed(provider_id=DE_PROVIDER, visibility=common_pb2.VISIBILITY_WORKSPACE)
    issued = linked_request(
        evidence, order.id, addressee="DE", basis=epb.LEGAL_BASIS_EIO, visibility=common_pb2.VISIBILITY_WORKSPACE
    )
    production_requested(client, order.id)
    copies = peer_copies(request_event(pnats.url, issued.id, "Issued"))
    assert {peer: request_state(c).preservation_order_id for peer, c in copies.items()} == {
        "DE": order.id,
        "IE": order.id,
    }
    assert not any(c.field_audiences for c in copies.values())


# -- (b) an order's follow-up request --------------------------------------------------------------------


def test_an_orders_follow_up_request_is_named_only_to_those_who_may_read_the_request(
    preservation_svc: RunningService, evidence_svc: RunningService, tokens: Any, pnats: Any
) -> None:
    """An NL order open to the workspace, and a restricted MLA request NL -> IE linked to it: NL and IE read
    the request, DE may not (NOT_FOUND). GetOrder and ListOrders name the follow-up request to NL's and IE's
    users, not to DE's (who still read the order, in PRODUCTION_REQUESTED); the order's event names it to
    NL's own consumers and in the copy for IE's node, not in the copy for DE's."""
    client, evidence = Client(preservation_svc, tokens), Evidence(evidence_svc, tokens)
    order = client.confirmed(provider_id=IE_PROVIDER, visibility=common_pb2.VISIBILITY_WORKSPACE)
    issued = linked_request(
        evidence, order.id, addressee="IE", basis=epb.LEGAL_BASIS_MLA, visibility=common_pb2.VISIBILITY_RESTRICTED
    )
    production_requested(client, order.id)
    with pytest.raises(grpc.RpcError) as info:
        evidence.call("de-liaison", "GetRequest", epb.GetRequestRequest(id=issued.id))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND

    expected = {"nl-liaison": issued.id, "nl-prosecutor": issued.id, "ie-liaison": issued.id, "de-liaison": ""}
    for user, follow_up in expected.items():
        got = client.call(user, "GetOrder", pb.GetOrderRequest(id=order.id)).order
        assert got.state == pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED
        assert got.follow_up_request_id == follow_up, user
        listed = client.call(user, "ListOrders", pb.ListOrdersRequest(workspace_id=WS, page_size=200)).orders
        (mine,) = [o for o in listed if o.id == order.id]
        assert mine.follow_up_request_id == follow_up, user
        assert mine == got, user  # the list's answer is GetOrder's, byte for byte where it matters
    assert (
        issued.id.encode()
        not in client.call("de-liaison", "GetOrder", pb.GetOrderRequest(id=order.id)).SerializeToString()
    )

    (event,) = [
        e
        for e in stream_envelopes(pnats.url, "JIT_PRESERVATION", "jit.preservation.NL.*")
        if e.aggregate_id == order.id and e.type.endswith("ProductionRequested")
    ]
    assert order_state(event).follow_up_request_id == issued.id  # this node's evidence service links back
    copies = peer_copies(event)
    assert {peer: order_state(c).follow_up_request_id for peer, c in copies.items()} == {"DE": "", "IE": issued.id}
    assert issued.id.encode() not in copies["DE"].SerializeToString()
